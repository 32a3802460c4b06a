"""Request id, access log, request metrics and the last-resort 500, in one pass over `send`.

The request id comes from X-Request-ID when it is short and made of safe characters, else a new
one is generated; it is echoed in the response, kept in `scope["state"]["request_id"]` and in a
context variable that every log line reads.

The access log is one JSON line per request with the fields `timestamp`, `level`, `logger`
("access"), `event` ("http_request"), `request_id`, `method`, `path` (never the query string,
which may hold tokens), `route`, `status`, `duration_ms` and `bytes` (response body bytes).
"""

import logging
import os
import re
import time
from collections.abc import Callable
from json.encoder import encode_basestring

import sentry_sdk
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import send_error
from app.logging_setup import request_id_var, utc_timestamp, write_text
from app.metrics import observe_request

REQUEST_ID_HEADER = b"x-request-id"
VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
MAX_LOGGED_PATH = 512

ACCESS_LINE = (
    '{"timestamp":"%s","level":"INFO","logger":"access","event":"http_request",'
    '"request_id":"%s","method":%s,"path":%s,"route":%s,"status":%d,"duration_ms":%.3f,'
    '"bytes":%d}\n'
)

logger = logging.getLogger("app.errors")


def access_line(
    scope: Scope, request_id: str, route: str, *, status: int, seconds: float, size: int
) -> str:
    """The access log line, formatted directly: it is written for every request.

    The request id is already restricted to a safe character set; the rest is JSON-escaped.
    """
    return ACCESS_LINE % (
        utc_timestamp(),
        request_id,
        encode_basestring(scope["method"]),
        encode_basestring(scope["path"][:MAX_LOGGED_PATH]),
        encode_basestring(route),
        status,
        seconds * 1000,
        size,
    )


def incoming_request_id(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            return value if VALID_REQUEST_ID.fullmatch(value) else None
    return None


class RequestContextMiddleware:
    def __init__(
        self, app: ASGIApp, route_of: Callable[[str], str], access_log: bool = True
    ) -> None:
        self.app = app
        self.route_of = route_of
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        request_id_bytes = incoming_request_id(scope) or os.urandom(16).hex().encode()
        request_id = request_id_bytes.decode()
        request_id_var.set(request_id)
        state = scope.get("state")
        scope["state"] = (
            {**state, "request_id": request_id} if state else {"request_id": request_id}
        )
        status = 500
        body_bytes = 0
        response_started = False

        async def send_with_context(message: Message) -> None:
            nonlocal status, body_bytes, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", ()),
                    (REQUEST_ID_HEADER, request_id_bytes),
                ]
            elif message["type"] == "http.response.body":
                body_bytes += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_with_context)
        except Exception as error:
            logger.exception(
                "unhandled error",
                extra={"fields": {"event": "unhandled_error", "path": scope["path"]}},
            )
            sentry_sdk.capture_exception(error)
            if not response_started:
                await send_error(
                    scope, send_with_context, 500, "internal_error", "internal server error"
                )
        finally:
            elapsed = time.perf_counter() - started_at
            route = self.route_of(scope["path"])
            observe_request(route, scope["method"], status, elapsed)
            if self.access_log:
                line = access_line(
                    scope, request_id, route, status=status, seconds=elapsed, size=body_bytes
                )
                write_text(line)
