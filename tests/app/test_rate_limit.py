"""Rate limiting of the ingestion endpoints: who the client is, one budget, a bounded table."""

import asyncio
import ipaddress
import socket
import sys

import pytest

from app.middleware.rate_limit import (
    DEFAULT_MAX_CLIENTS,
    FixedWindowLimiter,
    RateLimitMiddleware,
    client_address,
    client_key,
    forwarded_for,
)

LOG_ENTRY = {"timestamp": "2026-01-16T10:00:00Z", "level": "INFO", "message": "m"}
CSP_REPORT = {"csp-report": {"document-uri": "https://miko.example/", "violated-directive": "x"}}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


# --- the window -------------------------------------------------------------------------------


def test_limit_per_client_and_window():
    clock = Clock()
    limiter = FixedWindowLimiter(limit=3, window_seconds=60, clock=clock)
    assert [limiter.hit("a") for _ in range(3)] == [None, None, None]
    assert limiter.hit("a") == 60
    assert limiter.hit("b") is None
    clock.now += 45.5
    assert limiter.hit("a") == 15
    clock.now += 15
    assert limiter.hit("a") is None


def test_a_full_table_evicts_the_least_recently_seen_client_and_pools_nobody():
    limiter = FixedWindowLimiter(limit=2, window_seconds=60, max_clients=3, clock=Clock())
    for client in ("a", "b", "c"):
        limiter.hit(client)
    limiter.hit("a")  # a is now the most recently seen; b the least
    # Every new client gets its own budget: none of them shares a quota with another.
    assert [limiter.hit("new-1"), limiter.hit("new-1"), limiter.hit("new-1")] == [None, None, 60]
    assert [limiter.hit("new-2"), limiter.hit("new-2"), limiter.hit("new-2")] == [None, None, 60]
    assert len(limiter.counts) == 3
    assert list(limiter.counts) == ["a", "new-1", "new-2"]
    assert limiter.evictions == 2
    # a kept its count (one left); b and c were evicted and start again.
    assert [limiter.hit("a"), limiter.hit("b")] == [60, None]


def test_a_refused_client_that_keeps_retrying_stays_counted():
    limiter = FixedWindowLimiter(limit=1, window_seconds=60, max_clients=2, clock=Clock())
    limiter.hit("abuser")
    for index in range(10):
        assert limiter.hit("abuser") == 60
        limiter.hit(f"flood-{index}")
    assert limiter.counts["abuser"] == 2  # capped one past the limit


def test_max_clients_must_be_positive():
    with pytest.raises(ValueError, match="max_clients"):
        FixedWindowLimiter(limit=1, window_seconds=1, max_clients=0)


# --- who the client is ------------------------------------------------------------------------


