"""`backup verify`: stream a dump through SHA-256 into pg_restore on a scratch database, then
compare the restored tables and sequences with the manifest taken from the source at dump time
(and, with --against-live, with the source database as it is now)."""

from __future__ import annotations

import hashlib
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from psycopg import sql

from app.backup import storage
from app.backup.checksums import DatabaseFingerprint, differences, fingerprint
from app.backup.config import BackupJobSettings
from app.backup.dump import DUMP_MAGIC
from app.backup.errors import BackupError
from app.backup.listing import latest_complete_dump
from app.backup.memory import PeakMemory
from app.backup.postgres import (
    child_env,
    connect,
    require_tool,
    stderr_capture,
    stderr_tail,
    stop,
)
from app.contract import SecretEnv

CHUNK_SIZE = 1024 * 1024
MAX_REPORTED_DIFFERENCES = 20


@dataclass(frozen=True)
class StoredDump:
    """A dump object and the manifest written after it."""

    client: Any
    bucket: str
    key: str
    manifest: dict[str, Any]

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def run_verify(settings: BackupJobSettings, key: str | None, against_live: bool) -> dict[str, Any]:
    bucket = settings.require_bucket()
    scratch_url = settings.require_scratch_database_url()
    source_url = settings.require_database_url() if against_live else None
    pg_restore = require_tool("pg_restore")
    client = storage.s3_client()
    storage.check_bucket(client, bucket)
    key = key or latest_complete_dump(client, bucket, settings.prefix)
    dump = StoredDump(client, bucket, key, storage.read_manifest(client, bucket, key))
    started = time.monotonic()
    with scratch_database(scratch_url) as scratch_name:
        env = child_env(scratch_url, SecretEnv.SCRATCH_DATABASE_URL, dbname=scratch_name)
        pg_restore_peak_rss_mib = _restore(dump, pg_restore, env)
        with connect(
            scratch_url, SecretEnv.SCRATCH_DATABASE_URL, dbname=scratch_name
        ) as restored_db:
            restored = fingerprint(restored_db)
    found = differences(DatabaseFingerprint.from_json(dump.manifest), restored)
    if source_url is not None:
        with connect(source_url, SecretEnv.DATABASE_URL) as source:
            found += [f"live source: {line}" for line in differences(fingerprint(source), restored)]
    if found:
        shown = "; ".join(found[:MAX_REPORTED_DIFFERENCES])
        raise BackupError("content_mismatch", f"{len(found)} difference(s) in {dump.url}: {shown}")
    return {
        "bucket": bucket,
        "key": key,
        "bytes": dump.manifest["bytes"],
        "sha256": dump.manifest["sha256"],
        "tables": len(restored.tables),
        "rows": restored.rows,
        "sequences": len(restored.sequences),
        "against": "manifest+live" if against_live else "manifest",
        "seconds": round(time.monotonic() - started, 3),
        "pg_restore_peak_rss_mib": pg_restore_peak_rss_mib,
    }


@contextmanager
def scratch_database(scratch_url: str) -> Iterator[str]:
    """A new, uniquely named database on the scratch server, dropped afterwards whatever happens."""
    name = f"miko_verify_{datetime.now(UTC):%Y%m%d%H%M%S}_{secrets.token_hex(4)}"
    with connect(scratch_url, SecretEnv.SCRATCH_DATABASE_URL) as admin:
        admin.autocommit = True
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        try:
            yield name
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _restore(dump: StoredDump, pg_restore: str, env: dict[str, str]) -> float:
    """Returns pg_restore's peak RSS in MiB."""
    etag = _check_size(dump)
    command = [
        pg_restore,
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--no-password",
        f"--dbname={env['PGDATABASE']}",
    ]
    with stderr_capture() as errors:
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors, env=env
        )
        memory = PeakMemory(process.pid)
        try:
            assert process.stdin is not None  # stdin=PIPE
            sha256 = _feed(dump, etag, process.stdin)
            exit_code = process.wait()
        finally:
            stop(process)
            tool_peak = memory.stop()
        # The checksum speaks first: a corrupted archive also makes pg_restore fail.
        if sha256 != dump.manifest["sha256"]:
            raise BackupError(
                "checksum_mismatch",
                f"checksum mismatch: {dump.url} has SHA-256 {sha256}, "
                f"the manifest says {dump.manifest['sha256']}",
            )
        if exit_code != 0:
            raise BackupError(
                "pg_restore_failed", f"pg_restore exited with {exit_code}: {stderr_tail(errors)}"
            )
    return tool_peak


def _check_size(dump: StoredDump) -> str:
    """Compares the stored size with the manifest's before downloading; returns the ETag."""
    with storage.s3_call("read the dump", dump.bucket, dump.key):
        head = dump.client.head_object(Bucket=dump.bucket, Key=dump.key)
    stored, expected = int(head["ContentLength"]), int(dump.manifest["bytes"])
    if stored < expected:
        raise BackupError(
            "truncated_dump",
            f"truncated dump: {dump.url} has {stored} bytes, the manifest says {expected}",
        )
    if stored != expected:
        raise BackupError(
            "size_mismatch", f"{dump.url} has {stored} bytes, the manifest says {expected}"
        )
    return str(head["ETag"])


def _feed(dump: StoredDump, etag: str, restore_input: IO[bytes]) -> str:
    """Streams the object once: every chunk is hashed and, while pg_restore lives, piped to it.

    IfMatch pins the download to the object whose size was checked.
    """
    digest = hashlib.sha256()
    restoring: bool | None = None
    with storage.s3_call("download the dump", dump.bucket, dump.key):
        response = dump.client.get_object(Bucket=dump.bucket, Key=dump.key, IfMatch=etag)
        for chunk in response["Body"].iter_chunks(CHUNK_SIZE):
            if restoring is None:
                restoring = chunk.startswith(DUMP_MAGIC)  # if not, the checksum names the cause
            digest.update(chunk)
            restoring = restoring and _pipe(restore_input, chunk)
    _close(restore_input)
    return digest.hexdigest()


def _pipe(restore_input: IO[bytes], chunk: bytes) -> bool:
    """False once pg_restore has exited (it stops reading at its first error)."""
    try:
        restore_input.write(chunk)
    except BrokenPipeError:
        return False
    return True


def _close(restore_input: IO[bytes]) -> None:
    try:
        restore_input.close()
    except BrokenPipeError:
        return
