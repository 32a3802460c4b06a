"""uvicorn's httptools protocol, bounded, answering its own errors as the app does, and draining.

`HardenedHttpToolsProtocol` is what `python -m app serve` gives uvicorn as its HTTP protocol
(`http="app.http_server.protocol:HardenedHttpToolsProtocol"`). It subclasses uvicorn's
HttpToolsProtocol and keeps its parser, request cycle, pipelining and flow control; it adds:

- Bounds (app.http_server.limits): a head larger than `max_head_bytes` gets 431, counted as
  bytes arrive (so a head trickled in never buffers more) and again once the head is parsed (a
  head arriving in one read); a head slower than `header_timeout` gets 408 (a connection that
  never sent a byte is closed silently); a body slower than `body_timeout` ends the request as a
  malformed body does (below). A per-worker cap on open connections: at the cap, a new
  connection closes the one that has waited longest without a request in the app (idle
  keep-alive, or a head or body still arriving), so floods of idle or trickling connections
  cannot starve /health of file descriptors.
- The server's own answers (malformed request line or headers, bad chunked encoding, a head too
  large or too slow) go through the same middleware as every response: security headers,
  X-Request-ID and one JSON access line (route `protocol_error`), with the app's JSON error
  body. uvicorn's own path (`send_400_response`) wrote a bare text/plain 400 and logged a
  warning without a request id. After an error response the connection closes lingering: FIN
  first, the rest of the request read and discarded for up to `linger` seconds, so the answer is
  not lost to a TCP reset.
- A malformed or late body: if the app has not started on the request, the protocol answers it
  instead; if the app is reading the body, its `receive` returns `http.disconnect` (the
  ingestion endpoints answer 400 `client_disconnected`) and the protocol answers only when the
  app returned without a response. A body still arriving after its response was sent is not
  waited for: the connection closes.
- A drain that resets nothing: at shutdown (SIGTERM) uvicorn closed idle keep-alive connections
  at once, so a request already on its way met a reset. Here every request that arrives on an
  open connection during the grace period (`timeout_graceful_shutdown`, less
  DRAIN_MARGIN_SECONDS) is answered with `Connection: close`; idle connections close when it
  ends, or as soon as their client closes them.

It never upgrades a connection (the service has no WebSocket endpoint; serve with ws="none"):
an Upgrade request is answered as plain HTTP.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar, cast
from urllib.parse import unquote
from weakref import WeakKeyDictionary

import httptools
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from app.asgi import response_layers
from app.errors import send_error
from app.http_server.limits import ConnectionLimits, default_limits
from app.settings import Settings, get_settings

PROTOCOL_ERROR_ROUTE = "protocol_error"
"""The `route` of the access lines and metrics of the server's own answers."""
ERROR_STATE_KEY = "protocol_error"
DRAIN_MARGIN_SECONDS = 1.0
"""Idle connections close this long before the grace period ends, ahead of uvicorn's deadline."""
CAP_WARNING_INTERVAL_SECONDS = 10.0

logger = logging.getLogger("app.http_server")


@dataclass(frozen=True)
class ProtocolError:
    status: int
    code: str
    message: str


BAD_REQUEST = ProtocolError(400, "bad_request", "malformed HTTP request")
BAD_BODY = ProtocolError(400, "bad_request", "malformed HTTP request body")


async def answer_protocol_error(scope: Scope, receive: Receive, send: Send) -> None:
    error: ProtocolError = scope["state"][ERROR_STATE_KEY]
    await send_error(scope, send, error.status, error.code, error.message)


class _ErrorApp:
    """The middleware of app.asgi around `answer_protocol_error`, for the current settings."""

    settings: Settings | None = None
    app: ASGIApp = answer_protocol_error

    @classmethod
    def get(cls) -> ASGIApp:
        settings = get_settings()
        if settings is not cls.settings:
            cls.app = response_layers(
                settings, answer_protocol_error, lambda _path: PROTOCOL_ERROR_ROUTE
            )
            cls.settings = settings
        return cls.app


async def receive_nothing() -> Message:
    return {"type": "http.disconnect"}


def status_line(status: int) -> bytes:
    return b"HTTP/1.1 %d %s\r\n" % (status, HTTPStatus(status).phrase.encode())


class HeadTooLarge(Exception):
    """Raised in a parser callback: the parser stops and reports an error."""


@dataclass(frozen=True)
class Failure:
    """A request whose body broke (malformed or too slow) after its head was parsed."""

    cycle: RequestResponseCycle
    error: ProtocolError


