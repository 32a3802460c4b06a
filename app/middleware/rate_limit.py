"""Per-client fixed-window rate limiting for the ingestion endpoints: 429 with Retry-After.

Who the client is
-----------------
X-Forwarded-For is only believed as far as proxies we run append to it. Every field of the
header counts: several `X-Forwarded-For` lines are one list, joined in the order they arrived
(RFC 9110 section 5.3), and a proxy appends to its end. With `trusted_hops` proxies in front (the
ALB: 1; Cloudflare then the ALB: 2, as deployed) the rightmost `trusted_hops` entries were
written by them and the client is the leftmost of those, the `trusted_hops`-th from the right.
Entries further left were written by the client itself and are never read, so prepending fake
entries cannot choose an identity. With fewer entries than hops the leftmost one is used (the
request passed fewer proxies, and each entry there was still written by one of ours).

An entry that is not an address (garbage, `unknown`, an obfuscated RFC 7239 name) never raises:
the next entry to its right is used, the address the next proxy of ours saw, which the client
cannot choose either; with none left, the socket peer. Ports (`1.2.3.4:5`, `[::1]:5`), brackets
and IPv6 zone ids are stripped; IPv4-mapped IPv6 addresses count as the IPv4 address.

An IPv6 client is counted per /64: a single subscriber usually holds a whole /64 (often more),
so counting single addresses would hand one machine 2**64 budgets.

The window and the table
------------------------
One `FixedWindowLimiter` is shared by all the ingestion routes (app/routes.py), so a client has
one budget across /api/logs, /api/metrics and /api/csp-reports. Windows are fixed and shared by
all clients: the table is emptied at each window's end, and a client is allowed `limit` hits per
window. The table holds at most `max_clients` clients; when it is full, a new client evicts the
least recently seen one (an `OrderedDict` in LRU order), so a flood of fresh addresses costs
memory up to the bound and no more, and never makes real clients share a quota. A client evicted
mid-window starts again from zero: a flood can at worst give back budget to clients it pushed
out, never take budget away from anyone.

Why not a library: `limits` (the usual choice) keeps its in-memory counters in a dict with no
size bound until they expire (and runs a timer thread over all keys), so a flood of IPv6 /64s
would grow it for the whole window; a bounded LRU over a fixed window is the few lines below.

Counts live in this process: see Settings.per_worker_rate_limit for how the limit is shared
between worker processes.
"""

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import send_error

FORWARDED_FOR = b"x-forwarded-for"
IPV6_CLIENT_PREFIX = 64
"""An IPv6 client is its /64."""
DEFAULT_MAX_CLIENTS = 100_000
UNKNOWN_PEER = "unknown"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ClientKey = int | str
"""What the limiter counts by: an int for an address, the peer's text when it is none."""

_IPV6_TAG = 1 << 64
"""Added to an IPv6 /64 prefix (64 bits), so its key never equals an IPv4 key (32 bits)."""


def forwarded_for(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """Every X-Forwarded-For entry, all header lines joined in order; empty entries dropped."""
    values = [value for name, value in headers if name == FORWARDED_FOR]
    joined = b",".join(values).decode("latin-1")
    return [entry for entry in (part.strip() for part in joined.split(",")) if entry]


def parse_address(text: str) -> IPAddress | None:
    """The address in an X-Forwarded-For entry or a peer host, or None when there is none."""
    host = text.strip()
    port = ""
    if host.startswith("["):  # [v6] or [v6]:port
        host, bracket, rest = host[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        port = rest[1:]
    elif host.count(":") == 1:  # v4:port
        host, _, port = host.partition(":")
    if port and not port.isdigit():
        return None
    host = host.partition("%")[0]  # an IPv6 zone id
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(scope: Scope, trusted_hops: int) -> IPAddress | str:
    """The client's address as our proxies saw it (module docstring); the peer's text if none."""
    peer = scope.get("client")
    peer_host = str(peer[0]) if peer else UNKNOWN_PEER
    if trusted_hops > 0:
        entries = forwarded_for(scope["headers"])
        for entry in entries[-trusted_hops:]:
            address = parse_address(entry)
            if address is not None:
                return address
    return parse_address(peer_host) or peer_host


def client_key(address: IPAddress | str) -> ClientKey:
    """The limiter's key: the IPv4 address, the IPv6 /64, or the peer's text."""
    if isinstance(address, ipaddress.IPv4Address):
        return int(address)
    if isinstance(address, ipaddress.IPv6Address):
        return _IPV6_TAG | (int(address) >> (128 - IPV6_CLIENT_PREFIX))
    return address


class FixedWindowLimiter:
    """At most `limit` hits per client in each window of `window_seconds`.

    All clients share window boundaries, so the table empties every window; within a window it
    holds at most `max_clients` clients, evicting the least recently seen (module docstring).
    """

    def __init__(
        self,
        limit: int,
        window_seconds: int,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_clients < 1:
            raise ValueError("max_clients must be at least 1")
        self.limit = limit
        self.window_seconds = window_seconds
        self.max_clients = max_clients
        self.clock = clock
        self.window_end = 0.0
        self.counts: OrderedDict[ClientKey, int] = OrderedDict()
        self.evictions = 0
        """Clients evicted to make room, since start (a sign of a flood of addresses)."""

    def hit(self, client: ClientKey) -> int | None:
        """Counts a hit; returns None when allowed, else the seconds until the window resets."""
        now = self.clock()
        if now >= self.window_end:
            self.counts.clear()
            self.window_end = now + self.window_seconds
        count = self.counts.get(client)
        if count is None:
            if len(self.counts) >= self.max_clients:
                self.counts.popitem(last=False)
                self.evictions += 1
            count = 0
        else:
            self.counts.move_to_end(client)
        # Capped one past the limit: a refused client's count stays a small int however often
        # it retries.
        count = min(count + 1, self.limit + 1)
        self.counts[client] = count
        if count <= self.limit:
            return None
        return max(1, math.ceil(self.window_end - now))


class RateLimitMiddleware:
    """Counts every request against the client's budget in `limiter` (shareable by routes)."""

    def __init__(self, app: ASGIApp, limiter: FixedWindowLimiter, trusted_hops: int) -> None:
        self.app = app
        self.limiter = limiter
        self.trusted_hops = trusted_hops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = client_key(client_address(scope, self.trusted_hops))
        retry_after = self.limiter.hit(key)
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
