"""Backup job: `dump` and `verify` of databases of two sizes, run as child processes exactly as in
the image, against a throwaway PostgreSQL cluster and a moto S3 server on 127.0.0.1.

Prints rows, database and dump size, throughput (MiB of dump and rows per second, timed inside
the job: manifest, pg_dump/pg_restore and transfer), wall time of the whole child process, and the
peak RSS of our process: as it reports it (VmHWM) and as sampled from here, next to pg_dump's or
pg_restore's. Then the ratio of our peak RSS between the two sizes.
Target: our peak RSS under 150 MiB and about the same at both sizes (ratio <= 1.25).

    .venv/bin/python -m bench backup          # BENCH_BACKUP_ROWS=250000,1000000 by default
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psycopg
from moto.server import ThreadedMotoServer
from psycopg import sql

from app.backup.memory import PeakMemory
from tests.pg_cluster import PgCluster

REPOSITORY = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = (250_000, 1_000_000)
TARGET_PEAK_RSS_MIB = 150
MAX_RSS_RATIO = 1.25
RUN_TIMEOUT_SECONDS = 300
BUCKET = "miko-bench-backups"
MIB = 1024 * 1024

FILL = """
CREATE TABLE appointments (
    id bigserial PRIMARY KEY,
    patient text NOT NULL,
    details jsonb NOT NULL,
    booked_at timestamptz NOT NULL,
    fee numeric(10, 2),
    token bytea,
    notes text
);
INSERT INTO appointments (patient, details, booked_at, fee, token, notes)
SELECT 'patient ' || g || ' Zoë',
       jsonb_build_object('procedure', 'consult-' || (g % 17), 'room', g % 9, 'ok', g % 2 = 0),
       timestamptz '2026-01-01 08:00Z' + g * interval '37 seconds',
       (g % 100000) / 100.0,
       decode(md5(g::text), 'hex'),
       CASE WHEN g % 5 = 0 THEN NULL ELSE repeat(md5((g * 7)::text), 1 + g % 3) END
FROM generate_series(1, {rows}) AS g;
ANALYZE appointments;
"""


@dataclass(frozen=True)
class Run:
    result: dict[str, Any]
    wall_seconds: float
    sampled_peak_rss_mib: float  # VmHWM of the CLI read from outside, every 50 ms


def main() -> int:
    sizes = _sizes()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    cluster = PgCluster().start()
    s3_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    s3_server.start()
    try:
        host, port = s3_server.get_host_and_port()
        env = _child_env(f"http://{host}:{port}", cluster)
        boto3.session.Session().client(
            "s3",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # noqa: S106  # pragma: allowlist secret
        ).create_bucket(Bucket=BUCKET)
        rows = [_measure(cluster, env, size) for size in sizes]
    finally:
        s3_server.stop()
        cluster.stop()
    return _report(rows)


def _sizes() -> tuple[int, ...]:
    raw = os.environ.get("BENCH_BACKUP_ROWS")
    return tuple(int(size) for size in raw.split(",")) if raw else DEFAULT_SIZES


def _child_env(endpoint: str, cluster: PgCluster) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",  # pragma: allowlist secret
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "BACKUP_BUCKET": BUCKET,
        "BACKUP_PREFIX": "bench",
        "SCRATCH_DATABASE_URL": cluster.url(),
    }


def _measure(cluster: PgCluster, env: dict[str, str], size: int) -> dict[str, Any]:
    name = f"bench_{size}_{secrets.token_hex(3)}"
    with psycopg.connect(cluster.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(cluster.url(name), autocommit=True) as database:
        database.execute(sql.SQL(FILL).format(rows=sql.Literal(size)))
        database_bytes = database.execute("SELECT pg_database_size(current_database())").fetchone()
    job_env = env | {"DATABASE_URL": cluster.url(name)}
    dump = _run_cli(["dump"], job_env)
    verify = _run_cli(["verify", "--key", dump.result["key"]], job_env)
    return {
        "size": size,
        "database_mib": (database_bytes[0] if database_bytes else 0) / MIB,
        "dump": dump,
        "verify": verify,
    }


def _run_cli(argv: list[str], env: dict[str, str]) -> Run:
    """One CLI run, its VmHWM sampled from here as a check on the peak it reports itself.

    Not wait4's ru_maxrss: it starts at this process's RSS (see app/backup/memory.py).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, "-m", "app", "backup", *argv],
            cwd=REPOSITORY,
            env=env,
            stdout=out,
            stderr=err,
        )
        memory = PeakMemory(child.pid, interval=0.05)
        try:
            child.wait(timeout=RUN_TIMEOUT_SECONDS)
        finally:
            child.kill()
            sampled = memory.stop()
        wall = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    result = json.loads(stdout.splitlines()[-1]) if stdout.strip() else {"ok": False}
    if child.returncode != 0 or not result.get("ok"):
        raise SystemExit(f"backup {argv[0]} failed: {stdout} {stderr}")
    return Run(result, wall, sampled)


def _report(rows: list[dict[str, Any]]) -> int:
    print(
        f"{'rows':>9} {'db MiB':>7} {'dump MiB':>8} | {'step':<6} {'job s':>6} {'wall s':>6} "
        f"{'MiB/s':>6} {'rows/s':>9} | {'our RSS':>8} {'sampled':>8} {'pg tool':>8}"
    )
    for row in rows:
        for step, tool in (("dump", "pg_dump"), ("verify", "pg_restore")):
            run: Run = row[step]
            seconds = run.result["seconds"]
            dump_mib = run.result["bytes"] / MIB
            print(
                f"{row['size']:>9,} {row['database_mib']:>7.1f} {dump_mib:>8.1f} | {step:<6} "
                f"{seconds:>6.2f} {run.wall_seconds:>6.2f} {dump_mib / seconds:>6.1f} "
                f"{row['size'] / seconds:>9,.0f} | {run.result['peak_rss_mib']:>7.1f}M "
                f"{run.sampled_peak_rss_mib:>7.1f}M {run.result[f'{tool}_peak_rss_mib']:>7.1f}M"
            )
    return _judge(rows)


def _judge(rows: list[dict[str, Any]]) -> int:
    peaks = {
        step: [row[step].result["peak_rss_mib"] for row in rows] for step in ("dump", "verify")
    }
    worst = max(max(values) for values in peaks.values())
    ratios = {step: values[-1] / values[0] for step, values in peaks.items()}
    print(
        f"peak RSS ratio {rows[-1]['size']:,} / {rows[0]['size']:,} rows: "
        + ", ".join(f"{step} {ratio:.2f}x" for step, ratio in ratios.items())
        + f"; worst {worst:.1f} MiB (target < {TARGET_PEAK_RSS_MIB} MiB, ratio <= {MAX_RSS_RATIO})"
    )
    met = worst < TARGET_PEAK_RSS_MIB and all(ratio <= MAX_RSS_RATIO for ratio in ratios.values())
    print("target met" if met else "TARGET MISSED")
    return 0 if met else 1
