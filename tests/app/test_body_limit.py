import asyncio

from app.middleware.body_limit import BodyLimitMiddleware


async def echo_length(scope, receive, send):
    size = 0
    more = True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def call(headers, chunks, max_bytes=100):
    sent = []
    pending = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]

    async def receive():
        return pending.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/logs", "headers": headers}
    asyncio.run(BodyLimitMiddleware(echo_length, max_bytes)(scope, receive, send))
    return sent[0]["status"], sent[1]["body"], len(pending)


def test_declared_length_over_the_cap_is_refused_without_reading():
    status, _, unread = call([(b"content-length", b"101")], [b"x" * 101])
    assert (status, unread) == (413, 1)


def test_streamed_body_over_the_cap_is_refused():
    status, body, _ = call([], [b"x" * 60, b"x" * 60, b"x" * 60])
    assert status == 413
    assert b"body_too_large" in body


def test_body_within_the_cap_passes():
    assert call([(b"content-length", b"100")], [b"x" * 50, b"x" * 50])[:2] == (200, b"100")


def test_non_numeric_content_length_is_400():
    assert call([(b"content-length", b"12abc")], [b""])[0] == 400


def test_app_answers_413_with_a_json_body(make_client):
    client = make_client(max_body_bytes=1024)
    response = client.post(
        "/api/logs", content=b"[" + b" " * 2000 + b"]", headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
