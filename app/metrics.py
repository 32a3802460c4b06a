"""Prometheus metrics of the service and their exposition at /metrics.

Each observation also goes to the worker's CloudWatch EMF aggregate (app/emf.py), which is what
reaches CloudWatch: nothing scrapes /metrics in the deployment.

With several worker processes, prometheus_client's multiprocess mode is used: the launcher sets
PROMETHEUS_MULTIPROC_DIR before any worker imports prometheus_client, /metrics merges every
worker's files, and each worker marks itself dead on shutdown.
See https://prometheus.github.io/client_python/multiprocess/
"""

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import Receive, Scope, Send

from app import emf
from app.errors import send_body

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

HTTP_REQUESTS = Counter(
    "miko_http_requests",
    "HTTP requests answered, by route, method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "miko_http_request_duration_seconds",
    "Time to answer an HTTP request, by route.",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
DEPENDENCY_UP = Gauge(
    "miko_dependency_up",
    "1 when the last check of a dependency was healthy, else 0.",
    ["dependency"],
    multiprocess_mode="livemostrecent",
)
DEPENDENCY_CHECKS = Counter(
    "miko_dependency_checks",
    "Dependency checks run, by dependency and result status.",
    ["dependency", "status"],
)
DEPENDENCY_LATENCY = Histogram(
    "miko_dependency_check_duration_seconds",
    "Duration of dependency checks.",
    ["dependency"],
    buckets=LATENCY_BUCKETS,
)

CSP_VIOLATIONS = Counter(
    "miko_csp_violations",
    "Content-Security-Policy violation reports received, by directive (a closed list).",
    ["directive"],
)

_request_children: dict[tuple[str, str, int], Counter] = {}
_latency_children: dict[str, Histogram] = {}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request; label children are cached, labels() costs a lock per call."""
    if method not in KNOWN_METHODS:
        method = "OTHER"
    key = (route, method, status)
    counter = _request_children.get(key)
    if counter is None:
        counter = _request_children[key] = HTTP_REQUESTS.labels(route, method, str(status))
    counter.inc()
    histogram = _latency_children.get(route)
    if histogram is None:
        histogram = _latency_children[route] = HTTP_LATENCY.labels(route)
    histogram.observe(seconds)
    emf.observe_request(route, method, status, seconds)


def observe_dependency(dependency: str, status: str, seconds: float) -> None:
    emf.observe_dependency(dependency, status)
    DEPENDENCY_UP.labels(dependency).set(1 if status == "healthy" else 0)
    DEPENDENCY_CHECKS.labels(dependency, status).inc()
    DEPENDENCY_LATENCY.labels(dependency).observe(seconds)


def observe_csp_violation(directive: str) -> None:
    CSP_VIOLATIONS.labels(directive).inc()


def multiprocess_enabled() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def exposition_registry() -> CollectorRegistry:
    if not multiprocess_enabled():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def mark_worker_dead() -> None:
    if multiprocess_enabled():
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class MetricsEndpoint:
    """GET /metrics: the Prometheus text exposition, never cached."""

    def __init__(self) -> None:
        self.registry = exposition_registry()
        self.headers = (
            (b"content-type", CONTENT_TYPE_LATEST.encode()),
            (b"cache-control", b"no-store"),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = generate_latest(self.registry)
        await send_body(send, 200, body, self.headers, head=scope["method"] == "HEAD")
