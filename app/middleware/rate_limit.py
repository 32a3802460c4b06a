"""Per-client fixed-window rate limiting for the ingestion endpoints: 429 with Retry-After.

The client is identified by its address. X-Forwarded-For is only believed as far as proxies we
run append to it: each proxy appends the address it received the connection from, so with
`trusted_hops` proxies in front (the ALB: 1; Cloudflare then the ALB: 2) the client is the
`trusted_hops`-th entry from the right. Entries to the left of that were written by the client
and are ignored, so a forged header cannot buy a fresh quota.

Counts live in this process: see Settings.per_worker_rate_limit for how the limit is shared
between worker processes.
"""

import math
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import send_error

OVERFLOW_CLIENT = "overflow"


def client_address(scope: Scope, trusted_hops: int) -> str:
    peer = scope.get("client")
    peer_host = peer[0] if peer else "unknown"
    if trusted_hops == 0:
        return peer_host
    for name, value in scope["headers"]:
        if name == b"x-forwarded-for":
            hops: list[str] = [hop.strip() for hop in value.decode("latin-1").split(",")]
            return hops[-trusted_hops] if len(hops) >= trusted_hops else hops[0]
    return peer_host


class FixedWindowLimiter:
    """At most `limit` hits per client in each window of `window_seconds`.

    All clients share window boundaries, so the table empties every window; it holds at most
    `max_clients` entries, beyond which new clients share one quota rather than grow memory.
    """

    def __init__(
        self,
        limit: int,
        window_seconds: int,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.max_clients = max_clients
        self.clock = clock
        self.window_end = 0.0
        self.counts: dict[str, int] = {}

    def hit(self, client: str) -> int | None:
        """Counts a hit; returns None when allowed, else the seconds until the window resets."""
        now = self.clock()
        if now >= self.window_end:
            self.counts.clear()
            self.window_end = now + self.window_seconds
        if client not in self.counts and len(self.counts) >= self.max_clients:
            client = OVERFLOW_CLIENT
        count = self.counts.get(client, 0) + 1
        self.counts[client] = count
        if count <= self.limit:
            return None
        return max(1, math.ceil(self.window_end - now))


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: FixedWindowLimiter, trusted_hops: int) -> None:
        self.app = app
        self.limiter = limiter
        self.trusted_hops = trusted_hops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        retry_after = self.limiter.hit(client_address(scope, self.trusted_hops))
        if retry_after is None:
            await self.app(scope, receive, send)
            return
        await send_error(
            scope,
            send,
            429,
            "rate_limited",
            f"more than {self.limiter.limit} requests in {self.limiter.window_seconds} s; "
            f"retry after {retry_after} s",
            extra_headers=[(b"retry-after", str(retry_after).encode())],
        )
