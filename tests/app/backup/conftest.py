"""Fixtures of the backup tests: a throwaway PostgreSQL cluster, a moto S3 server, a bucket, and
the job's environment. Tests that use the cluster are marked `postgres`; they fail, not skip,
when the server binaries are missing (scripts/install-system-deps installs them)."""

import json
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from psycopg import sql

from app.backup.cli import main

REPOSITORY = Path(__file__).resolve().parents[3]


@pytest.fixture
def isolated_env(no_machine_aws):
    """No AWS settings of this machine, and none of the job's own variables, leak into a test."""
    for name in (
        "DATABASE_URL",
        "SCRATCH_DATABASE_URL",
        "BACKUP_BUCKET",
        "BACKUP_PREFIX",
        "BACKUP_KMS_KEY_ID",
    ):
        no_machine_aws.delenv(name, raising=False)
    return no_machine_aws


@pytest.fixture
def s3(isolated_env, moto_endpoint):
    """Credentials and endpoint of the moto server, in the environment and as a client."""
    isolated_env.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    isolated_env.setenv("AWS_ACCESS_KEY_ID", "testing")
    isolated_env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return boto3.session.Session().client("s3")


@pytest.fixture
def bucket(s3, isolated_env):
    name = f"miko-backups-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    isolated_env.setenv("BACKUP_BUCKET", name)
    isolated_env.setenv("BACKUP_PREFIX", "postgres")
    return name


@dataclass
class Database:
    name: str
    url: str

    def connect(self):
        return psycopg.connect(self.url, autocommit=True)


def _create_database(cluster):
    name = f"app_{secrets.token_hex(4)}"
    with psycopg.connect(cluster.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return Database(name, cluster.url(name))


def _drop_database(cluster, database):
    with psycopg.connect(cluster.url(), autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database.name))
        )


@pytest.fixture
def new_database(pg_cluster):
    """Makes empty databases on the cluster; drops them after the test."""
    made = []

    def make():
        made.append(_create_database(pg_cluster))
        return made[-1]

    yield make
    for database in made:
        _drop_database(pg_cluster, database)


@pytest.fixture
def source_db(new_database, pg_cluster, isolated_env):
    """An empty source database; DATABASE_URL and SCRATCH_DATABASE_URL point at the cluster."""
    database = new_database()
    isolated_env.setenv("DATABASE_URL", database.url)
    isolated_env.setenv("SCRATCH_DATABASE_URL", pg_cluster.url())
    return database


@dataclass
class CliRun:
    exit_code: int
    result: dict[str, Any]
    stdout: str
    stderr: str


@pytest.fixture
def run_backup(capsys):
    """Runs `main(argv)` in this process; returns exit code, the parsed JSON line and output."""

    def run(*argv):
        code = main(list(argv))
        out, err = capsys.readouterr()
        lines = out.splitlines()
        assert len(lines) == 1, f"expected one line of JSON, got {out!r}"
        return CliRun(code, json.loads(lines[0]), out, err)

    return run


@pytest.fixture
def spawn_backup():
    """Starts `python -m app backup ...` as a child process with the current environment."""

    def spawn(*argv):
        return subprocess.Popen(
            [sys.executable, "-m", "app", "backup", *argv],
            cwd=REPOSITORY,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    return spawn


@pytest.fixture
def run_backup_process(spawn_backup):
    """Runs the CLI as a child process to the end; returns what `run_backup` returns."""

    def run(*argv):
        child = spawn_backup(*argv)
        stdout, stderr = child.communicate(timeout=120)
        lines = stdout.splitlines()
        assert len(lines) == 1, f"expected one line of JSON: {stdout!r} {stderr!r}"
        return CliRun(child.returncode, json.loads(lines[0]), stdout, stderr)

    return run


@dataclass
class BackupJob:
    """The job's environment for one test: source database, bucket, and an S3 client to inspect."""

    source: Database
    bucket: str
    s3: Any
    env: pytest.MonkeyPatch

    def read(self, key):
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def write(self, key, body):
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def manifest(self, key):
        return json.loads(self.read(key + ".manifest.json"))

    def leftovers(self):
        """Object keys and open multipart uploads: both empty after a failed dump."""
        listed = self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        uploads = self.s3.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])
        return [item["Key"] for item in listed], [item["Key"] for item in uploads]


@pytest.fixture
def job(source_db, bucket, s3, isolated_env):
    return BackupJob(source_db, bucket, s3, isolated_env)
