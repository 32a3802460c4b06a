"""Refuses request bodies above a size with 413: by Content-Length, and by counting what arrives.

Counting matters because a chunked body has no Content-Length.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import send_error


class BodyTooLarge(Exception):
    pass


def declared_length(scope: Scope) -> int | None:
    """Content-Length as sent; ValueError when it is not a non-negative integer."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit():
                raise ValueError("Content-Length is not a number")
            return int(value)
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            declared = declared_length(scope)
        except ValueError as error:
            await send_error(scope, send, 400, "bad_content_length", str(error))
            return
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
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
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        await send_error(
            scope,
            send,
            413,
            "body_too_large",
            f"the request body is larger than {self.max_bytes} bytes",
            extra_headers=[(b"connection", b"close")],
        )
