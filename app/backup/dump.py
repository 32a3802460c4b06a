"""`backup dump`: pg_dump --format=custom streamed into the bucket, then its manifest."""

from __future__ import annotations

import hashlib
import math
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import psycopg

from app.backup import storage
from app.backup.checksums import fingerprint
from app.backup.config import BackupJobSettings
from app.backup.errors import BackupError
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

MIB = 1024 * 1024
PART_SIZE = 8 * MIB
DUMP_MAGIC = b"PGDMP"  # first bytes of every custom-format archive


@dataclass(frozen=True)
class Streamed:
    """What went into the bucket, and the peak RSS of pg_dump while it ran."""

    size: int
    sha256: str
    tool_peak_rss_mib: float


def run_dump(
    settings: BackupJobSettings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> dict[str, Any]:
    bucket = settings.require_bucket()
    url = settings.require_database_url()
    pg_dump = require_tool("pg_dump")
    client = storage.s3_client()
    storage.check_bucket(client, bucket)
    started = time.monotonic()
    with connect(url, SecretEnv.DATABASE_URL) as source:
        # pg_dump imports this snapshot, so the manifest describes exactly what it dumps.
        source.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        source.read_only = True
        snapshot, database, server_version, database_bytes = _snapshot(source)
        content = fingerprint(source)
        key = storage.dump_key(settings.prefix, clock(), database)
        upload = storage.MultipartUpload(
            client, bucket, key, settings.kms_key_id, {"database": database}
        )
        command = [pg_dump, "--format=custom", "--no-password", f"--snapshot={snapshot}"]
        env = child_env(url, SecretEnv.DATABASE_URL)
        streamed = _stream(upload, command, env, _part_size(database_bytes))
    manifest = {
        "format_version": 1,
        "key": key,
        "database": database,
        "server_version": server_version,
        "pg_dump_version": _version(pg_dump, env),
        "sha256": streamed.sha256,
        "bytes": streamed.size,
        **content.to_json(),
    }
    try:
        storage.write_manifest(client, bucket, key, manifest, settings.kms_key_id)
    except BaseException:
        storage.discard(client, bucket, key)
        raise
    return {
        "bucket": bucket,
        "key": key,
        "bytes": streamed.size,
        "sha256": streamed.sha256,
        "tables": len(content.tables),
        "rows": content.rows,
        "seconds": round(time.monotonic() - started, 3),
        "pg_dump_peak_rss_mib": streamed.tool_peak_rss_mib,
    }


def _snapshot(source: psycopg.Connection[tuple[Any, ...]]) -> tuple[str, str, str, int]:
    row = source.execute(
        "SELECT pg_export_snapshot(), current_database(), current_setting('server_version'), "
        "pg_database_size(current_database())"
    ).fetchone()
    assert row is not None  # SELECT without FROM returns one row
    return str(row[0]), str(row[1]), str(row[2]), int(row[3])


def _part_size(database_bytes: int) -> int:
    """8 MiB parts, larger only when a dump as big as the database would need > 9,000 parts."""
    needed_mib = math.ceil(database_bytes / (storage.MAX_PARTS * 0.9) / MIB)
    return max(PART_SIZE, needed_mib * MIB)


def _stream(
    upload: storage.MultipartUpload,
    command: list[str],
    env: dict[str, str],
    part_size: int,
) -> Streamed:
    """Runs pg_dump into the upload; on any failure nothing stays in the bucket."""
    with stderr_capture() as errors:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
            bufsize=0,
        )
        memory = PeakMemory(process.pid)
        try:
            assert process.stdout is not None  # stdout=PIPE
            upload.start()
            size, sha256 = _upload_parts(process.stdout, upload, part_size)
            exit_code = process.wait()
            if exit_code != 0:
                raise BackupError(
                    "pg_dump_failed", f"pg_dump exited with {exit_code}: {stderr_tail(errors)}"
                )
            if size == 0:
                raise BackupError("pg_dump_failed", "pg_dump exited 0 but wrote nothing")
            upload.complete()
        except BaseException:
            stop(process)
            upload.abort()
            raise
        finally:
            tool_peak = memory.stop()
    return Streamed(size, sha256, tool_peak)


def _upload_parts(
    stream: IO[bytes], upload: storage.MultipartUpload, part_size: int
) -> tuple[int, str]:
    """One part-sized buffer, reused: memory stays the same whatever the dump size."""
    digest = hashlib.sha256()
    buffer = memoryview(bytearray(part_size))
    size = 0
    while filled := _fill(stream, buffer):
        part = bytes(buffer[:filled])
        if size == 0 and not part.startswith(DUMP_MAGIC):
            raise BackupError("pg_dump_failed", "pg_dump output is not a custom-format archive")
        digest.update(part)
        upload.upload_part(part)
        size += filled
    return size, digest.hexdigest()


def _fill(stream: IO[bytes], buffer: memoryview) -> int:
    """Reads until the buffer is full or the stream ends; a pipe returns at most 64 KiB a read."""
    filled = 0
    while filled < len(buffer):
        count = stream.readinto(buffer[filled:])  # type: ignore[attr-defined]
        if not count:
            break
        filled += count
    return filled


def _version(tool: str, env: dict[str, str]) -> str:
    done = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False, env=env)
    return done.stdout.strip()
