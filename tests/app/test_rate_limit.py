import pytest

from app.middleware.rate_limit import FixedWindowLimiter, client_address


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


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


def test_table_size_is_bounded():
    limiter = FixedWindowLimiter(limit=2, window_seconds=60, max_clients=3, clock=Clock())
    for client in ("a", "b", "c"):
        limiter.hit(client)
    assert [limiter.hit(f"new-{i}") for i in range(3)] == [None, None, 60]
    assert len(limiter.counts) == 4


def scope(peer="10.0.0.9", forwarded=None):
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"client": (peer, 1234), "headers": headers}


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, "6.6.6.6", "10.0.0.9"),
        (1, None, "10.0.0.9"),
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "6.6.6.6, 203.0.113.7", "203.0.113.7"),
        (2, "6.6.6.6, 203.0.113.7, 172.70.1.1", "203.0.113.7"),
        (2, "203.0.113.7", "203.0.113.7"),
    ],
)
def test_client_is_found_from_the_trusted_end_of_forwarded_for(hops, forwarded, expected):
    assert client_address(scope(forwarded=forwarded), hops) == expected


def test_forged_forwarded_for_does_not_buy_a_new_quota(make_client):
    client = make_client(rate_limit=2, trusted_proxy_hops=1)
    entry = {"timestamp": "2026-01-16T10:00:00Z", "level": "INFO", "message": "m"}
    statuses = [
        client.post(
            "/api/logs", json=entry, headers={"X-Forwarded-For": f"1.1.1.{i}, 198.51.100.4"}
        ).status_code
        for i in range(3)
    ]
    assert statuses == [202, 202, 429]
    other = client.post("/api/logs", json=entry, headers={"X-Forwarded-For": "198.51.100.5"})
    assert other.status_code == 202


def test_metrics_endpoint_is_rate_limited_too(make_client):
    client = make_client(rate_limit=1)
    first = client.post("/api/metrics", json={})
    second = client.post("/api/metrics", json={})
    assert (first.status_code, second.status_code) == (422, 429)
    assert second.headers["retry-after"] == "60"
