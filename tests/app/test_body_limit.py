"""The body cap: 413 by Content-Length or by counting, and a 413 that real clients can read.

Clients send the whole body before they read the answer, so the middleware reads and discards
the rest of an oversized body (within a bound of bytes and time) before it answers; the last
tests count, over 20 sends each, how many times Python's urllib and a chunked http.client see the
413 from a real server process (before this: urllib 11 of 20, chunked http.client 19 of 20, the
others a connection reset or a broken pipe).
"""

import asyncio
import http.client
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from app.middleware.body_limit import BodyLimitMiddleware

SENDS = 20


async def echo_length(scope, receive, send):
    size = 0
    more = True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def call(headers, chunks, max_bytes=100, **bounds):
    sent = []
    pending = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]

    async def receive():
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/logs", "headers": headers}
    asyncio.run(BodyLimitMiddleware(echo_length, max_bytes, **bounds)(scope, receive, send))
    return sent[0]["status"], sent[1]["body"], len(pending), dict(sent[0]["headers"])


def test_declared_length_over_the_cap_is_drained_then_refused():
    """Behaviour change: the body is read (and thrown away) before the 413, so the client,
    still sending, is not reset; it used to be answered without reading."""
    status, _, unread, headers = call([(b"content-length", b"101")], [b"x" * 50, b"x" * 51])
    assert (status, unread) == (413, 0)
    assert headers[b"connection"] == b"close"


def test_declared_length_beyond_the_drain_bound_is_refused_without_reading():
    status, _, unread, headers = call(
        [(b"content-length", b"1000")], [b"x" * 500, b"x" * 500], drain_bytes=100
    )
    assert (status, unread) == (413, 2)
    assert headers[b"connection"] == b"close"


def test_a_client_waiting_for_100_continue_gets_the_413_at_once():
    headers = [(b"content-length", b"150"), (b"expect", b"100-continue")]
    status, _, unread, _ = call(headers, [b"x" * 150])
    assert (status, unread) == (413, 1)


def test_streamed_body_over_the_cap_is_drained_then_refused():
    status, body, unread, headers = call([], [b"x" * 60, b"x" * 60, b"x" * 60, b"x" * 60])
    assert (status, unread) == (413, 0)
    assert b"body_too_large" in body
    assert headers[b"connection"] == b"close"


def test_streamed_body_is_drained_only_up_to_the_bound():
    status, _, unread, _ = call([], [b"x" * 60] * 10, drain_bytes=100)
    assert status == 413
    # Read: 60 + 60 (over the cap), then until more than cap + drain_bytes = 200 bytes.
    assert unread == 10 - 4


def test_draining_stops_after_the_time_bound():
    async def run():
        sent = []
        first = True

        async def receive():
            nonlocal first
            if first:
                first = False
                return {"type": "http.request", "body": b"x" * 150, "more_body": True}
            await asyncio.sleep(60)  # a client that stops sending
            raise AssertionError("unreachable")

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
        middleware = BodyLimitMiddleware(echo_length, 100, drain_seconds=0.2)
        started = time.monotonic()
        await middleware(scope, receive, send)
        return sent[0]["status"], time.monotonic() - started

    status, elapsed = asyncio.run(run())
    assert status == 413
    assert elapsed < 2


def test_a_disconnect_while_draining_ends_it():
    messages = [
        {"type": "http.request", "body": b"x" * 150, "more_body": True},
        {"type": "http.request", "body": b"x" * 10, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    asyncio.run(BodyLimitMiddleware(echo_length, 100)(scope, receive, send))
    assert sent[0]["status"] == 413
    assert messages == []


def test_body_within_the_cap_passes():
    assert call([(b"content-length", b"100")], [b"x" * 50, b"x" * 50])[:2] == (200, b"100")


@pytest.mark.parametrize("length", [b"12abc", b"-1", b"1" * 5000, b""])
def test_non_numeric_content_length_is_400(length):
    assert call([(b"content-length", length)], [b""])[0] == 400


def test_app_answers_413_with_a_json_body(make_client):
    client = make_client(max_body_bytes=1024)
    response = client.post(
        "/api/logs", content=b"[" + b" " * 2000 + b"]", headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert response.headers["connection"] == "close"


# --- real clients against a real server process ------------------------------------------------

CAP = 64 * 1024
OVERSIZED = 1024 * 1024
"""16 times the cap, within the drain bound (cap + 4 MiB)."""


def urllib_post(base_url: str) -> int | str:
    request = urllib.request.Request(  # noqa: S310 (an http:// URL on loopback)
        f"{base_url}/api/logs", data=b"x" * OVERSIZED, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.read()
        return error.code
    except OSError as error:
        return type(error).__name__


def chunked_post(base_url: str) -> int | str:
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    chunks = (b"x" * 16384 for _ in range(OVERSIZED // 16384))
    try:
        connection.request(
            "POST",
            "/api/logs",
            body=chunks,
            headers={"content-type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError as error:
        return type(error).__name__
    finally:
        connection.close()


@pytest.mark.network
@pytest.mark.parametrize("client", [urllib_post, chunked_post], ids=["urllib", "chunked"])
def test_every_client_reads_the_413(service, client):
    running = service(MAX_BODY_BYTES=str(CAP), RATE_LIMIT="100000")
    outcomes = [client(running.base_url) for _ in range(SENDS)]
    assert outcomes == [413] * SENDS
