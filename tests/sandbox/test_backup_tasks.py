"""The scheduled backup jobs' containers of the rendered staging stack, run as ECS on Fargate
runs them (tests/sandbox/task_sandbox.py), against the real PostgreSQL and moto's S3 and KMS.

Source of truth: the rendered task definitions, app/Dockerfile, Fargate's documented volume
behaviour, and the container credential provider's documented endpoint contract.
"""

import json
import secrets

import boto3
import psycopg
import pytest
from psycopg import sql

from app.contract import Env, SecretEnv
from tests.sandbox.conftest import credentials_uri

pytestmark = pytest.mark.postgres

DUMP_TASK = "backups-jobs-dump"
VERIFY_TASK = "backups-jobs-verify"
REGION = "us-west-2"


@pytest.fixture
def source_database(pg_cluster):
    name = f"clinic_{secrets.token_hex(4)}"
    with psycopg.connect(pg_cluster.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(pg_cluster.url(name), autocommit=True) as connection:
        connection.execute("CREATE TABLE appointments (id serial PRIMARY KEY, note text)")
        connection.execute(
            "INSERT INTO appointments (note) SELECT 'visit ' || g FROM generate_series(1, 50) g"
        )
    yield pg_cluster.url(name)
    with psycopg.connect(pg_cluster.url(), autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def account(moto_endpoint, no_machine_aws):
    """The dump bucket and its key, in moto: what the rendered BACKUP_BUCKET and
    BACKUP_KMS_KEY_ID name in the real account."""
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # pragma: allowlist secret - moto's test value
        region_name=REGION,
    )
    s3 = session.client("s3", endpoint_url=moto_endpoint)
    kms = session.client("kms", endpoint_url=moto_endpoint)
    bucket = f"miko-staging-backups-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    key_arn = kms.create_key(Description="dump key")["KeyMetadata"]["Arn"]
    return {"s3": s3, "bucket": bucket, "key_arn": key_arn, "endpoint": moto_endpoint}


@pytest.fixture
def job_sandbox(sandbox_for, account, source_database, pg_cluster, task_role_endpoint):
    def make(task_name, **options):
        return sandbox_for(
            task_name,
            secret_values={
                SecretEnv.DATABASE_URL: source_database,
                SecretEnv.SCRATCH_DATABASE_URL: pg_cluster.url(),
            },
            ecs_injected={
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": credentials_uri(task_role_endpoint)
            },
            overrides={
                # The rendered values name the stack's real bucket and key; these are moto's.
                Env.BACKUP_BUCKET: account["bucket"],
                Env.BACKUP_KMS_KEY_ID: account["key_arn"],
                # Not on Fargate: boto3 there reaches the regional endpoints.
                "AWS_ENDPOINT_URL": account["endpoint"],
            },
            **options,
        )

    return make


def _result(completed) -> dict[str, object]:
    """The job's one JSON result line (its last line on stdout)."""
    lines = completed.stdout.splitlines()
    assert lines, completed.stderr[-3000:]
    result: dict[str, object] = json.loads(lines[-1])
    return result


def test_dump_then_verify_succeed_as_scheduled(job_sandbox, account, task_role_endpoint):
    dumped = job_sandbox(DUMP_TASK).run(timeout=120)
    dump = _result(dumped)
    verified = job_sandbox(VERIFY_TASK).run(timeout=120)
    verify = _result(verified)

    assert dumped.returncode == 0, dumped.stderr[-3000:]
    assert dump["ok"] is True, dump
    stored = account["s3"].head_object(Bucket=account["bucket"], Key=dump["key"])
    assert stored["ServerSideEncryption"] == "aws:kms"
    assert verified.returncode == 0, verified.stderr[-3000:]
    assert verify["ok"] is True, verify
    assert verify["rows"] == 50
    # Credentials came from the task-role endpoint, as on Fargate: none are in the environment.
    assert task_role_endpoint.requests >= 2


def test_without_the_volume_declaration_the_dump_fails(job_sandbox, image):
    # The failure the issue found: Fargate's root-owned 0755 /tmp and uid 10001.
    dumped = job_sandbox(DUMP_TASK, image_model=image.without_volumes()).run(timeout=120)

    assert dumped.returncode != 0
    assert "No usable temporary directory" in dumped.stdout + dumped.stderr


def test_job_environment_comes_from_the_rendered_definition(job_sandbox, source_database):
    sandbox = job_sandbox(DUMP_TASK)
    environment = sandbox.environment()

    assert environment[Env.APP_ENV] == "staging"  # the stack's, over the image's `production`
    assert environment[SecretEnv.DATABASE_URL] == source_database
    assert sandbox.spec.command == ("python", "-m", "app", "backup", "dump")
