"""Each expected failure exits non-zero, names its cause, prints no traceback, and leaves nothing
half-written in the bucket."""

import hashlib
import json
import signal
import socket
import stat
import time

import pytest

from app.backup import storage
from app.backup.errors import BackupError

pytestmark = pytest.mark.postgres


def _assert_failed(run, cause, *words):
    assert run.exit_code == 1
    assert run.result["ok"] is False
    assert run.result["error"] == cause, run.result
    for word in words:
        assert word in run.result["message"], run.result["message"]
    assert "Traceback" not in run.stderr
    assert cause in run.stderr


def _closed_port_url(dbname):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql://miko_admin:x@127.0.0.1:{port}/{dbname}"


def _fake_tool(job, tmp_path, name, script):
    """Puts a shell script called `name` first on PATH."""
    directory = tmp_path / "bin"
    directory.mkdir(exist_ok=True)
    tool = directory / name
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    job.env.setenv("PATH", f"{directory}:/usr/bin:/bin")


@pytest.fixture
def dumped_key(job, run_backup):
    """A finished dump of a small table; returns its key."""
    with job.source.connect() as connection:
        connection.execute(
            "CREATE TABLE notes AS SELECT g AS id, 'note ' || g AS body "
            "FROM generate_series(1, 2000) g"
        )
    dumped = run_backup("dump")
    assert dumped.exit_code == 0, dumped.stderr
    return dumped.result["key"]


def test_corrupted_dump_is_a_checksum_mismatch(job, dumped_key, run_backup):
    body = bytearray(job.read(dumped_key))
    body[len(body) // 2] ^= 0xFF
    job.write(dumped_key, bytes(body))

    _assert_failed(run_backup("verify"), "checksum_mismatch", "checksum mismatch", dumped_key)
    with job.source.connect() as connection:
        scratch = connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'miko_verify_%'"
        ).fetchall()
    assert scratch == []  # the scratch database is dropped on failure too


