"""The PG* environment built for pg_dump/pg_restore from a connection URL."""

import pytest

from app.backup.errors import BackupError
from app.backup.postgres import child_env

URL = (
    "postgresql://backup%40miko:p%40ss%3Aw%2Frd@db.example.com:6543"  # pragma: allowlist secret
    "/app?sslmode=verify-full"
)


def test_url_becomes_libpq_variables(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", URL)
    monkeypatch.setenv("PGHOST", "stray-host")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    monkeypatch.setenv("SENTRY_DSN", "https://key@sentry.example/1")
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")

    env = child_env(URL, "DATABASE_URL")

    assert {name: env[name] for name in env if name.startswith("PG")} == {
        "PGHOST": "db.example.com",
        "PGPORT": "6543",
        "PGDATABASE": "app",
        "PGUSER": "backup@miko",
        "PGPASSWORD": "p@ss:w/rd",  # pragma: allowlist secret
        "PGSSLMODE": "verify-full",
    }
    assert not {"DATABASE_URL", "AWS_SECRET_ACCESS_KEY", "SENTRY_DSN"} & set(env)
    assert env["LANG"] == env["LC_ALL"] == "C.UTF-8"
    assert env["PATH"]


def test_override_replaces_the_database():
    assert child_env(URL, "SCRATCH_DATABASE_URL", dbname="scratch")["PGDATABASE"] == "scratch"


def test_parameter_without_environment_variable_is_refused_by_name():
    with pytest.raises(BackupError) as caught:
        child_env(URL + "&keepalives=1", "DATABASE_URL")

    assert caught.value.cause == "config_invalid"
    assert "keepalives" in caught.value.message
    assert "p@ss" not in caught.value.message


def test_unparseable_url_is_not_echoed():
    with pytest.raises(BackupError) as caught:
        child_env("postgresql://u:s3cret@h/db?bogus=1", "DATABASE_URL")  # pragma: allowlist secret

    assert caught.value.message == "DATABASE_URL is not a valid PostgreSQL connection URL"
