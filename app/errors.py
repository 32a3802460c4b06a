"""JSON responses written straight to ASGI `send`, and the one error body shape.

Errors look like `{"error": {"code": ..., "message": ..., "requestId": ...}}`, plus `details`
for validation problems. Bodies never carry stack traces or the rejected input.
"""

import json
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.types import Scope, Send

JSON_NO_STORE = ((b"content-type", b"application/json"), (b"cache-control", b"no-store"))

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


async def send_body(
    send: Send,
    status: int,
    body: bytes,
    headers: Iterable[tuple[bytes, bytes]] = JSON_NO_STORE,
    *,
    head: bool = False,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})


async def send_json(
    scope: Scope,
    send: Send,
    status: int,
    payload: Mapping[str, Any],
    extra_headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    await send_body(
        send,
        status,
        _encode(payload).encode(),
        [*JSON_NO_STORE, *extra_headers],
        head=scope.get("method") == "HEAD",
    )


def error_payload(scope: Scope, code: str, message: str, **details: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    request_id = scope.get("state", {}).get("request_id")
    if request_id:
        error["requestId"] = request_id
    error.update(details)
    return {"error": error}


async def send_error(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    message: str,
    *,
    extra_headers: Iterable[tuple[bytes, bytes]] = (),
    **details: Any,
) -> None:
    await send_json(
        scope, send, status, error_payload(scope, code, message, **details), extra_headers
    )


async def method_not_allowed(scope: Scope, send: Send, allowed: str) -> None:
    await send_error(
        scope,
        send,
        405,
        "method_not_allowed",
        f"{scope['method']} is not allowed here; use {allowed}",
        extra_headers=[(b"allow", allowed.encode())],
    )


async def api_not_found(scope: Scope, send: Send) -> None:
    await send_error(scope, send, 404, "not_found", "no such API endpoint")