def test_truncated_dump_is_named(job, dumped_key, run_backup):
    body = job.read(dumped_key)
    job.write(dumped_key, body[: len(body) // 2])

    _assert_failed(run_backup("verify", "--key", dumped_key), "truncated_dump", "truncated")


def test_dump_without_manifest_is_not_verified(job, dumped_key, run_backup):
    job.s3.delete_object(Bucket=job.bucket, Key=dumped_key + ".manifest.json")

    _assert_failed(run_backup("verify", "--key", dumped_key), "manifest_missing", "never finished")


def test_restored_content_differing_from_the_manifest_is_reported(job, dumped_key, run_backup):
    manifest = job.manifest(dumped_key)
    manifest["tables"][0]["checksum"] = "1"
    manifest["sequences"] = [{"schema": "public", "name": "gone_seq", "last_value": 5}]
    job.write(dumped_key + ".manifest.json", json.dumps(manifest).encode())

    _assert_failed(
        run_backup("verify"), "content_mismatch", "public.notes", "different content", "gone_seq"
    )


def test_against_live_reports_a_source_that_changed(job, dumped_key, run_backup):
    with job.source.connect() as connection:
        connection.execute("DELETE FROM notes WHERE id = 7")

    assert run_backup("verify").exit_code == 0
    _assert_failed(
        run_backup("verify", "--against-live"), "content_mismatch", "live source", "public.notes"
    )


def test_archive_that_pg_restore_rejects_is_a_restore_failure(job, dumped_key, run_backup):
    """Checksum and size agree with the manifest, but the bytes are no archive."""
    body = b"not a pg_dump archive\n" * 100
    manifest = job.manifest(dumped_key) | {
        "sha256": hashlib.sha256(body).hexdigest(),
        "bytes": len(body),
    }
    job.write(dumped_key, body)
    job.write(dumped_key + ".manifest.json", json.dumps(manifest).encode())

    _assert_failed(run_backup("verify"), "pg_restore_failed", "pg_restore exited")


def test_missing_bucket(job, run_backup):
    job.env.setenv("BACKUP_BUCKET", "miko-no-such-bucket")

    for command in ("dump", "verify", "list"):
        _assert_failed(run_backup(command), "bucket_missing", "miko-no-such-bucket")
    assert "miko-no-such-bucket" not in [b["Name"] for b in job.s3.list_buckets()["Buckets"]]


def test_missing_credentials(job, run_backup):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        job.env.delenv(name)

    for command in ("dump", "verify", "list"):
        _assert_failed(run_backup(command), "no_credentials", "no AWS credentials")
    assert job.leftovers() == ([], [])


def test_unreachable_source_database(job, run_backup):
    job.env.setenv("DATABASE_URL", _closed_port_url("app"))

    _assert_failed(run_backup("dump"), "database_unreachable", "DATABASE_URL", "127.0.0.1")
    assert job.leftovers() == ([], [])


def test_unreachable_scratch_database(job, dumped_key, run_backup):
    job.env.setenv("SCRATCH_DATABASE_URL", _closed_port_url("postgres"))

    _assert_failed(run_backup("verify"), "database_unreachable", "SCRATCH_DATABASE_URL")


def test_pg_dump_failing_midway_leaves_no_upload(job, tmp_path, run_backup):
    """20 MB of output (two parts already uploaded), then a non-zero exit: all of it is aborted."""
    _fake_tool(
        job,
        tmp_path,
        "pg_dump",
        "printf PGDMP; head -c 20000000 /dev/zero; echo 'pg_dump: error: connection lost' >&2\n"
        "exit 1\n",
    )

    _assert_failed(run_backup("dump"), "pg_dump_failed", "exited with 1", "connection lost")
    assert job.leftovers() == ([], [])


def test_pg_dump_output_that_is_no_archive_is_refused(job, tmp_path, run_backup):
    _fake_tool(job, tmp_path, "pg_dump", "echo 'SELECT 1;'\n")

    _assert_failed(run_backup("dump"), "pg_dump_failed", "not a custom-format archive")
    assert job.leftovers() == ([], [])


@pytest.mark.parametrize(("command", "tool"), [("dump", "pg_dump"), ("verify", "pg_restore")])
def test_missing_client_tools(job, tmp_path, run_backup, command, tool):
    job.env.setenv("PATH", str(tmp_path))

    _assert_failed(run_backup(command), f"{tool}_missing", f"{tool} not found")


def test_missing_configuration(job, run_backup):
    job.env.delenv("BACKUP_BUCKET")

    _assert_failed(run_backup("dump"), "config_missing", "BACKUP_BUCKET is not set")


def test_invalid_url_is_refused_without_echoing_it(job, run_backup):
    invalid = "postgresql://u:hunter2-secret@db/app?no_such_option=1"  # pragma: allowlist secret
    job.env.setenv("DATABASE_URL", invalid)

    run = run_backup("dump")

    _assert_failed(run, "config_invalid", "DATABASE_URL is not a valid")
    assert "hunter2-secret" not in run.stdout + run.stderr


def test_expected_failure_in_a_child_process_prints_no_traceback(job, run_backup_process):
    job.env.setenv("DATABASE_URL", _closed_port_url("app"))

    _assert_failed(run_backup_process("dump"), "database_unreachable", "DATABASE_URL")
    assert job.leftovers() == ([], [])


def test_stopped_task_aborts_its_upload(job, tmp_path, spawn_backup):
    """SIGTERM (ECS stopping the task) mid-dump: the parts already uploaded are aborted."""
    _fake_tool(job, tmp_path, "pg_dump", "printf PGDMP; head -c 9000000 /dev/zero; exec sleep 60\n")
    child = spawn_backup("dump")
    deadline = time.monotonic() + 30
    while not _first_part_uploaded(job) and time.monotonic() < deadline:
        time.sleep(0.1)
    child.send_signal(signal.SIGTERM)
    stdout, stderr = child.communicate(timeout=30)

    assert child.returncode == 1
    assert json.loads(stdout)["error"] == "interrupted"
    assert "Traceback" not in stderr
    assert job.leftovers() == ([], [])


def _first_part_uploaded(job):
    uploads = job.s3.list_multipart_uploads(Bucket=job.bucket).get("Uploads", [])
    return any(
        job.s3.list_parts(Bucket=job.bucket, Key=up["Key"], UploadId=up["UploadId"]).get("Parts")
        for up in uploads
    )


def test_manifest_that_cannot_be_written_takes_the_dump_with_it(job, monkeypatch, run_backup):
    def refuse(*args):
        raise BackupError("access_denied", "access denied: cannot write the manifest")

    monkeypatch.setattr(storage, "write_manifest", refuse)

    _assert_failed(run_backup("dump"), "access_denied", "manifest")
    assert job.leftovers() == ([], [])
