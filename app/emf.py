"""The service's own metrics in CloudWatch: one Embedded Metric Format line per worker a minute.

Why EMF, and not a collector sidecar scraping /metrics. The awslogs driver already ships stdout
to the app's log group, and CloudWatch Logs extracts the metrics of every EMF line it receives
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
So nothing is added to the task: no second container with its own CPU and memory reservation on
every Fargate task, no collector image to patch, no scrape configuration. A sidecar (the AWS
Distro for OpenTelemetry, or the CloudWatch agent, at the 0.25 vCPU / 0.5 GB AWS's ECS examples
give a collector) costs 0.25 x $0.04048 + 0.5 x $0.004445 = $0.0123 a task-hour, $9.01 a
task-month at list price (Fargate, Linux/x86, us-west-2 = us-east-1): $9 to $18 for staging
(1 to 2 tasks) and $18 to $54 for prod (2 to 6 tasks), and it would still publish the same
metrics as custom metrics. What EMF costs is those custom metrics ($0.30 per metric-month, the
first 10,000 tier) and the log bytes (one line of about 1-5 KB a minute: under $0.05 a
task-month at $0.50 per GB). So the metric count is kept small and fixed: every name is built
from closed tuples in app/contract.py, the only dimension is Environment (one value per stack),
and EMF_METRIC_COUNT (17) is all a stack can create: $5.10 a month per stack, whatever the
traffic. README.md ("Server-side metrics") has the comparison.

What is aggregated, per worker process, in windows aligned to the flush interval (60 s):
* `Requests_<2xx|3xx|4xx|5xx>`: answered requests by status class (Count);
* `Latency_<page|ingest|health|other>`: response time by route class (Milliseconds) as an EMF
  histogram, `{"Values": [...], "Counts": [...], "Max", "Min", "Count", "Sum"}` (the form AWS's
  own EMF library writes for a histogram, and PutMetricData's Values/Counts), so CloudWatch
  computes p95 and p99 across workers and tasks. Values are the centres of fixed logarithmic
  bins (HISTOGRAM_RATIO apart: at most ~9% off), at most MAX_BINS of them (EMF allows 100);
  Max, Min, Count and Sum are exact. A class with no request that minute is left out (an empty
  histogram is not a value);
* `DependencyChecks` and `DependencyFailures_<dependency>`: dependency checks run, and those
  that failed (unhealthy or error), by dependency (Count);
* `Ingest_<accepted|rejected|rate_limited>`: POSTs to the ingestion endpoints by outcome (Count).
Counts are written every window, zeros included, so an alarm or a graph sees 0 rather than no
data. Memory is bounded by the closed names: a few counters and at most MAX_BINS bins per route
class. An unknown route, status or dependency goes to a fixed bucket (`other`, `5xx`, `other`).

Writing never blocks the event loop: the line goes through the log sink (`write_line`, which
buffers it and flushes within the loop turn, like every access-log line), so it is scrubbed
like any other line; the scrubber keeps the `_aws` subtree's structure (app/redaction.py:
STRUCTURAL_KEYS) and no metric name is a sensitive key. A window is written by a timer at its
end, by the first observation after its end, and at shutdown (`stop`).
"""

import asyncio
import contextlib
import math
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from app.contract import (
    APP_METRICS_NAMESPACE,
    CHECKED_DEPENDENCIES,
    CSP_REPORTS_PATH,
    EMF_DEPENDENCY_CHECKS,
    EMF_DEPENDENCY_FAILURES,
    EMF_INGEST,
    EMF_LATENCY,
    EMF_REQUESTS,
    ENVIRONMENT_DIMENSION,
    FAILED_CHECK_STATUSES,
    HEALTH_PATHS,
    INGEST_OUTCOMES,
    LOGS_INGEST_PATH,
    METRICS_INGEST_PATH,
    ROUTE_CLASSES,
    RUNTIME_CONFIG_PATH,
    STATUS_CLASSES,
    emf_metric,
)
from app.logging_setup import utc_timestamp, write_line
from app.routing import STATIC_ROUTE

OTHER = "other"