def scope(peer="10.0.0.9", *forwarded, headers=()):
    return {
        "type": "http",
        "method": "POST",
        "path": "/api/logs",
        "client": (peer, 1234) if peer else None,
        "headers": [*((b"x-forwarded-for", line.encode()) for line in forwarded), *headers],
    }


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, ["6.6.6.6"], "10.0.0.9"),
        (1, [], "10.0.0.9"),
        (1, ["203.0.113.7"], "203.0.113.7"),
        (1, ["6.6.6.6, 203.0.113.7"], "203.0.113.7"),
        (2, ["6.6.6.6, 203.0.113.7, 172.70.1.1"], "203.0.113.7"),
        (2, ["203.0.113.7"], "203.0.113.7"),
        # Several header lines are one list, in the order they arrived.
        (1, ["6.6.6.6", "203.0.113.7"], "203.0.113.7"),
        (2, ["6.6.6.6, 7.7.7.7", "203.0.113.7", "172.70.1.1"], "203.0.113.7"),
        (2, ["6.6.6.6", "203.0.113.7, 172.70.1.1"], "203.0.113.7"),
        # Empty entries are nobody's.
        (1, ["6.6.6.6,, 203.0.113.7,"], "203.0.113.7"),
        (1, ["", "203.0.113.7"], "203.0.113.7"),
        # Ports, brackets, zone ids, case and IPv4-mapped addresses.
        (1, ["203.0.113.7:4711"], "203.0.113.7"),
        (1, ["[2001:DB8::1]:443"], "2001:db8::1"),
        (1, ["[2001:db8::1]"], "2001:db8::1"),
        (1, ["fe80::1%eth0"], "fe80::1"),
        (1, ["::ffff:203.0.113.7"], "203.0.113.7"),
        # A malformed entry at the client's place: the next one to its right, written by our
        # nearer proxy; none left: the peer. Never an entry further left.
        (2, ["6.6.6.6, garbage, 172.70.1.1"], "172.70.1.1"),
        (2, ["6.6.6.6, unknown, _hidden"], "10.0.0.9"),
        (1, ["1.2.3.4.5"], "10.0.0.9"),
        (1, ["999.1.1.1"], "10.0.0.9"),
        (1, ["<script>"], "10.0.0.9"),
        (1, ["[::1"], "10.0.0.9"),
        (1, [","], "10.0.0.9"),
    ],
)
def test_client_is_found_from_the_trusted_end_of_forwarded_for(hops, forwarded, expected):
    assert client_address(scope("10.0.0.9", *forwarded), hops) == ipaddress.ip_address(expected)


def test_forwarded_for_joins_every_header_line_in_order():
    headers = [
        (b"x-forwarded-for", b"1.1.1.1, 2.2.2.2"),
        (b"content-type", b"application/json"),
        (b"x-forwarded-for", b" 3.3.3.3 ,4.4.4.4"),
    ]
    assert forwarded_for(headers) == ["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"]


def test_a_peer_that_is_no_address_is_counted_by_its_text():
    assert client_address(scope(None), 0) == "unknown"
    assert client_address(scope("/run/app.sock"), 1) == "/run/app.sock"
    assert client_key("unknown") == "unknown"


def test_ipv6_clients_are_counted_per_64_and_never_collide_with_ipv4():
    def key(text):
        return client_key(ipaddress.ip_address(text))

    assert key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff:ffff:ffff:ffff")
    assert key("2001:db8:1:2::1") != key("2001:db8:1:3::1")
    assert key("203.0.113.7") != key("203.0.113.8")
    # The /64 whose prefix bits equal an IPv4 address's bits is still another client.
    assert key("::cb00:7107:0:0") != key("203.0.113.7")
    assert key("0:0:0:cb00:7107::") != key("203.0.113.7")


# --- through the service ------------------------------------------------------------------


def post_logs(client, *forwarded):
    headers = [(b"X-Forwarded-For", line.encode("latin-1")) for line in forwarded]
    return client.post("/api/logs", json=LOG_ENTRY, headers=headers).status_code


def test_forged_forwarded_for_does_not_buy_a_new_quota(make_client):
    client = make_client(rate_limit=2, trusted_proxy_hops=1)
    statuses = [post_logs(client, f"1.1.1.{i}, 198.51.100.4") for i in range(3)]
    assert statuses == [202, 202, 429]
    assert post_logs(client, "198.51.100.5") == 202


def test_a_client_behind_cloudflare_cannot_pick_its_identity(make_client):
    # As deployed: Cloudflare appends the client, then the ALB appends Cloudflare's edge.
    client = make_client(rate_limit=2, trusted_proxy_hops=2)
    forged = [
        post_logs(client, f"{i}.{i}.{i}.{i}, 10.0.0.{i}, 198.51.100.4, 172.70.1.{i}")
        for i in range(1, 4)
    ]
    assert forged == [202, 202, 429]
    # Another client behind the same edge has its own budget.
    assert post_logs(client, "198.51.100.5, 172.70.1.1") == 202


