"""Refuses request bodies above a size with 413: by Content-Length, and by counting what arrives.

Counting matters because a chunked body has no Content-Length.

A 413 the client can read: most HTTP clients send the whole body before they read the answer, so
a server that answers and closes while the body is still arriving makes the client's kernel see a
reset, and the client reports a broken connection instead of the 413. So before answering, the
rest of the body is read and thrown away, within a bound: at most `drain_bytes` beyond the cap
and `drain_seconds` of waiting. Past the bound (a declared length already beyond it, more bytes,
or a client too slow) the 413 is sent at once; the connection is closed after every 413
(`Connection: close`), so nothing left unread can be taken for the next request.
A client that asked `Expect: 100-continue` and has not been told to continue has sent nothing:
it gets the 413 at once, which is what it waits for.
"""

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import send_error

DRAIN_BYTES = 4 * 1024 * 1024
DRAIN_SECONDS = 5.0


class BodyTooLarge(Exception):
    pass


def declared_length(scope: Scope) -> int | None:
    """Content-Length as sent; ValueError when it is not a non-negative integer."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit() or len(value) > 18:
                raise ValueError("Content-Length is not a number")
            return int(value)
    return None


def expects_continue(scope: Scope) -> bool:
    return any(
        name == b"expect" and value.strip().lower() == b"100-continue"
        for name, value in scope["headers"]
    )


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        *,
        drain_bytes: int = DRAIN_BYTES,
        drain_seconds: float = DRAIN_SECONDS,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.drain_bytes = drain_bytes
        self.drain_seconds = drain_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            declared = declared_length(scope)
        except ValueError as error:
            await send_error(scope, send, 400, "bad_content_length", str(error))
            return
        if declared is not None and declared > self.max_bytes:
            if declared <= self.max_bytes + self.drain_bytes and not expects_continue(scope):
                await self._drain(receive, 0)
            await self._refuse(scope, send)
            return
        received = 0
        body_complete = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, body_complete
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_complete = not message.get("more_body", False)
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if response_started:
                raise
            if not body_complete:
                await self._drain(receive, received)
            await self._refuse(scope, send)

    async def _drain(self, receive: Receive, received: int) -> None:
        """Reads and discards the rest of the body, within the byte and time bounds."""
        limit = self.max_bytes + self.drain_bytes
        with anyio.move_on_after(self.drain_seconds):
            while received <= limit:
                message = await receive()
                if message["type"] != "http.request":
                    return
                received += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return

    async def _refuse(self, scope: Scope, send: Send) -> None:
        await send_error(
            scope,
            send,
            413,
            "body_too_large",
            f"the request body is larger than {self.max_bytes} bytes",
            extra_headers=[(b"connection", b"close")],
        )
