"""Logical backups of the application database: `python -m app backup dump|verify|list`.

`dump` streams `pg_dump --format=custom` into the backup bucket with a SHA-256 and a per-table
manifest taken in the same snapshot; `verify` restores a dump into a scratch database and compares
it with that manifest; `list` shows what exists. See docs/runbooks/restore.md.
"""