def test_forged_entries_on_their_own_header_lines_do_not_buy_a_new_quota(make_client):
    # Reading only the first line would take the client's own line as its identity.
    client = make_client(rate_limit=2, trusted_proxy_hops=1)
    statuses = [post_logs(client, f"1.1.1.{i}", f"2.2.2.{i}", "198.51.100.4") for i in range(3)]
    assert statuses == [202, 202, 429]


@pytest.mark.parametrize(
    "forwarded",
    [
        ["garbage"],
        ["", ""],
        [",,,"],
        ["[::1"],
        ["1.2.3.4:notaport"],
        ["999.999.999.999, ::ffff:zzzz"],
        ["\u00ff\u00fe, 203.0.113.7 \t"],
        [", ".join(["6.6.6.6"] * 2000)],
    ],
)
def test_malformed_forwarded_for_never_fails(make_client, forwarded):
    client = make_client(trusted_proxy_hops=2)
    assert post_logs(client, *forwarded) == 202


def test_one_budget_across_the_ingestion_endpoints(make_client):
    client = make_client(rate_limit=3, trusted_proxy_hops=1)
    headers = {"X-Forwarded-For": "198.51.100.4"}
    first = [
        client.post("/api/logs", json=LOG_ENTRY, headers=headers).status_code,
        client.post("/api/metrics", json={}, headers=headers).status_code,
        client.post(
            "/api/csp-reports",
            json=CSP_REPORT,
            headers={**headers, "content-type": "application/csp-report"},
        ).status_code,
    ]
    assert 429 not in first
    for path in ("/api/logs", "/api/metrics", "/api/csp-reports"):
        assert client.post(path, json={}, headers=headers).status_code == 429, path
    other = client.post("/api/metrics", json={}, headers={"X-Forwarded-For": "198.51.100.5"})
    assert other.status_code != 429


def test_the_ingestion_routes_share_one_limiter(make_client):
    client = make_client()
    limiters = {
        id(find_limiter(route.handler()))
        for route in client.app.routes
        if route.path.startswith("/api/")
    }
    assert len(limiters) == 1


def find_limiter(app):
    while not isinstance(app, RateLimitMiddleware):
        app = app.app
    return app.limiter


def test_metrics_endpoint_is_rate_limited_too(make_client):
    client = make_client(rate_limit=1)
    first = client.post("/api/metrics", json={})
    second = client.post("/api/metrics", json={})
    assert (first.status_code, second.status_code) == (422, 429)
    assert second.headers["retry-after"] == "60"


# --- a flood of IPv6 /64s -------------------------------------------------------------------

FLOOD_SIZE = 200_000
LIMIT = 5
MEMORY_BOUND_BYTES = 32 * 1024 * 1024
"""What the table may cost at DEFAULT_MAX_CLIENTS clients. Measured on CPython 3.11: 13.5 MiB
when first full, 20.5 MiB after the 200,000 /64 flood (the OrderedDict's hash table grows once
under churn, then stays), for the OrderedDict and its int keys; counts are cached small ints."""


