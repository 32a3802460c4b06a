"""The connection layer's bounds, its own answers and its drain, against real servers on loopback.

Most tests drive `python -m app serve` (one worker) with raw sockets; the timeout tests run the
same protocol class in-process with short limits (app.http_server.limits holds the real ones).
"""

import asyncio
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from app.asgi import create_app
from app.http_server.limits import ConnectionLimits, burst_headroom, connection_cap
from app.http_server.protocol import PROTOCOL_ERROR_ROUTE, HardenedHttpToolsProtocol
from app.settings import Settings
from tests.app.conftest import REPO_ROOT, child_environment, fake_static, free_port

pytestmark = pytest.mark.network

HEALTH = b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


class Connection:
    """A raw client connection that reads HTTP/1.1 responses framed by Content-Length."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> Reply:
        """The next response; EOFError when the server closes first."""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Reply(int(status_line.split()[1]), headers, body)

    def at_end(self, wait: float | None = None) -> bool:
        """True once the server has closed the connection (end of stream, not a reset);
        False if data arrives, or nothing within `wait` seconds when given."""
        if wait is not None:
            self.sock.settimeout(wait)
        try:
            self._fill()
        except EOFError:
            return True
        except TimeoutError:
            if wait is None:
                raise
        return False

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    output_path: Path

    def access_lines(self, request_id: str, *, wait: float = 2.0) -> list[dict[str, Any]]:
        """The access log lines of one request id (waiting a little for stdout to flush)."""
        deadline = time.monotonic() + wait
        while True:
            lines = [
                json.loads(line)
                for line in self.output_path.read_text().splitlines()
                if '"logger":"access"' in line
            ]
            found = [line for line in lines if line["request_id"] == request_id]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def descriptors(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))


def launch(directory: Path, descriptor_limit: int | None = None, **env: str) -> Server:
    """`python -m app serve` with one worker on a free port, optionally with fewer descriptors."""
    port = free_port()
    environment = child_environment(PORT=str(port), HOST="127.0.0.1", WEB_CONCURRENCY="1", **env)
    output_path = directory / f"server-{port}.log"
    with output_path.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"],
            cwd=REPO_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    if descriptor_limit is not None:
        # Before the interpreter has even imported the app: the worker reads its limit later.
        resource.prlimit(process.pid, resource.RLIMIT_NOFILE, (descriptor_limit,) * 2)
    server = Server(process, port, output_path)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert process.poll() is None, output_path.read_text()
        try:
            connection = Connection(port, timeout=1)
            connection.send(b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            if connection.reply().status == 200:
                connection.close()
                return server
        except (OSError, EOFError):
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"no /health in time:\n{output_path.read_text()}")


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.kill()
    server.process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    running = launch(tmp_path_factory.mktemp("limits"))
    yield running
    stop(running)


@pytest.fixture
def security_headers(clean_environment) -> dict[str, str]:
    return {name.lower(): value for name, value in Settings().security_headers().items()}


def assert_answered_like_the_app(reply: Reply, security_headers: dict[str, str]) -> str:
    """Security headers, a request id that the JSON error body repeats; returns the id."""
    for name, value in security_headers.items():
        assert reply.headers.get(name) == value, name
    request_id = reply.headers["x-request-id"]
    assert reply.json()["error"]["requestId"] == request_id
    assert reply.headers["content-type"] == "application/json"
    return request_id


PAD = b"X-Pad: " + b"a" * 17_000 + b"\r\n"
PROTOCOL_ERRORS = {
    "malformed request line": ([b"GARBAGE\r\n\r\n"], 400, "bad_request"),
    "TLS handshake on the HTTP port": (
        [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"],
        400,
        None,
    ),
    "control byte in the target": ([b"GET /a\x01b HTTP/1.1\r\nHost: t\r\n\r\n"], 400, None),
    "head over 16 KiB in one write": (
        [b"GET /health HTTP/1.1\r\nHost: t\r\nX-Request-ID: probe-431\r\n" + PAD + b"\r\n"],
        431,
        "headers_too_large",
    ),
    "head over 16 KiB trickled": (
        [b"GET /health HTTP/1.1\r\nHost: t\r\nX-Pad: ", *[b"a" * 3000] * 7],
        431,
        "headers_too_large",
    ),
    "bad chunk size": (
        [b"POST /api/logs HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n"],
        400,
        "bad_request",
    ),
    "Content-Length with chunked": (
        [
            b"POST /api/logs HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        ],
        400,
        "bad_request",
    ),
}


@pytest.mark.parametrize("case", list(PROTOCOL_ERRORS))
def test_the_servers_own_errors_carry_headers_a_request_id_and_one_access_line(
    server, security_headers, case
):
    parts, status, code = PROTOCOL_ERRORS[case]
    connection = Connection(server.port)
    for part in parts:
        connection.send(part)
        time.sleep(0.02 if len(parts) > 1 else 0)
    reply = connection.reply()
    assert reply.status == status
    if code is not None:
        assert reply.json()["error"]["code"] == code
    request_id = assert_answered_like_the_app(reply, security_headers)
    assert reply.headers["connection"] == "close"
    assert connection.at_end()
    if case == "head over 16 KiB in one write":
        assert request_id == "probe-431"
    (line,) = server.access_lines(request_id)
    assert (line["route"], line["status"], line["event"]) == (
        PROTOCOL_ERROR_ROUTE,
        status,
        "http_request",
    )


def test_garbage_after_a_pipelined_request_is_answered_after_it(server, security_headers):
    connection = Connection(server.port)
    connection.send(HEALTH + b"BAD\x01 / HTTP/1.1\r\n\r\n")
    first, second = connection.reply(), connection.reply()
    assert first.status == 200
    assert "connection" not in first.headers
    assert second.status == 400
    request_id = assert_answered_like_the_app(second, security_headers)
    assert connection.at_end()
    assert server.access_lines(request_id)[0]["route"] == PROTOCOL_ERROR_ROUTE


def test_a_body_that_breaks_while_the_app_reads_it_is_answered_by_the_app(server, security_headers):
    connection = Connection(server.port)
    connection.send(
        b"POST /api/logs HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b'Transfer-Encoding: chunked\r\n\r\n3\r\n{"a\r\n'
    )
    time.sleep(0.2)  # the endpoint is waiting for the rest of the body
    connection.send(b"zz\r\n")
    reply = connection.reply()
    assert reply.status == 400
    assert reply.json()["error"]["code"] == "client_disconnected"
    request_id = assert_answered_like_the_app(reply, security_headers)
    assert reply.headers["connection"] == "close"
    (line,) = server.access_lines(request_id)
    assert line["route"] == "/api/logs"


def test_an_idle_and_trickling_flood_leaves_health_answering_and_descriptors_bounded(tmp_path):
    descriptor_limit = 384
    cap = connection_cap(descriptor_limit)
    running = launch(tmp_path, descriptor_limit)
    try:
        baseline = running.descriptors()
        bound = baseline + cap + burst_headroom(descriptor_limit)
        assert bound < descriptor_limit
        stop_flood = threading.Event()
        latencies: list[float] = []
        failures: list[str] = []
        peak = [baseline]
        flood_started = time.monotonic()

        def probe_health() -> None:
            while not stop_flood.is_set():
                started = time.monotonic()
                step = "connect"
                try:
                    connection = Connection(running.port, timeout=1)
                    step = "reply"
                    connection.send(HEALTH)
                    status = connection.reply().status
                    connection.close()
                    latencies.append(time.monotonic() - started)
                    if status != 200:
                        failures.append(f"status {status}")
                except (OSError, EOFError) as error:
                    failures.append(f"{step} at {started - flood_started:.2f} s: {error!r}")
                time.sleep(0.05)

        def sample_descriptors() -> None:
            while not stop_flood.is_set():
                peak[0] = max(peak[0], running.descriptors())
                time.sleep(0.01)

        trickling = [Connection(running.port) for _ in range(20)]

        def slowloris() -> None:
            request = b"GET /health HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"a" * 500
            for index in range(len(request)):
                if stop_flood.is_set():
                    return
                for connection in trickling:
                    with suppress(OSError):
                        connection.send(request[index : index + 1])
                time.sleep(0.05)

        threads = [
            threading.Thread(target=f) for f in (probe_health, sample_descriptors, slowloris)
        ]
        for thread in threads:
            thread.start()
        idle = []
        for _ in range(3 * cap):
            try:
                idle.append(Connection(running.port, timeout=2))
            except OSError as error:
                failures.append(f"flood connect: {error!r}")
        time.sleep(2.5)
        stop_flood.set()
        for thread in threads:
            thread.join(timeout=10)
        closed_by_server = sum(connection.at_end(wait=0.05) for connection in idle[:cap])
        for connection in idle + trickling:
            connection.close()
    finally:
        stop(running)
    assert failures == [], (failures, peak, bound)
    assert len(latencies) >= 20
    assert max(latencies) < 1.0, (sorted(latencies)[-3:], peak, bound)
    assert peak[0] <= bound
    assert closed_by_server == cap  # the oldest idle connections made room for the newer ones
    assert '"event":"connection_cap"' in running.output_path.read_text()


def test_sigterm_answers_requests_on_idle_keep_alive_connections(tmp_path):
    running = launch(tmp_path, SHUTDOWN_GRACE_SECONDS="4")
    try:
        connections = [Connection(running.port) for _ in range(24)]
        for connection in connections:
            connection.send(HEALTH)
            assert connection.reply().status == 200
        never_used = Connection(running.port)
        running.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        outcomes: list[str] = []

        def use(connection: Connection, delay: float) -> None:
            time.sleep(delay)
            try:
                while True:  # until the server says close: early answers may still keep alive
                    connection.send(HEALTH)
                    reply = connection.reply()
                    if reply.status != 200:
                        outcomes.append(f"status {reply.status}")
                        return
                    if reply.headers.get("connection") == "close":
                        outcomes.append("answered" if connection.at_end() else "left open")
                        return
            except (OSError, EOFError) as error:
                outcomes.append(repr(error))

        delays = [index * 0.01 for index in range(22)] + [1.0, 2.0]
        threads = [
            threading.Thread(target=use, args=pair)
            for pair in zip(connections, delays, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert never_used.at_end()  # closed cleanly once the grace period (less a margin) ends
        closed_after = time.monotonic() - signalled
        assert running.process.wait(timeout=10) == 0
    finally:
        stop(running)
    assert outcomes == ["answered"] * 24
    assert 2.5 < closed_after < 5.0


# --- timeouts and the cap, in-process with short limits --------------------------------------

SHORT = ConnectionLimits(header_timeout=0.5, body_timeout=0.5, max_connections=4, linger=0.5)


async def slow_static(scope, receive, send):
    if scope["path"] == "/slow":
        await asyncio.sleep(1.5)
    await fake_static(scope, receive, send)


@contextmanager
def in_process_server(limits: ConnectionLimits) -> Iterator[int]:
    class Protocol(HardenedHttpToolsProtocol):
        pass

    Protocol.limits = limits
    config = uvicorn.Config(
        create_app(Settings(), static_app=slow_static),
        host="127.0.0.1",
        port=free_port(),
        loop="uvloop",
        http=Protocol,
        ws="none",
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "server exited"
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield config.port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def short_limits_port(clean_environment) -> Iterator[int]:
    with in_process_server(SHORT) as port:
        yield port


def test_a_connection_without_a_request_is_closed_after_the_header_timeout(short_limits_port):
    connection = Connection(short_limits_port)
    started = time.monotonic()
    assert connection.at_end()
    assert connection.buffer == b""
    assert 0.4 < time.monotonic() - started < 2.0


def test_a_trickled_head_gets_408_with_headers_and_an_access_line(
    short_limits_port, security_headers, capsys
):
    connection = Connection(short_limits_port)
    answered = threading.Event()

    def trickle() -> None:
        for byte in b"GET /health HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"a" * 100:
            if answered.is_set():
                return
            try:
                connection.send(bytes([byte]))
            except OSError:
                return
            time.sleep(0.05)

    started = time.monotonic()
    sender = threading.Thread(target=trickle)
    sender.start()
    reply = connection.reply()
    answered.set()
    sender.join(timeout=10)
    assert reply.status == 408
    request_id = assert_answered_like_the_app(reply, security_headers)
    assert 0.4 < time.monotonic() - started < 2.0
    assert connection.at_end()
    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if request_id in line
    ]
    assert [(line["status"], line["route"]) for line in lines] == [(408, PROTOCOL_ERROR_ROUTE)]


def test_a_body_slower_than_the_body_timeout_ends_the_request(short_limits_port, security_headers):
    connection = Connection(short_limits_port)
    started = time.monotonic()
    connection.send(
        b"POST /api/logs HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b'Content-Length: 200\r\n\r\n{"level":'
    )
    reply = connection.reply()
    assert reply.status == 400
    assert reply.json()["error"]["code"] == "client_disconnected"
    assert_answered_like_the_app(reply, security_headers)
    assert connection.at_end()
    assert 0.4 < time.monotonic() - started < 2.0


def test_a_body_the_app_did_not_read_is_not_waited_for(short_limits_port):
    connection = Connection(short_limits_port)
    connection.send(b"GET /health HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
    started = time.monotonic()
    assert connection.reply().status == 200
    assert connection.at_end()
    assert time.monotonic() - started < 0.4


def test_at_the_cap_a_new_connection_closes_the_longest_idle_one(short_limits_port):
    idle = [Connection(short_limits_port) for _ in range(SHORT.max_connections)]
    time.sleep(0.05)
    newcomer = Connection(short_limits_port)
    newcomer.send(HEALTH)
    assert newcomer.reply().status == 200
    assert idle[0].at_end()
    idle[1].send(HEALTH)
    assert idle[1].reply().status == 200


def test_at_the_cap_with_every_connection_busy_a_new_one_is_refused(short_limits_port):
    busy = [Connection(short_limits_port) for _ in range(SHORT.max_connections)]
    for connection in busy:
        connection.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.2)
    refused = Connection(short_limits_port)
    assert refused.at_end()
    assert refused.buffer == b""
    for connection in busy:
        assert connection.reply().status == 200