class ConnectionTable:
    """One server's connections that may be closed to make room, longest waiting first."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.waiting: dict[HardenedHttpToolsProtocol, None] = {}
        self.evicted = 0
        self.refused = 0
        self.warned_at = -CAP_WARNING_INTERVAL_SECONDS

    def admit(self, connection: "HardenedHttpToolsProtocol", open_connections: int) -> bool:
        if open_connections > self.cap:
            victim = next(iter(self.waiting), None)
            if victim is None:
                self.refused += 1
                self._warn()
                return False
            self.evicted += 1
            victim.evict()
            self._warn()
        self.waiting[connection] = None
        return True

    def waiting_again(self, connection: "HardenedHttpToolsProtocol") -> None:
        self.waiting.pop(connection, None)
        self.waiting[connection] = None

    def forget(self, connection: "HardenedHttpToolsProtocol") -> None:
        self.waiting.pop(connection, None)

    def _warn(self) -> None:
        now = time.monotonic()
        if now - self.warned_at < CAP_WARNING_INTERVAL_SECONDS:
            return
        fields = {
            "event": "connection_cap",
            "cap": self.cap,
            "evicted": self.evicted,
            "refused": self.refused,
        }
        logger.warning("connection cap reached", extra={"fields": fields})
        self.warned_at = now
        self.evicted = self.refused = 0


_tables: "WeakKeyDictionary[ServerState, ConnectionTable]" = WeakKeyDictionary()


def table_for(server_state: ServerState, cap: int) -> ConnectionTable:
    table = _tables.get(server_state)
    if table is None:
        table = _tables[server_state] = ConnectionTable(cap)
    return table


class HardenedHttpToolsProtocol(HttpToolsProtocol):
    limits: ClassVar[ConnectionLimits | None] = None
    """None: app.http_server.limits.default_limits(), resolved in each worker process."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        cls = type(self)
        if cls.limits is None:
            cls.limits = default_limits()
        self.bounds: ConnectionLimits = cls.limits
        self.table = table_for(server_state, self.bounds.max_connections)
        self.application = cast(ASGIApp, self.app)
        self.app = self.run_app
        self.url = b""
        self.reading_head = True
        self.head_begun = False
        self.head_bytes = 0
        self.head_too_large = False
        self.reading_body = False
        self.discarding = False
        self.draining = False
        self.running_scope: Scope | None = None
        self.failure: Failure | None = None
        self.pending_error: Scope | None = None
        self.header_timer: asyncio.TimerHandle | None = None
        self.body_timer: asyncio.TimerHandle | None = None
        self.drain_timer: asyncio.TimerHandle | None = None
        self.linger_timer: asyncio.TimerHandle | None = None

    # --- connection ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.table.admit(self, len(self.connections)):
            self.transport.close()
            return
        self.header_timer = self.loop.call_later(self.bounds.header_timeout, self.header_late)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.table.forget(self)
        for timer in (self.header_timer, self.body_timer, self.drain_timer, self.linger_timer):
            if timer is not None:
                timer.cancel()

    def evict(self) -> None:
        """Closed to make room for a new connection (ConnectionTable.admit)."""
        self.stop_reading()
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.discarding:
            return
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        if self.reading_head:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # nothing is upgraded: the request was answered as plain HTTP
        except httptools.HttpParserError:
            self.parser_failed()
            return
        if self.discarding:
            return
        if self.reading_head:
            if self.head_bytes > self.bounds.max_head_bytes:
                self.fail_head(self.head_too_large_error())
            elif self.head_begun and self.header_timer is None:
                self.header_timer = self.loop.call_later(
                    self.bounds.header_timeout, self.header_late
                )
        elif self.reading_body and self.body_timer is None:
            self.body_timer = self.loop.call_later(self.bounds.body_timeout, self.body_late)

    def parser_failed(self) -> None:
        if self.head_too_large:
            self.fail_head(self.head_too_large_error())
        elif self.reading_body:
            self.fail_body(BAD_BODY)
        else:
            self.fail_head(BAD_REQUEST)

    # --- parser callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_begun = True

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.bounds.max_head_bytes:
            self.head_too_large = True
            raise HeadTooLarge
        super().on_headers_complete()
        self.reading_head = self.head_begun = False
        self.reading_body = True
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None
        if self.draining:
            self.cycle.keep_alive = False

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.reading_body = False
        self.reading_head = True
        self.head_bytes = 0
        if self.body_timer is not None:
            self.body_timer.cancel()
            self.body_timer = None
        self.table.forget(self)  # busy in the app until its response is complete

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if self.reading_body and self.cycle.response_complete:
            # Answered before its body arrived: the rest is not waited for.
            self.stop_reading()
            self.close_lingering()
        elif self.pending_error is not None:
            if not self.pipeline and self.cycle.response_complete:
                scope, self.pending_error = self.pending_error, None
                self.answer_error(scope)
        else:
            self.table.waiting_again(self)

    # --- the app, and the answers of the protocol itself ------------------------------------

    async def run_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Every request's app: the service, unless the request broke before it started."""
        failure = self.failure_of(scope)
        if failure is not None:
            await self.answer_in_cycle(scope, failure.error, send)
            return
        self.running_scope = scope

        async def guarded_receive() -> Message:
            if self.failure_of(scope) is None:
                message = await receive()
                if self.failure_of(scope) is None:
                    return message
            return {"type": "http.disconnect"}

        await self.application(scope, guarded_receive, send)
        failure = self.failure_of(scope)
        if failure is not None and not failure.cycle.response_started:
            await self.answer_in_cycle(scope, failure.error, send)

    def failure_of(self, scope: Scope) -> Failure | None:
        failure = self.failure
        return failure if failure is not None and failure.cycle.scope is scope else None

    async def answer_in_cycle(self, scope: Scope, error: ProtocolError, send: Send) -> None:
        state = {**(scope.get("state") or {}), ERROR_STATE_KEY: error}
        await _ErrorApp.get()({**scope, "state": state}, receive_nothing, send)

    def fail_head(self, error: ProtocolError) -> None:
        """The request being read has no cycle yet: the protocol answers it itself."""
        self.stop_reading()
        scope = self.error_scope(error)
        if self.pipeline or (self.cycle is not None and not self.cycle.response_complete):
            self.pending_error = scope  # answered once the earlier responses are complete
        else:
            self.answer_error(scope)

    def fail_body(self, error: ProtocolError) -> None:
        self.stop_reading()
        self.reading_body = False
        cycle = self.cycle
        cycle.keep_alive = False
        if cycle.response_complete:
            self.close_lingering()
            return
        self.failure = Failure(cycle, error)
        if self.running_scope is cycle.scope:
            cycle.message_event.set()  # wakes the app's receive, which now says disconnect

    def answer_error(self, scope: Scope) -> None:
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        task = self.loop.create_task(self.answer(scope))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    async def answer(self, scope: Scope) -> None:
        await _ErrorApp.get()(scope, receive_nothing, self.write_error)

    async def write_error(self, message: Message) -> None:
        if self.transport.is_closing():
            return
        if message["type"] == "http.response.start":
            content = [status_line(message["status"])]
            for name, value in [*self.server_state.default_headers, *message["headers"]]:
                content.extend((name, b": ", value, b"\r\n"))
            content.append(b"connection: close\r\n\r\n")
            self.transport.write(b"".join(content))
        elif message["type"] == "http.response.body":
            self.transport.write(message.get("body", b""))
            if not message.get("more_body", False):
                self.close_lingering()

    def error_scope(self, error: ProtocolError) -> Scope:
        method, path, raw_path, query = "-", "-", b"", b""
        if self.head_begun and self.url:
            method = self.parser.get_method().decode("ascii", "replace")
            try:
                parsed = httptools.parse_url(self.url)
            except httptools.HttpParserError:
                pass
            else:
                raw_path, query = parsed.path or b"", parsed.query or b""
                path = unquote(raw_path.decode("latin-1"))
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "scheme": self.scheme,
            "server": self.server,
            "client": self.client,
            "root_path": self.root_path,
            "method": method,
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "headers": list(self.headers) if self.head_begun and self.headers else [],
            "state": {ERROR_STATE_KEY: error},
        }

    def head_too_large_error(self) -> ProtocolError:
        limit = self.bounds.max_head_bytes
        return ProtocolError(
            431, "headers_too_large", f"the request line and headers exceed {limit} bytes"
        )

    # --- ending connections ----------------------------------------------------------------

    def stop_reading(self) -> None:
        """Nothing more is parsed on this connection; what arrives is discarded."""
        self.discarding = True
        self.table.forget(self)
        for timer in (self.header_timer, self.body_timer):
            if timer is not None:
                timer.cancel()
        self.header_timer = self.body_timer = None

    def close_lingering(self) -> None:
        if self.transport.is_closing():
            return
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()  # the client reads the answer, then end of stream
        self.flow.resume_reading()
        self.linger_timer = self.loop.call_later(self.bounds.linger, self.transport.close)

    def header_late(self) -> None:
        self.header_timer = None
        if self.transport.is_closing() or self.discarding:
            return
        if not self.head_begun:
            self.stop_reading()
            self.transport.close()  # opened, and never sent a request
            return
        timeout = self.bounds.header_timeout
        self.fail_head(
            ProtocolError(
                408, "request_timeout", f"the request headers took longer than {timeout:g} s"
            )
        )

    def body_late(self) -> None:
        self.body_timer = None
        if self.transport.is_closing() or self.discarding or not self.reading_body:
            return
        timeout = self.bounds.body_timeout
        self.fail_body(
            ProtocolError(
                408, "request_timeout", f"the request body took longer than {timeout:g} s"
            )
        )

    def shutdown(self) -> None:
        """Called by uvicorn once the server drains (SIGTERM): no more keep-alive."""
        self.draining = True
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.keep_alive = False
            return
        grace = self.config.timeout_graceful_shutdown
        delay = max(0.0, grace - DRAIN_MARGIN_SECONDS) if grace is not None else 0.0
        self.drain_timer = self.loop.call_later(delay, self.close_if_idle)

    def close_if_idle(self) -> None:
        self.drain_timer = None
        if self.transport.is_closing() or self.head_begun:
            return  # a request arriving ends with Connection: close; its timeouts still apply
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()