async def accepted(scope, receive, send):
    await send({"type": "http.response.start", "status": 202, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def flood_scope(forwarded):
    return scope("10.0.0.9", f"{forwarded}, 172.70.1.1")


async def status_of(app, request_scope):
    statuses = []

    async def send(message):
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(request_scope, None, send)
    return statuses[0]


def table_bytes(limiter):
    """The table, its keys and its values (a count is a cached small int: no bytes of its own)."""
    assert all(-5 <= count <= 256 for count in limiter.counts.values())
    return sys.getsizeof(limiter.counts) + sum(sys.getsizeof(key) for key in limiter.counts)


def test_a_flood_of_ipv6_64s_is_bounded_and_locks_nobody_out(capsys):
    limiter = FixedWindowLimiter(limit=LIMIT, window_seconds=60, clock=Clock())
    app = RateLimitMiddleware(accepted, limiter, trusted_hops=2)
    real_client = flood_scope("198.51.100.4")
    active_client = flood_scope("198.51.100.6")
    sizes = {}

    async def scenario():
        before = [await status_of(app, real_client) for _ in range(2)]
        flood = []
        for index in range(FLOOD_SIZE):
            # Each request a different /64 of a /32, with a random-looking interface id.
            address = ipaddress.IPv6Address((0x2001_0DB8 << 96) | (index << 64) | (index * 7919))
            flood.append(await status_of(app, flood_scope(f"[{address}]:443")))
            if index % 1000 == 0:
                await status_of(app, active_client)
            if index == DEFAULT_MAX_CLIENTS:
                sizes["full"] = table_bytes(limiter)
        sizes["flooded"] = table_bytes(limiter)
        evicted = limiter.evictions
        after = [await status_of(app, real_client) for _ in range(LIMIT)]
        newcomer = flood_scope("2001:db8:ffff:ffff::1")
        new_client = [await status_of(app, newcomer) for _ in range(LIMIT + 1)]
        return before, flood, evicted, after, new_client

    before, flood, evicted, after, new_client = asyncio.run(scenario())

    assert before == [202, 202]
    # No shared overflow quota: every address of the flood got its own budget.
    assert flood.count(202) == FLOOD_SIZE
    assert len(limiter.counts) == DEFAULT_MAX_CLIENTS
    # The real client, the active one and the flood, less what the table holds.
    assert evicted == 2 + FLOOD_SIZE - DEFAULT_MAX_CLIENTS
    # Bounded: the hash table resizes once under churn (test below), then stays.
    assert sizes["flooded"] <= MEMORY_BOUND_BYTES
    assert sizes["flooded"] <= 2 * sizes["full"]
    # The real client counted before the flood is not locked out: it was evicted and starts
    # again (an eviction only ever gives budget back).
    assert after == [202] * LIMIT
    # A client that kept coming during the flood kept its count (and so its limit).
    assert limiter.counts[client_key(ipaddress.ip_address("198.51.100.6"))] == LIMIT + 1
    # A new client after the flood has a budget of its own: the limit, then 429.
    assert new_client == [202] * LIMIT + [429]
    with capsys.disabled():
        print(
            f"\n[rate limit] {FLOOD_SIZE} /64s: {len(limiter.counts)} clients kept, "
            f"{evicted} evicted; table {sizes['full'] / 2**20:.1f} MiB when full, "
            f"{sizes['flooded'] / 2**20:.1f} MiB after the flood"
        )


def test_the_table_size_is_stable_under_churn():
    limiter = FixedWindowLimiter(limit=LIMIT, window_seconds=60, max_clients=20_000, clock=Clock())
    sizes = []
    for round_ in range(5):
        for index in range(20_000):
            limiter.hit((1 << 64) | (round_ * 20_000 + index))
        sizes.append(table_bytes(limiter))
    assert len(limiter.counts) == 20_000
    # Filled once, then churned through four more times its size: it grows once, then no more.
    assert sizes[2] == sizes[3] == sizes[4] <= 2 * sizes[0]


# --- over a real server: several header lines reach the app as they were sent ---------------


def post_raw(base_url, forwarded_lines):
    host, port = base_url.removeprefix("http://").split(":")
    body = b'{"timestamp":"2026-01-16T10:00:00Z","level":"INFO","message":"m"}'
    lines = b"".join(b"X-Forwarded-For: " + line.encode() + b"\r\n" for line in forwarded_lines)
    request = (
        b"POST /api/logs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n"
        + lines
        + b"\r\n"
        + body
    )
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(request)
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    return int(response.split(b" ", 2)[1])


def test_several_forwarded_for_lines_over_a_real_server(service):
    running = service(RATE_LIMIT="2", TRUSTED_PROXY_HOPS="1")
    statuses = [post_raw(running.base_url, [f"1.1.1.{i}", "198.51.100.4"]) for i in range(3)]
    assert statuses == [202, 202, 429]
    assert post_raw(running.base_url, ["198.51.100.4", "198.51.100.5"]) == 202
