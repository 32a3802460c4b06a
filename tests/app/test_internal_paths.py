"""Internal endpoints (/metrics) cannot be reached from outside, however the path is spelled.

The same requests go to the service in process, as uvicorn would hand them over (`path` decoded
from `raw_path`), and to a real `python -m app serve` over a socket, byte for byte: the decoding
that let `/%6detrics` through happens in uvicorn, so only a real server shows what the app sees.
"""

import asyncio
import json
import socket
from urllib.parse import unquote

import pytest

from app.asgi import create_app
from app.contract import INTERNAL_PATHS, METRICS_PATH
from app.settings import Settings
from tests.app.conftest import ServiceProcess, start_service
from tests.app.conftest import fake_static as fake_static_files

EXPOSITION = b"# HELP"
"""Every Prometheus exposition starts with a HELP line; no refused answer may hold one."""

SERVED = [(b"/metrics", 200), (b"/metrics?x=1", 200)]
NON_CANONICAL = [
    b"/%6detrics",
    b"/%6Detrics",
    b"/%4Detrics",
    b"/m%65trics",
    b"/%6D%65%74%72%69%63%73",
    b"/%256detrics",
    b"/%25366detrics",
    b"/%2e/metrics",
    b"/%2E%2E/metrics",
    b"//metrics",
    b"///metrics",
    b"/./metrics",
    b"/a/../metrics",
    b"/metrics/.",
    b"/metrics%2F",
    b"/metrics%2f",
    b"/metrics%2Fx",
    b"/metrics%00",
    b"/metrics%",
    b"/%FF",
    b"/api/%6cogs",
]
OTHER_SPELLINGS = [
    b"/METRICS",
    b"/Metrics",
    b"/mEtRiCs",
    b"/Metrics/",
    b"/metrics/",
    b"/metrics;x",
    b"/metrics%3Bx",
    b"/metrics/x",
    b"/METRICS/x",
    b"/metrics.txt",
    b"/metrics%20",
]
CASES = [
    *SERVED,
    *((target, 400) for target in NON_CANONICAL),
    *((target, 404) for target in OTHER_SPELLINGS),
]
PROXY_HEADERS = [
    (b"x-forwarded-for", b"203.0.113.7"),
    (b"x-forwarded-proto", b"https"),
    (b"x-forwarded-port", b"443"),
    (b"x-amzn-trace-id", b"Root=1-67891233-abcdef012345678912345678"),
    (b"cf-ray", b"8f0f0f0f0f0f0f0f-LAX"),
    (b"cf-connecting-ip", b"203.0.113.7"),
    (b"forwarded", b"for=203.0.113.7"),
]
ALB_HEADERS = [
    (b"x-forwarded-for", b"198.51.100.4, 172.70.1.1"),
    (b"x-forwarded-proto", b"https"),
    (b"x-forwarded-port", b"443"),
    (b"x-amzn-trace-id", b"Root=1-67891233-abcdef012345678912345678"),
]
"""What the load balancer adds to every request it forwards."""


def test_metrics_is_the_only_internal_path():
    assert INTERNAL_PATHS == (METRICS_PATH,)


# --- in process -------------------------------------------------------------------------------


@pytest.fixture
def app(clean_environment):
    return create_app(Settings(), static_app=fake_static_files)


def call(app, target, method="GET", headers=()):
    """The service's answer to `target`, scoped as uvicorn scopes it: (status, body)."""
    raw_path, _, query = target.partition(b"?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path.decode("ascii")),
        "raw_path": raw_path,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    messages = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    asyncio.run(app(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return messages[0]["status"], body


@pytest.mark.parametrize(("target", "status"), CASES)
def test_in_process(app, target, status):
    answered, body = call(app, target)
    assert answered == status
    if status != 200:
        assert EXPOSITION not in body
        code = "non_canonical_path" if status == 400 else "not_found"
        assert json.loads(body)["error"]["code"] == code
    else:
        assert body.startswith(EXPOSITION)


@pytest.mark.parametrize("header", PROXY_HEADERS, ids=lambda header: header[0].decode())
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_in_process_through_a_proxy(app, header, method):
    status, body = call(app, METRICS_PATH.encode(), method, [header])
    assert status == 404
    assert EXPOSITION not in body


def test_in_process_as_the_load_balancer_forwards(app):
    assert call(app, b"/metrics", headers=ALB_HEADERS)[0] == 404
    assert call(app, b"/health", headers=ALB_HEADERS)[0] == 200


@pytest.mark.parametrize(
    "target", [b"/health", b"/caf%C3%A9", b"/caf%c3%a9", b"/metrics-dashboard", b"/booking/"]
)
def test_in_process_ordinary_paths_are_untouched(app, target):
    assert call(app, target, headers=ALB_HEADERS)[0] == 200


# --- a real server ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = start_service(tmp_path_factory.mktemp("internal-paths"))
    yield running
    running.process.kill()
    running.process.wait(timeout=10)


def exchange(server: ServiceProcess, target: bytes, method=b"GET", headers=()):
    """Sends the request line and headers byte for byte: (status, body)."""
    port = int(server.base_url.rsplit(":", 1)[1])
    extra = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    request = method + b" " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(request + extra + b"\r\n")
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize(("target", "status"), CASES)
def test_real_server(server, target, status):
    answered, body = exchange(server, target)
    assert answered == status
    if status != 200:
        assert EXPOSITION not in body
    else:
        assert body.startswith(EXPOSITION)


@pytest.mark.parametrize("header", PROXY_HEADERS, ids=lambda header: header[0].decode())
def test_real_server_through_a_proxy(server, header):
    status, body = exchange(server, b"/metrics", headers=[header])
    assert status == 404
    assert EXPOSITION not in body


@pytest.mark.parametrize("target", [b"/metrics", b"/%6detrics", b"/METRICS", b"//metrics"])
def test_real_server_as_the_load_balancer_forwards(server, target):
    status, body = exchange(server, target, headers=ALB_HEADERS)
    assert status in (400, 404)
    assert EXPOSITION not in body


def test_real_server_absolute_form_through_a_proxy(server):
    status, body = exchange(server, b"http://x/metrics", headers=ALB_HEADERS)
    assert status == 404
    assert EXPOSITION not in body
    assert exchange(server, b"/health", headers=ALB_HEADERS)[0] == 200
