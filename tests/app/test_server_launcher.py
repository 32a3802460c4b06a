"""The launcher's wiring, without starting a server: what uvicorn is asked to do."""

import os
import signal
import subprocess
import sys

import pytest

import app.server
from app.http_server import limits
from app.metrics import MULTIPROC_ENV
from tests.app.conftest import REPO_ROOT

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
    assert options["loop"] == "uvloop"
    assert options["http"] == "app.http_server.protocol:HardenedHttpToolsProtocol"
    assert options["ws"] == "none"
    assert options["backlog"] == limits.BACKLOG
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


def test_the_protocol_named_to_uvicorn_is_importable_and_bounded():
    from uvicorn.importer import import_from_string  # noqa: PLC0415
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # noqa: PLC0415

    protocol = import_from_string(app.server.HTTP_PROTOCOL)
    assert issubclass(protocol, HttpToolsProtocol)
    # The hooks the subclass relies on still exist in the installed uvicorn.
    for name in ("on_message_begin", "on_headers_complete", "on_message_complete", "shutdown"):
        assert name in vars(HttpToolsProtocol), name
    assert "on_response_complete" in vars(HttpToolsProtocol)


@pytest.mark.parametrize(
    ("descriptors", "cap"),
    [
        (65_536, limits.MAX_CONNECTIONS),
        (2048, (2048 - limits.FD_RESERVE) // 2),
        (1024, (1024 - limits.FD_RESERVE) // 2),
        (64, limits.MIN_CONNECTIONS),
    ],
)
def test_the_connection_cap_leaves_room_for_the_worker_and_an_accept_burst(descriptors, cap):
    assert limits.connection_cap(descriptors) == cap
    if limits.MIN_CONNECTIONS < cap < limits.MAX_CONNECTIONS:
        headroom = limits.burst_headroom(descriptors)
        assert cap + headroom + limits.FD_RESERVE == descriptors


def test_the_launcher_lifts_the_soft_descriptor_limit_to_the_hard_one():
    code = (
        "import resource\n"
        "from app.http_server.limits import raise_descriptor_limit\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 512))\n"
        "print(raise_descriptor_limit(), *resource.getrlimit(resource.RLIMIT_NOFILE))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.split() == ["512", "512", "512"]
