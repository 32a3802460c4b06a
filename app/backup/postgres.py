"""Connections to PostgreSQL and the environment for the client tools, without leaking passwords.

A conninfo or URL on pg_dump's command line would be readable by every user in /proc/<pid>/cmdline,
so the URL is split into libpq's PG* environment variables for the child instead: its environment
is readable only by its own user, the same exposure DATABASE_URL already has in our environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from app.backup.errors import BackupError, Cause

CONNECT_TIMEOUT_SECONDS = 10
STDERR_TAIL_CHARS = 2000

# https://www.postgresql.org/docs/current/libpq-envars.html
_ENV_FOR_PARAMETER = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "password": "PGPASSWORD",  # pragma: allowlist secret
    "passfile": "PGPASSFILE",
    "channel_binding": "PGCHANNELBINDING",
    "service": "PGSERVICE",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
    "sslmode": "PGSSLMODE",
    "requiressl": "PGREQUIRESSL",
    "sslcompression": "PGSSLCOMPRESSION",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcrl": "PGSSLCRL",
    "sslsni": "PGSSLSNI",
    "requirepeer": "PGREQUIREPEER",
    "require_auth": "PGREQUIREAUTH",
    "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION",
    "gssencmode": "PGGSSENCMODE",
    "krbsrvname": "PGKRBSRVNAME",
    "gsslib": "PGGSSLIB",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "client_encoding": "PGCLIENTENCODING",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "load_balance_hosts": "PGLOADBALANCEHOSTS",
}
# All the client tools inherit from us: the task's other settings (API keys, DSNs, AWS
# credentials, stray PG* variables) stay out of their environment.
_INHERITED = frozenset({"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR"})

# Row text depends on these session settings; fixing them makes fingerprints comparable.
SESSION_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "3",
    "bytea_output": "hex",
}


def parse_url(url: str, variable: str) -> dict[str, str]:
    """libpq's own parser; its error text may quote the URL, so it is not repeated."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        raise BackupError(
            "config_invalid", f"{variable} is not a valid PostgreSQL connection URL"
        ) from None
    return {name: str(value) for name, value in params.items() if value is not None}


def child_env(url: str, variable: str, **overrides: str) -> dict[str, str]:
    """PATH, locale and temp settings from our environment, plus PG* for this URL only."""
    params = parse_url(url, variable) | overrides
    unsupported = sorted(set(params) - set(_ENV_FOR_PARAMETER))
    if unsupported:
        raise BackupError(
            "config_invalid",
            f"{variable} uses parameter(s) {', '.join(unsupported)} that the PostgreSQL client "
            "tools cannot take from the environment",
        )
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name in _INHERITED or name.startswith("LC_")
    }
    return inherited | {_ENV_FOR_PARAMETER[name]: value for name, value in params.items()}


def connect(url: str, variable: str, **overrides: str) -> psycopg.Connection[tuple[object, ...]]:
    """A connection with fixed session settings, or a BackupError naming why there is none."""
    parse_url(url, variable)
    try:
        connection = psycopg.connect(
            make_conninfo(url, **overrides), connect_timeout=CONNECT_TIMEOUT_SECONDS
        )
    except psycopg.OperationalError as failure:
        cause: Cause = (
            "database_auth_failed" if "authentication" in str(failure) else "database_unreachable"
        )
        raise BackupError(cause, f"{variable}: {_first_line(failure)}") from None
    for name, value in SESSION_SETTINGS.items():
        connection.execute("SELECT set_config(%s, %s, false)", (name, value))
    connection.commit()
    return connection


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        cause: Cause = "pg_dump_missing" if name == "pg_dump" else "pg_restore_missing"
        raise BackupError(
            cause, f"{name} not found on PATH: install the PostgreSQL client (postgresql-client)"
        )
    return path


@contextmanager
def stderr_capture() -> Iterator[IO[bytes]]:
    """A file for a child's stderr: a pipe could fill up and stall it while we read stdout."""
    with tempfile.TemporaryFile() as captured:
        yield captured


def stderr_tail(captured: IO[bytes]) -> str:
    captured.seek(0)
    text = captured.read().decode("utf-8", "replace").strip()
    return text[-STDERR_TAIL_CHARS:] or "(no message)"


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ends a child that is still running when we give up on it."""
    if process.poll() is None:
        process.kill()
    process.wait()


def _first_line(failure: Exception) -> str:
    lines = [line.strip() for line in str(failure).splitlines() if line.strip()]
    return " ".join(lines[:2]) or type(failure).__name__
