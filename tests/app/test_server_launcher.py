"""The launcher's wiring, without starting a server: what uvicorn is asked to do."""

import os
import signal

import pytest

import app.server
from app.metrics import MULTIPROC_ENV

pytestmark = pytest.mark.usefixtures("clean_environment")


@pytest.fixture
def uvicorn_calls(monkeypatch):
    """Records uvicorn.run calls; restores the SIGTERM handler that main() installs."""
    calls = []
    monkeypatch.setattr(
        "app.server.uvicorn.run", lambda target, **kwargs: calls.append((target, kwargs))
    )
    previous = signal.getsignal(signal.SIGTERM)
    yield calls
    signal.signal(signal.SIGTERM, previous)


def test_defaults_reach_uvicorn(uvicorn_calls):
    assert app.server.main([]) == 0
    ((target, options),) = uvicorn_calls
    assert target == "app.asgi:create_app"
    assert options["factory"] is True
    assert (options["host"], options["port"], options["workers"]) == ("127.0.0.1", 8080, 1)
    assert (options["loop"], options["http"]) == ("uvloop", "httptools")
    assert options["timeout_keep_alive"] == 75
    assert options["timeout_graceful_shutdown"] == 20
    assert options["server_header"] is False
    assert options["access_log"] is False
    assert options["proxy_headers"] is False


def test_several_workers_get_a_fresh_metrics_directory(monkeypatch, uvicorn_calls):
    # The launcher names its directory in os.environ; set-then-delete makes monkeypatch remove
    # it again afterwards, so no later test's child process inherits a deleted directory.
    monkeypatch.setenv(MULTIPROC_ENV, "")
    monkeypatch.delenv(MULTIPROC_ENV)
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    seen = []
    monkeypatch.setattr(
        "app.server.uvicorn.run",
        lambda target, **kwargs: seen.append((kwargs["workers"], os.environ[MULTIPROC_ENV])),
    )
    assert app.server.main([]) == 0
    ((workers, directory),) = seen
    assert workers == 3
    assert not os.path.exists(directory)


def test_a_given_metrics_directory_is_emptied_of_stale_files(monkeypatch, tmp_path, uvicorn_calls):
    stale = tmp_path / "counter_123.db"
    stale.write_bytes(b"old")
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    monkeypatch.setenv("WEB_CONCURRENCY", "2")
    assert app.server.main([]) == 0
    assert not stale.exists()
    assert tmp_path.exists()


def test_invalid_configuration_returns_2_without_starting(monkeypatch, uvicorn_calls, capsys):
    monkeypatch.setenv("APP_ENV", "staging")
    assert app.server.main([]) == 2
    assert uvicorn_calls == []
    assert "SUPABASE_ANON_KEY" in capsys.readouterr().err
