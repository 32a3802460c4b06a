"""Fingerprints: what `differences` reports, and that the server-side checksum is order-free
but sensitive to any changed value."""

import pytest

from app.backup.checksums import (
    DatabaseFingerprint,
    SequencePosition,
    TableFingerprint,
    differences,
    fingerprint,
)
from app.backup.postgres import connect

SOURCE = DatabaseFingerprint(
    tables=(
        TableFingerprint("public", "a", 3, "111"),
        TableFingerprint("public", "b", 0, "0"),
    ),
    sequences=(SequencePosition("public", "a_id_seq", 3), SequencePosition("public", "idle", None)),
)


def _with(tables=None, sequences=None):
    return DatabaseFingerprint(
        tables=SOURCE.tables if tables is None else tables,
        sequences=SOURCE.sequences if sequences is None else sequences,
    )


def test_identical_and_json_round_trip():
    assert differences(SOURCE, DatabaseFingerprint.from_json(SOURCE.to_json())) == []


@pytest.mark.parametrize(
    ("restored", "expected"),
    [
        (_with(tables=SOURCE.tables[:1]), "table public.b missing"),
        (
            _with(tables=(*SOURCE.tables, TableFingerprint("x", "c", 0, "0"))),
            "x.c is in the restore",
        ),
        (_with(tables=(TableFingerprint("public", "a", 2, "111"), SOURCE.tables[1])), "2 rows"),
        (_with(tables=(TableFingerprint("public", "a", 3, "112"), SOURCE.tables[1])), "content"),
        (_with(sequences=SOURCE.sequences[1:]), "a_id_seq missing"),
        (_with(sequences=(SequencePosition("public", "a_id_seq", 2), SOURCE.sequences[1])), "at 2"),
        (
            _with(sequences=(SequencePosition("public", "a_id_seq", None), SOURCE.sequences[1])),
            "None",
        ),
    ],
)
def test_each_difference_is_reported(restored, expected):
    found = differences(SOURCE, restored)

    assert len(found) == 1
    assert expected in found[0]


def test_sequence_ahead_of_the_dump_is_accepted():
    ahead = _with(sequences=(SequencePosition("public", "a_id_seq", 9), SOURCE.sequences[1]))

    assert differences(SOURCE, ahead) == []


@pytest.mark.postgres
def test_checksum_ignores_row_order_but_not_values(new_database):
    database = new_database()
    with connect(database.url, "DATABASE_URL") as connection:
        connection.execute("CREATE TABLE t (v text, at timestamptz, n float8)")
        rows = [("x", "2026-01-01 10:00+05", 0.1), ("y", None, 1e300), ("x", None, None)]
        insert = "INSERT INTO t VALUES (%s, %s, %s)"
        connection.cursor().executemany(insert, rows)
        forward = fingerprint(connection).tables
        connection.execute("TRUNCATE t")
        connection.cursor().executemany(insert, list(reversed(rows)))
        backward = fingerprint(connection).tables
        connection.execute("UPDATE t SET n = 0.1000000000000001 WHERE n = 0.1")
        changed = fingerprint(connection).tables

    assert forward == backward
    assert forward[0].rows == 3
    assert changed[0].checksum != forward[0].checksum
