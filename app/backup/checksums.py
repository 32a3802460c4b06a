"""Per-table row counts and content checksums, and sequence positions, computed server-side.

A table's checksum is the sum over its rows of the first 64 bits of md5(row as text), as numeric.
The sum does not depend on row order, so the server needs no sort and no 1 GB `string_agg` of a
whole table: one sequential scan in constant memory, whatever the table size. It detects lost,
added or altered rows (accidental corruption), not a forger who could craft md5 collisions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg import sql

_DUMPED_RELATIONS = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = {relkind} AND c.relpersistence <> 't'
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT EXISTS (
    SELECT 1 FROM pg_depend d
    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""
# Extension members (deptype 'e') are recreated by CREATE EXTENSION, not dumped as data.

_TABLE_FINGERPRINT = sql.SQL(
    "SELECT count(*), coalesce(sum(('x' || left(md5(ROW(r.*)::text), 16))::bit(64)::bigint"
    "::numeric), 0)::text FROM ONLY {table} AS r"
)
_SEQUENCE_POSITION = sql.SQL("SELECT CASE WHEN is_called THEN last_value END FROM {sequence}")


@dataclass(frozen=True)
class TableFingerprint:
    schema: str
    name: str
    rows: int
    checksum: str

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class SequencePosition:
    schema: str
    name: str
    last_value: int | None  # None: nextval never called, the next call returns the start value

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class DatabaseFingerprint:
    tables: tuple[TableFingerprint, ...]
    sequences: tuple[SequencePosition, ...]

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)

    def to_json(self) -> dict[str, Any]:
        return {
            "tables": [asdict(table) for table in self.tables],
            "sequences": [asdict(sequence) for sequence in self.sequences],
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> DatabaseFingerprint:
        return cls(
            tables=tuple(TableFingerprint(**table) for table in document["tables"]),
            sequences=tuple(SequencePosition(**sequence) for sequence in document["sequences"]),
        )


def fingerprint(connection: psycopg.Connection[tuple[Any, ...]]) -> DatabaseFingerprint:
    """Reads every dumped table and sequence; run it inside the snapshot being described."""
    return DatabaseFingerprint(
        tables=tuple(
            _table(connection, schema, name) for schema, name in _relations(connection, "r")
        ),
        sequences=tuple(
            _sequence(connection, schema, name) for schema, name in _relations(connection, "S")
        ),
    )


def differences(expected: DatabaseFingerprint, restored: DatabaseFingerprint) -> list[str]:
    """Human-readable differences; empty when the restore holds exactly what was dumped."""
    found = _table_differences(expected, restored)
    restored_sequences = {sequence.qualified: sequence for sequence in restored.sequences}
    for sequence in expected.sequences:
        match = restored_sequences.get(sequence.qualified)
        if match is None:
            found.append(f"sequence {sequence.qualified} missing from the restore")
        elif _behind(match.last_value, sequence.last_value):
            # Ahead is harmless (nextval ran while pg_dump read it); behind breaks inserts.
            found.append(
                f"sequence {sequence.qualified}: restored at {match.last_value}, "
                f"source was at {sequence.last_value}"
            )
    return found


def _table_differences(expected: DatabaseFingerprint, restored: DatabaseFingerprint) -> list[str]:
    restored_tables = {table.qualified: table for table in restored.tables}
    expected_names = {table.qualified for table in expected.tables}
    found = [
        f"table {name} is in the restore but not in the source"
        for name in sorted(set(restored_tables) - expected_names)
    ]
    for table in expected.tables:
        match = restored_tables.get(table.qualified)
        if match is None:
            found.append(f"table {table.qualified} missing from the restore")
        elif match.rows != table.rows:
            found.append(
                f"table {table.qualified}: {match.rows} rows restored, {table.rows} dumped"
            )
        elif match.checksum != table.checksum:
            found.append(f"table {table.qualified}: same row count, different content")
    return found


def _behind(restored: int | None, source: int | None) -> bool:
    if source is None:
        return False
    return restored is None or restored < source


def _relations(
    connection: psycopg.Connection[tuple[Any, ...]], relkind: str
) -> list[tuple[str, str]]:
    query = sql.SQL(_DUMPED_RELATIONS).format(relkind=sql.Literal(relkind))
    return [(str(schema), str(name)) for schema, name in connection.execute(query).fetchall()]


def _table(
    connection: psycopg.Connection[tuple[Any, ...]], schema: str, name: str
) -> TableFingerprint:
    query = _TABLE_FINGERPRINT.format(table=sql.Identifier(schema, name))
    row = connection.execute(query).fetchone()
    assert row is not None  # an aggregate always returns one row
    return TableFingerprint(schema=schema, name=name, rows=int(row[0]), checksum=str(row[1]))


def _sequence(
    connection: psycopg.Connection[tuple[Any, ...]], schema: str, name: str
) -> SequencePosition:
    query = _SEQUENCE_POSITION.format(sequence=sql.Identifier(schema, name))
    row = connection.execute(query).fetchone()
    last_value = None if row is None or row[0] is None else int(row[0])
    return SequencePosition(schema=schema, name=name, last_value=last_value)
