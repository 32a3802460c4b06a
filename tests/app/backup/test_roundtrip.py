"""Dump a database of varied types to S3, restore it, and find every row and sequence identical."""

import hashlib
import re
import subprocess
from datetime import UTC, datetime

import boto3
import pytest
from psycopg import sql

from app.backup.config import BackupJobSettings
from app.backup.dump import run_dump
from tests.pg_cluster import SUPERUSER, SUPERUSER_PASSWORD

pytestmark = pytest.mark.postgres

VARIED_SCHEMA = """
CREATE TABLE patients (
    id serial PRIMARY KEY,
    name text,
    profile json,
    preferences jsonb,
    photo bytea,
    seen_at timestamptz,
    born date,
    balance numeric,
    ratio double precision,
    tags text[],
    scores int[],
    active boolean,
    external_id uuid,
    waited interval
);
CREATE SEQUENCE invoice_numbers START 1000;
CREATE SCHEMA "Clinic Ops";
CREATE TABLE "Clinic Ops"."visit log" (note text, at timestamptz);
"""

PATIENT_ROWS = """
INSERT INTO patients (name, profile, preferences, photo, seen_at, born, balance, ratio, tags,
                      scores, active, external_id, waited) VALUES
  ('Zoë 😀 日本語 עברית', '{"a": [1, 2.5, null], "ü": "ß"}', '{"lang": "fr", "n": {"x": 1}}',
   (SELECT string_agg(set_byte('\\x00'::bytea, 0, b), ''::bytea) FROM generate_series(0, 255) b),
   '2026-03-01 09:30:00.123456+02', '1980-02-29', 12345678901234567890.123456789, -0.0,
   ARRAY['a,b', 'quote"d', 'back\\slash', NULL], ARRAY[1, -2, 2147483647], true,
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 day 02:03:04'),
  ('line1
line2	tab ''quoted''', '[]', '{}', '\\x', '9999-12-31 23:59:59.999999Z', '0001-01-01',
   0.1, 1e-300, '{}', '{}', false, NULL, '-3 months'),
  (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
DELETE FROM patients WHERE name IS NULL;
INSERT INTO patients (name) SELECT 'bulk ' || g FROM generate_series(1, 500) g;
SELECT nextval('invoice_numbers') FROM generate_series(1, 7);
INSERT INTO "Clinic Ops"."visit log" VALUES ('same', '2026-01-01Z'), ('same', '2026-01-01Z');
"""


def _table_rows(connection, table):
    query = sql.SQL("SELECT * FROM {} AS r ORDER BY r::text").format(sql.Identifier(*table))
    return connection.execute(query).fetchall()


def _sequence_state(connection, sequence):
    query = sql.SQL("SELECT last_value, is_called FROM {}").format(sql.Identifier(sequence))
    return connection.execute(query).fetchone()


def _restore_with_pg_restore(dump, target, pg_cluster):
    """Restores with the tools directly, independent of the verify code under test."""
    subprocess.run(
        ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={target}"],
        input=dump,
        check=True,
        capture_output=True,
        env={
            "PATH": "/usr/bin:/bin",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(pg_cluster.port),
            "PGUSER": SUPERUSER,
            "PGPASSWORD": SUPERUSER_PASSWORD,
        },
    )


def test_every_row_and_sequence_survives_dump_and_restore(
    job, new_database, pg_cluster, run_backup
):
    with job.source.connect() as connection:
        connection.execute(VARIED_SCHEMA)
        connection.execute(PATIENT_ROWS)

    dumped = run_backup("dump")

    assert dumped.exit_code == 0, dumped.stderr
    assert dumped.result["ok"] is True
    assert dumped.result["rows"] == 504
    dump = job.read(dumped.result["key"])
    restored = new_database()
    _restore_with_pg_restore(dump, restored.name, pg_cluster)
    with job.source.connect() as source, restored.connect() as copy:
        for table in (("patients",), ("Clinic Ops", "visit log")):
            assert _table_rows(copy, table) == _table_rows(source, table), table
        for sequence in ("invoice_numbers", "patients_id_seq"):
            assert _sequence_state(copy, sequence) == _sequence_state(source, sequence), sequence
        assert copy.execute("SELECT nextval('invoice_numbers')").fetchone() == (1007,)
    manifest = job.manifest(dumped.result["key"])
    assert manifest["sha256"] == hashlib.sha256(dump).hexdigest() == dumped.result["sha256"]
    assert manifest["bytes"] == len(dump)


