"""Fixtures for the service's tests: clean settings, a fake static app, local fake dependencies
and a real server process on loopback."""

import http.server
import io
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.pg_cluster import PgCluster

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 for its TestClient; httpx is what the service pins.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from app.asgi import create_app
from app.logging_setup import JsonFormatter
from app.settings import Settings, get_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
SETTING_NAMES = [name.upper() for name in Settings.model_fields]
HANG_LIMIT_SECONDS = 10.0


@pytest.fixture
def clean_environment(monkeypatch):
    """No setting leaks in from the machine running the tests."""
    for name in [*SETTING_NAMES, "PROMETHEUS_MULTIPROC_DIR"]:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def fake_static(scope, receive, send):
    """Stands in for app.static_files.StaticFiles: 304 for If-None-Match, else 200."""
    headers = dict(scope["headers"])
    if scope["path"] == "/boom":
        raise RuntimeError("secret-bearing internal failure")
    status = 304 if b"if-none-match" in headers else 200
    body = b"" if status == 304 else f"static:{scope['path']}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": ((b"content-type", b"text/plain"), (b"cache-control", b"no-cache")),
        }
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Log records of the `app` loggers as the service formats them (one JSON object a line)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    app_logger = logging.getLogger("app")
    previous_level = app_logger.level
    app_logger.addHandler(handler)
    app_logger.setLevel(logging.INFO)
    yield stream
    app_logger.removeHandler(handler)
    app_logger.setLevel(previous_level)


@pytest.fixture
def make_client(clean_environment):
    """Builds the real app (with the fake static files) and enters its lifespan."""
    clients = []

    def build(**overrides) -> TestClient:
        client = TestClient(create_app(Settings(**overrides), static_app=fake_static))
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()


@dataclass
class FakeDependency:
    """A local HTTP server whose path says how to behave: /ok, /fail, /slow/<seconds>, /hang."""

    base_url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, behaviour: str) -> str:
        return f"{self.base_url}/{behaviour}"


def handler_for(fake: FakeDependency) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            fake.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                }
            )
            parts = self.path.strip("/").split("/")
            if parts[0] == "slow":
                time.sleep(float(parts[1]))
            elif parts[0] == "hang":
                fake.release.wait(HANG_LIMIT_SECONDS)
            status = 500 if parts[0] == "fail" else 200
            payload = json.dumps({"ok": status == 200}).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_HEAD = _answer

        def log_message(self, format, *args):
            return

    return Handler


@pytest.fixture
def fake_dependency() -> Iterator[FakeDependency]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    server.daemon_threads = True
    fake = FakeDependency(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = handler_for(fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.release.set()
    server.shutdown()
    server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port() -> int:
    """A loopback port nothing listens on (bound and released, so refused at once)."""
    return free_port()


@dataclass
class ServiceProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    output_path: Path

    def output(self) -> str:
        return self.output_path.read_text()


def child_environment(**env: str) -> dict[str, str]:
    """This process's environment for a child service, plus `env`: no setting of this machine
    and no metrics directory of this process (an in-process launcher test may have named one
    and removed it) reaches the child."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in SETTING_NAMES and key != "PROMETHEUS_MULTIPROC_DIR"
    }
    return {**inherited, **env}


def start_service(tmp_path: Path, **env: str) -> ServiceProcess:
    """`python -m app serve` on a free loopback port, once /health answers."""
    return start_service_at(tmp_path, free_port(), env)


def start_service_at(tmp_path: Path, port: int, env: Mapping[str, str]) -> ServiceProcess:
    """`python -m app serve` on `port` (a restart on the same port keeps a site's origin)."""
    environment = child_environment(PORT=str(port), HOST="127.0.0.1", **env)
    output_path = tmp_path / f"service-{port}-{time.monotonic_ns()}.log"
    with output_path.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"],
            cwd=REPO_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    service = ServiceProcess(process, f"http://127.0.0.1:{port}", output_path)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"service exited early:\n{service.output()}")
        try:
            if httpx.get(f"{service.base_url}/health", timeout=1).status_code == 200:
                return service
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"service did not answer /health in time:\n{service.output()}")


@pytest.fixture
def service(tmp_path, clean_environment) -> Iterator[Callable[..., ServiceProcess]]:
    """Starts real server processes (`python -m app serve`) and stops them at the end."""
    started: list[ServiceProcess] = []

    def start(**env: str) -> ServiceProcess:
        started.append(start_service(tmp_path, **env))
        return started[-1]

    yield start
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
        running.process.wait(timeout=10)


@pytest.fixture(scope="session")
def postgres_url(pg_cluster: PgCluster) -> str:
    """The shared throwaway PostgreSQL server (tests/conftest.py), for the SELECT 1 check."""
    return pg_cluster.url()