ROUTE_CLASS_OF: Mapping[str, str] = {
    **dict.fromkeys(HEALTH_PATHS, "health"),
    **dict.fromkeys((LOGS_INGEST_PATH, METRICS_INGEST_PATH, CSP_REPORTS_PATH), "ingest"),
    STATIC_ROUTE: "page",
    RUNTIME_CONFIG_PATH: "page",
}
"""Route (as app.routing.Router.route_of names it) -> class; any other route is `other`
(/metrics, /openapi.json, unknown /api/* paths, a route added later)."""
INGEST_ROUTES = frozenset(route for route, kind in ROUTE_CLASS_OF.items() if kind == "ingest")

HISTOGRAM_BASE_MS = 0.1
"""Lower edge of the first latency bin; faster answers count in it."""
HISTOGRAM_RATIO = 1.2
"""Each bin's upper edge over its lower edge: the bin centre is within ~9% of any value in it."""
MAX_BINS = 80
"""Bins per histogram: 0.1 ms to 0.1 x 1.2^80 ms (about 210 s; slower answers count in the last
bin). EMF drops a metric with more than 100 values."""
DEFAULT_INTERVAL_SECONDS = 60
UNITS = {EMF_LATENCY: "Milliseconds"}


def route_class(route: str) -> str:
    return ROUTE_CLASS_OF.get(route, OTHER)


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 200 <= status <= 599 else "5xx"


def dependency_name(dependency: str) -> str:
    return dependency if dependency in CHECKED_DEPENDENCIES else OTHER


def ingest_outcome(status: int) -> str:
    if 200 <= status <= 299:
        return "accepted"
    return "rate_limited" if status == 429 else "rejected"


def bin_index(milliseconds: float) -> int:
    if not milliseconds > HISTOGRAM_BASE_MS:  # NaN and negatives too
        return 0
    index = int(math.log(milliseconds / HISTOGRAM_BASE_MS) / math.log(HISTOGRAM_RATIO))
    return min(max(index, 0), MAX_BINS - 1)


def bin_value(index: int) -> float:
    """The bin's centre (geometric), to 4 significant digits."""
    centre = HISTOGRAM_BASE_MS * HISTOGRAM_RATIO ** (index + 0.5)
    return float(f"{centre:.4g}")


class Histogram:
    """Observed milliseconds: a count per fixed bin, and the exact count, sum, min and max."""

    __slots__ = ("bins", "count", "maximum", "minimum", "total")

    def __init__(self) -> None:
        self.bins: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.minimum = math.inf
        self.maximum = 0.0

    def add(self, milliseconds: float) -> None:
        if not math.isfinite(milliseconds) or milliseconds < 0:
            milliseconds = 0.0
        index = bin_index(milliseconds)
        self.bins[index] = self.bins.get(index, 0) + 1
        self.count += 1
        self.total += milliseconds
        self.minimum = min(self.minimum, milliseconds)
        self.maximum = max(self.maximum, milliseconds)

    def document(self) -> dict[str, Any]:
        indexes = sorted(self.bins)
        return {
            "Values": [bin_value(index) for index in indexes],
            "Counts": [self.bins[index] for index in indexes],
            "Max": round(self.maximum, 3),
            "Min": round(self.minimum, 3),
            "Count": self.count,
            "Sum": round(self.total, 3),
        }


class Window:
    """What one worker observed in one flush interval."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.requests = dict.fromkeys(STATUS_CLASSES, 0)
        self.latency: dict[str, Histogram] = {}
        self.checks = 0
        self.failures = dict.fromkeys(CHECKED_DEPENDENCIES, 0)
        self.ingest = dict.fromkeys(INGEST_OUTCOMES, 0)

    @property
    def empty(self) -> bool:
        return not (self.checks or self.latency or any(self.requests.values()))

    def values(self) -> dict[str, Any]:
        """Metric name -> value (a number or a histogram), in the contract's order."""
        return {
            **{emf_metric(EMF_REQUESTS, key): count for key, count in self.requests.items()},
            **{
                emf_metric(EMF_LATENCY, key): self.latency[key].document()
                for key in ROUTE_CLASSES
                if key in self.latency
            },
            EMF_DEPENDENCY_CHECKS: self.checks,
            **{emf_metric(EMF_DEPENDENCY_FAILURES, k): n for k, n in self.failures.items()},
            **{emf_metric(EMF_INGEST, key): count for key, count in self.ingest.items()},
        }