def test_verify_restores_into_a_scratch_database_and_drops_it(job, run_backup):
    with job.source.connect() as connection:
        connection.execute(VARIED_SCHEMA)
        connection.execute(PATIENT_ROWS)
    run_backup("dump")

    verified = run_backup("verify", "--against-live")

    assert verified.exit_code == 0, verified.stderr
    assert verified.result | {"tables": 2, "rows": 504, "sequences": 2} == verified.result
    with job.source.connect() as connection:
        leftover = connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'miko_verify_%'"
        ).fetchall()
    assert leftover == []


def test_key_sorts_by_time_and_list_is_newest_first(job, run_backup):
    settings = BackupJobSettings.from_env()
    older = run_dump(settings, clock=lambda: datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC))
    newer = run_dump(settings, clock=lambda: datetime(2026, 2, 1, 0, 0, 0, tzinfo=UTC))

    listed = run_backup("list")

    assert older["key"] == f"postgres/2026/01/31/20260131T235959Z-{job.source.name}.dump"
    assert re.fullmatch(r"postgres/2026/02/01/20260201T000000Z-app_[0-9a-f]{8}\.dump", newer["key"])
    assert [dump["key"] for dump in listed.result["dumps"]] == [newer["key"], older["key"]]
    assert all(dump["checksum"] for dump in listed.result["dumps"])
    assert listed.result["dumps"][0]["bytes"] == newer["bytes"]
    assert listed.result["dumps"][0]["age_seconds"] >= 0


def test_verify_skips_a_newest_dump_that_never_finished(job, run_backup):
    settings = BackupJobSettings.from_env()
    finished = run_dump(settings, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    unfinished = run_dump(settings, clock=lambda: datetime(2026, 1, 2, tzinfo=UTC))
    job.s3.delete_object(Bucket=job.bucket, Key=unfinished["key"] + ".manifest.json")

    listed = run_backup("list")
    verified = run_backup("verify")

    assert [dump["checksum"] for dump in listed.result["dumps"]] == [False, True]
    assert verified.exit_code == 0, verified.stderr
    assert verified.result["key"] == finished["key"]


def test_large_dump_is_uploaded_in_parts_with_kms_encryption(job, run_backup):
    key_id = boto3.session.Session().client("kms").create_key()["KeyMetadata"]["KeyId"]
    job.env.setenv("BACKUP_KMS_KEY_ID", key_id)
    with job.source.connect() as connection:
        connection.execute(
            "CREATE TABLE blobs AS SELECT g AS id, "
            "(SELECT string_agg(md5(random()::text || g || h), '') FROM generate_series(1, 300) h) "
            "AS payload FROM generate_series(1, 3000) g"
        )

    dumped = run_backup("dump")

    assert dumped.exit_code == 0, dumped.stderr
    head = job.s3.head_object(Bucket=job.bucket, Key=dumped.result["key"])
    assert dumped.result["bytes"] > 8 * 1024 * 1024  # more than one 8 MiB part
    assert re.search(r"-[2-9]\d*\"$", head["ETag"]), head["ETag"]  # a multipart ETag: "...-<parts>"
    assert head["ServerSideEncryption"] == "aws:kms"
    assert key_id in head["SSEKMSKeyId"]
    manifest_head = job.s3.head_object(
        Bucket=job.bucket, Key=dumped.result["key"] + ".manifest.json"
    )
    assert manifest_head["ServerSideEncryption"] == "aws:kms"
    assert run_backup("verify").exit_code == 0