def emf_document(
    values: Mapping[str, Any], environment: str, timestamp_ms: int, extra: Mapping[str, Any]
) -> dict[str, Any]:
    """An EMF document: the metadata, the Environment dimension, the values, other fields."""
    metrics = [{"Name": name, "Unit": UNITS.get(name.split("_", 1)[0], "Count")} for name in values]
    return {
        **extra,
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": APP_METRICS_NAMESPACE,
                    "Dimensions": [[ENVIRONMENT_DIMENSION]],
                    "Metrics": metrics,
                }
            ],
        },
        ENVIRONMENT_DIMENSION: environment,
        **values,
    }


class EmfAggregator:
    """One worker's aggregate: `observe_*` from the request path, a line per window."""

    def __init__(
        self,
        environment: str,
        interval_seconds: int = DEFAULT_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.time,
        write: Callable[[Mapping[str, Any]], None] = write_line,
    ) -> None:
        self.environment = environment
        self.interval = interval_seconds
        self.clock = clock
        self.write = write
        self.window = Window(self._aligned(clock()))
        self.timer: asyncio.Task[None] | None = None

    def _aligned(self, now: float) -> float:
        return now - now % self.interval

    @property
    def window_end(self) -> float:
        return self.window.start + self.interval

    # --- observations (the request path: a few dict updates) -----------------------------------

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        window = self._current()
        window.requests[status_class(status)] += 1
        kind = route_class(route)
        histogram = window.latency.get(kind)
        if histogram is None:
            histogram = window.latency[kind] = Histogram()
        histogram.add(seconds * 1000)
        if route in INGEST_ROUTES and method == "POST":
            window.ingest[ingest_outcome(status)] += 1

    def observe_dependency(self, dependency: str, status: str) -> None:
        window = self._current()
        window.checks += 1
        if status in FAILED_CHECK_STATUSES:
            window.failures[dependency_name(dependency)] += 1

    def _current(self) -> Window:
        self.flush_if_due()
        return self.window

    # --- flushing ------------------------------------------------------------------------------

    def flush_if_due(self) -> bool:
        """Write the window once it has ended, and start the one `now` falls in."""
        now = self.clock()
        if now < self.window_end:
            return False
        self._write(self.window)
        self.window = Window(self._aligned(now))
        return True

    def flush(self) -> None:
        """Write what the current window holds so far (shutdown), if anything."""
        window, self.window = self.window, Window(self.window.start)
        if not window.empty:
            self._write(window)

    def line(self, window: Window) -> dict[str, Any]:
        extra = {
            "timestamp": utc_timestamp(),
            "level": "INFO",
            "logger": "emf",
            "event": "app_metrics",
            "pid": os.getpid(),
        }
        return emf_document(window.values(), self.environment, int(window.start * 1000), extra)

    def _write(self, window: Window) -> None:
        self.write(self.line(window))

    # --- the timer -----------------------------------------------------------------------------

    def start(self) -> None:
        """Make this the process's aggregator and start its timer (inside the event loop)."""
        activate(self)
        if self.timer is None:
            self.timer = asyncio.get_running_loop().create_task(self._run(), name="emf-flush")

    async def stop(self) -> None:
        """Stop the timer and write the last, partial window."""
        if self.timer is not None:
            self.timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.timer
            self.timer = None
        deactivate(self)
        self.flush_if_due()
        self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(max(self.window_end - self.clock(), 0.0) + 0.01)
            self.flush_if_due()


class _Active:
    aggregator: EmfAggregator | None = None


def activate(aggregator: EmfAggregator) -> None:
    _Active.aggregator = aggregator


def deactivate(aggregator: EmfAggregator) -> None:
    if _Active.aggregator is aggregator:
        _Active.aggregator = None


def active() -> EmfAggregator | None:
    return _Active.aggregator


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    aggregator = _Active.aggregator
    if aggregator is not None:
        aggregator.observe_request(route, method, status, seconds)


def observe_dependency(dependency: str, status: str) -> None:
    aggregator = _Active.aggregator
    if aggregator is not None:
        aggregator.observe_dependency(dependency, status)
