"""The service's CloudWatch EMF lines (app/emf.py): aggregation, timing, histograms, bounds,
validity against AWS's definition, and the lines a real server writes on its stdout.

The validator stands on AWS's page "Specification: Embedded metric format"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
`EMF_SCHEMA` is the JSON schema published there ("You can use the following schema to validate
embedded metric format documents"), and `spec_problems` checks the rules the page states in prose
that the schema leaves out (dimension targets are root members with string values, at most 9
keys a set; each metric target is a root member, a number or an array of at most 100 numbers;
at most 100 metrics a directive). A histogram target (`Values`/`Counts`, with `Max`, `Min`,
`Count`, `Sum`) is checked as AWS's own EMF library writes and bounds one (aws-embedded-metrics-
java, model/Histogram.java and Statistics.java: equal lengths, at most 100 bins, a consistent
statistic set) and as PutMetricData's MetricDatum defines Values/Counts.
"""

import asyncio
import json
import math
import random
import signal
import time
import warnings
from collections.abc import Mapping
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest

from app import contract, emf
from app.asgi import create_app
from app.contract import (
    APP_METRICS_NAMESPACE,
    EMF_METRIC_COUNT,
    EMF_METRIC_NAMES,
    ENVIRONMENT_DIMENSION,
    HEALTH_PATH,
    LOGS_INGEST_PATH,
)
from app.emf import MAX_BINS, EmfAggregator, Histogram, route_class
from app.logging_setup import MAX_LINE_BYTES, encode_line
from app.routes import service_routes
from app.settings import Settings
from components.signals import SIGNALS
from tests.app.conftest import fake_static

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # as tests/app/conftest.py: starlette prefers httpx2
    from starlette.testclient import TestClient

_UNIT_PATTERN = (
    "^(Seconds|Microseconds|Milliseconds|Bytes|Kilobytes|Megabytes|Gigabytes|Terabytes|Bits|"
    "Kilobits|Megabits|Gigabits|Terabits|Percent|Count|Bytes\\/Second|Kilobytes\\/Second|"
    "Megabytes\\/Second|Gigabytes\\/Second|Terabytes\\/Second|Bits\\/Second|Kilobits\\/Second|"
    "Megabits\\/Second|Gigabits\\/Second|Terabits\\/Second|Count\\/Second|None)$"
)
_NAME = {"type": "string", "pattern": "^(.*)$", "minLength": 1, "maxLength": 255}
EMF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Root Node",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "$id": "#/properties/_aws",
            "type": "object",
            "title": "Metadata",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {
                    "$id": "#/properties/_aws/properties/Timestamp",
                    "type": "integer",
                    "title": "The Timestamp Schema",
                },
                "CloudWatchMetrics": {
                    "$id": "#/properties/_aws/properties/CloudWatchMetrics",
                    "type": "array",
                    "title": "MetricDirectives",
                    "items": {
                        "$id": "#/properties/_aws/properties/CloudWatchMetrics/items",
                        "type": "object",
                        "title": "MetricDirective",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {**_NAME, "title": "CloudWatch Metrics Namespace"},
                            "Dimensions": {
                                "type": "array",
                                "title": "The Dimensions Schema",
                                "minItems": 1,
                                "items": {
                                    "type": "array",
                                    "title": "DimensionSet",
                                    "minItems": 0,
                                    "maxItems": 9,
                                    "items": {**_NAME, "title": "DimensionReference"},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "title": "MetricDefinitions",
                                "items": {
                                    "type": "object",
                                    "title": "MetricDefinition",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {**_NAME, "title": "MetricName"},
                                        "Unit": {
                                            "type": "string",
                                            "title": "MetricUnit",
                                            "pattern": _UNIT_PATTERN,
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}
"""The schema of the AWS page named in the module docstring, as published (examples left out)."""

MAX_VALUES = 100
"""Numbers in one metric target (an array; a histogram's Values), per the page above."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def histogram_problems(name: str, value: dict[str, Any]) -> list[str]:
    problems = []
    values, counts = value.get("Values"), value.get("Counts")
    if set(value) != {"Values", "Counts", "Max", "Min", "Count", "Sum"}:
        problems.append(f"{name}: histogram members {sorted(value)}")
        return problems
    if not (isinstance(values, list) and isinstance(counts, list)) or len(values) != len(counts):
        return [f"{name}: Values and Counts must be lists of one length"]
    if not 0 < len(values) <= MAX_VALUES:
        problems.append(f"{name}: {len(values)} values (1 to {MAX_VALUES})")
    if not all(_is_number(item) and item >= 0 for item in values):
        problems.append(f"{name}: Values must be non-negative numbers")
    if not all(isinstance(item, int) and item > 0 for item in counts):
        problems.append(f"{name}: Counts must be positive integers")
    if len(set(values)) != len(values):
        problems.append(f"{name}: repeated Values")
    low, high, count, total = value["Min"], value["Max"], value["Count"], value["Sum"]
    if count != sum(counts):
        problems.append(f"{name}: Count {count} is not the sum of Counts {sum(counts)}")
    # Statistics.isValid(): a statistic set some set of real values can have.
    slack = 1e-3 * max(1.0, abs(total))
    if high < low or count <= 0 or low + high * (count - 1) < total - slack:
        problems.append(f"{name}: impossible statistic set")
    if high + low * (count - 1) > total + slack:
        problems.append(f"{name}: impossible statistic set")
    return problems


def spec_problems(document: Mapping[str, Any]) -> list[str]:
    """Every way `document` breaks the EMF specification (empty: a valid document)."""
    problems = [
        error.message for error in jsonschema.Draft7Validator(EMF_SCHEMA).iter_errors(document)
    ]
    if problems:
        return problems
    for directive in document["_aws"]["CloudWatchMetrics"]:
        if len(directive["Metrics"]) > 100:
            problems.append("more than 100 MetricDefinitions")
        for dimension_set in directive["Dimensions"]:
            for key in dimension_set:
                if not isinstance(document.get(key), str):
                    problems.append(f"dimension target {key!r} is not a string member")
        for definition in directive["Metrics"]:
            name = definition["Name"]
            if name not in document:
                problems.append(f"metric target {name!r} is missing")
                continue
            value = document[name]
            if isinstance(value, dict):
                problems.extend(histogram_problems(name, value))
            elif isinstance(value, list):
                if not (len(value) <= MAX_VALUES and all(_is_number(item) for item in value)):
                    problems.append(f"metric target {name!r}: not an array of <= 100 numbers")
            elif not _is_number(value):
                problems.append(f"metric target {name!r} is not a number")
    return problems


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def aggregator(
    clock: FakeClock, interval: int = 60
) -> tuple[EmfAggregator, list[Mapping[str, Any]]]:
    lines: list[Mapping[str, Any]] = []
    return EmfAggregator("production", interval, clock=clock, write=lines.append), lines


def metric_values(line: Mapping[str, Any]) -> dict[str, Any]:
    names = [m["Name"] for d in line["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
    return {name: line[name] for name in names}


def percentile(histogram: dict[str, Any], fraction: float) -> float:
    """The value at `fraction` of the observations, read from Values/Counts alone."""
    pairs = sorted(zip(histogram["Values"], histogram["Counts"], strict=True))
    wanted = fraction * histogram["Count"]
    seen = 0
    for value, count in pairs:
        seen += count
        if seen >= wanted:
            return float(value)
    return float(pairs[-1][0])


# --- aggregation and timing ------------------------------------------------------------------


def test_a_window_aggregates_counts_and_is_written_once_at_its_end():
    clock = FakeClock(1_700_000_080.0)  # 40 s into the minute starting at 1_700_000_040
    metrics, lines = aggregator(clock)
    for status in (200, 200, 204, 304, 404, 503):
        metrics.observe_request(HEALTH_PATH, "GET", status, 0.002)
    metrics.observe_dependency("supabase", "healthy")
    metrics.observe_dependency("supabase", "error")
    metrics.observe_dependency("postgres", "unhealthy")
    clock.now = 1_700_000_099.9
    assert not metrics.flush_if_due()
    assert lines == []
    clock.now = 1_700_000_100.0
    assert metrics.flush_if_due()
    assert not metrics.flush_if_due()
    (line,) = lines
    values = metric_values(line)
    assert line["_aws"]["Timestamp"] == 1_700_000_040_000  # the minute it covers
    assert (values["Requests_2xx"], values["Requests_3xx"]) == (3, 1)
    assert (values["Requests_4xx"], values["Requests_5xx"]) == (1, 1)
    assert values["DependencyChecks"] == 3
    assert values["DependencyFailures_supabase"] == 1
    assert values["DependencyFailures_postgres"] == 1
    assert values["DependencyFailures_n8n"] == 0
    assert values["Latency_health"]["Count"] == 6
    assert line[ENVIRONMENT_DIMENSION] == "production"
    assert spec_problems(line) == []


def test_an_observation_after_the_window_ends_writes_that_window_first():
    clock = FakeClock(1_700_000_000.0 - 1_700_000_000.0 % 60)
    metrics, lines = aggregator(clock)
    metrics.observe_request(HEALTH_PATH, "GET", 200, 0.001)
    clock.now += 61
    metrics.observe_request(HEALTH_PATH, "GET", 500, 0.001)
    assert [metric_values(line)["Requests_2xx"] for line in lines] == [1]
    clock.now += 60
    metrics.flush_if_due()
    assert metric_values(lines[1])["Requests_5xx"] == 1
    assert lines[1]["_aws"]["Timestamp"] - lines[0]["_aws"]["Timestamp"] == 60_000


def test_idle_windows_still_write_zero_counts_and_no_histogram():
    clock = FakeClock()
    metrics, lines = aggregator(clock)
    clock.now += 60
    metrics.flush_if_due()
    values = metric_values(lines[0])
    assert values["Requests_5xx"] == 0
    assert values["Ingest_rejected"] == 0
    assert not any(name.startswith("Latency_") for name in values)
    assert spec_problems(lines[0]) == []


def test_a_shorter_interval_aligns_windows_to_it():
    clock = FakeClock(1_000.0)
    metrics, lines = aggregator(clock, interval=10)
    clock.now = 1_009.9
    metrics.observe_request(HEALTH_PATH, "GET", 200, 0.001)
    clock.now = 1_010.0
    metrics.flush_if_due()
    assert lines[0]["_aws"]["Timestamp"] == 1_000_000


def test_ingest_outcomes_count_posts_to_the_ingestion_routes_only():
    clock = FakeClock()
    metrics, lines = aggregator(clock)
    for status in (202, 202, 422, 415, 429, 500):
        metrics.observe_request(LOGS_INGEST_PATH, "POST", status, 0.003)
    metrics.observe_request(LOGS_INGEST_PATH, "OPTIONS", 204, 0.001)  # a CORS preflight
    metrics.observe_request(HEALTH_PATH, "POST", 405, 0.001)
    metrics.flush()
    values = metric_values(lines[0])
    assert (values["Ingest_accepted"], values["Ingest_rejected"]) == (2, 3)
    assert values["Ingest_rate_limited"] == 1
    assert values["Latency_ingest"]["Count"] == 7


# --- histograms --------------------------------------------------------------------------------


def test_latency_values_and_counts_give_percentiles_within_the_bin_width():
    rng = random.Random(14)
    observed = sorted(rng.lognormvariate(math.log(40), 0.8) for _ in range(5000))
    histogram = Histogram()
    for milliseconds in observed:
        histogram.add(milliseconds)
    document = histogram.document()
    assert document["Count"] == 5000
    assert document["Sum"] == pytest.approx(sum(observed), rel=1e-6)
    assert (document["Min"], document["Max"]) == (
        pytest.approx(observed[0], abs=1e-3),
        pytest.approx(observed[-1], abs=1e-3),
    )
    for fraction in (0.5, 0.95, 0.99):
        exact = observed[math.ceil(fraction * len(observed)) - 1]
        assert percentile(document, fraction) == pytest.approx(exact, rel=emf.HISTOGRAM_RATIO - 1)


def test_a_histogram_never_has_more_values_than_emf_takes():
    histogram = Histogram()
    for exponent in range(-60, 80):
        histogram.add(10 ** (exponent / 10))  # 1e-6 ms to 1e8 ms
    for odd in (-1.0, math.nan, math.inf, 0.0):
        histogram.add(odd)
    document = histogram.document()
    assert len(document["Values"]) <= MAX_BINS <= MAX_VALUES
    assert histogram_problems("Latency_page", document) == []


# --- bounded cardinality -----------------------------------------------------------------------


def test_unknown_routes_statuses_and_dependencies_go_to_fixed_buckets():
    assert route_class("/api/does-not-exist") == "other"
    assert route_class("/api/*") == "other"
    assert route_class("/an-unknown/path") == "other"
    assert route_class("static") == "page"
    assert emf.status_class(99) == emf.status_class(600) == "5xx"
    assert emf.dependency_name("redis") == "other"


def test_any_traffic_creates_only_the_contract_s_metrics(clean_environment):
    """Random routes, methods, statuses and dependencies: every name is in the contract, every
    line has one dimension set [Environment] and the metric count is the documented one."""
    clock = FakeClock()
    metrics, lines = aggregator(clock)
    rng = random.Random(7)
    routes = [route.path for route in service_routes(Settings(), None)]  # type: ignore[arg-type]
    for _ in range(20_000):
        route = rng.choice([*routes, "static", "/api/*", f"/x/{rng.random()}"])
        method = rng.choice(["GET", "POST", "BREW", "OPTIONS"])
        metrics.observe_request(route, method, rng.randint(0, 999), rng.expovariate(20))
        metrics.observe_dependency(rng.choice(["supabase", "n8n", f"dep{rng.random()}"]), "error")
        clock.now += 0.01
    metrics.flush()
    names = {name for line in lines for name in metric_values(line)}
    assert names == set(EMF_METRIC_NAMES)
    assert EMF_METRIC_COUNT == 17
    for line in lines:
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == APP_METRICS_NAMESPACE
        assert directive["Dimensions"] == [[ENVIRONMENT_DIMENSION]]
        assert spec_problems(line) == []


def test_every_route_of_the_table_has_a_deliberate_class(clean_environment):
    classed = {route.path: route_class(route.path) for route in service_routes(Settings(), None)}  # type: ignore[arg-type]
    assert {path for path, kind in classed.items() if kind == "other"} == {
        contract.METRICS_PATH,
        contract.OPENAPI_PATH,
    }


def test_emf_names_do_not_clash_with_the_log_filter_metrics():
    filtered = {s.query.name for s in SIGNALS if s.log_filter is not None}  # type: ignore[union-attr]
    assert filtered.isdisjoint(EMF_METRIC_NAMES)
    assert all("-" not in name for name in EMF_METRIC_NAMES)  # log-filter metrics: <prefix>-name


# --- through the log sink ----------------------------------------------------------------------


def busiest_line() -> Mapping[str, Any]:
    """A window with every metric and full histograms: the longest line the app can write."""
    clock = FakeClock()
    metrics, lines = aggregator(clock)
    for kind, route in (
        ("page", "static"),
        ("ingest", LOGS_INGEST_PATH),
        ("health", HEALTH_PATH),
        ("other", "/x"),
    ):
        assert route_class(route) == kind
        for index in range(MAX_BINS * 3):
            metrics.observe_request(route, "POST", 202 + index, 1e-4 * 1.2 ** (index / 3))
    metrics.observe_dependency("supabase", "error")
    metrics.flush()
    return lines[0]


def test_the_line_passes_the_scrubber_unchanged_and_fits_one_cloudwatch_event():
    line = busiest_line()
    encoded = encode_line(line)
    assert json.loads(encoded) == json.loads(json.dumps(line))
    assert len(encoded.encode()) + 1 <= MAX_LINE_BYTES
    assert spec_problems(json.loads(encoded)) == []


def test_the_validator_refuses_what_the_spec_refuses():
    line = busiest_line()
    assert spec_problems({**line, ENVIRONMENT_DIMENSION: 3})
    assert spec_problems({key: value for key, value in line.items() if key != "Requests_2xx"})
    assert spec_problems({**line, "_aws": {**line["_aws"], "Timestamp": "now"}})
    too_many = {"Values": list(range(1, 102)), "Counts": [1] * 101, "Max": 101, "Min": 1,
                "Count": 101, "Sum": 5151}  # fmt: skip
    assert spec_problems({**line, "Latency_page": too_many})
    assert spec_problems({**line, "Latency_page": {**line["Latency_page"], "Count": 1}})


# --- the timer, shutdown and the app's lifespan ------------------------------------------------


def test_the_timer_writes_each_window_and_stop_writes_the_partial_one():
    lines: list[Mapping[str, Any]] = []

    async def scenario() -> None:
        metrics = EmfAggregator("staging", 1, write=lines.append)
        metrics.start()
        emf.observe_request(HEALTH_PATH, "GET", 200, 0.001)
        await asyncio.sleep(metrics.window_end - time.time() + 0.3)
        assert len(lines) >= 1  # written by the timer, nothing else ran
        emf.observe_request(HEALTH_PATH, "GET", 503, 0.001)
        await metrics.stop()
        assert emf.active() is None

    asyncio.run(scenario())
    assert sum(metric_values(line)["Requests_2xx"] for line in lines) == 1
    assert metric_values(lines[-1])["Requests_5xx"] == 1


def emf_lines(text: str) -> list[dict[str, Any]]:
    return [
        document
        for document in (json.loads(line) for line in text.splitlines() if line.startswith("{"))
        if "_aws" in document and document.get("event") == "app_metrics"
    ]


def test_the_app_writes_its_window_at_shutdown(clean_environment, capsys):
    with TestClient(create_test_app()) as client:
        for _ in range(3):
            assert client.get(HEALTH_PATH).status_code == 200
        assert (
            client.post(
                LOGS_INGEST_PATH, content=b"{", headers={"content-type": "application/json"}
            ).status_code
            == 400
        )
    lines = emf_lines(capsys.readouterr().out)
    assert lines
    assert all(spec_problems(line) == [] for line in lines)
    assert sum(line["Requests_2xx"] for line in lines) == 3
    assert sum(line["Ingest_rejected"] for line in lines) == 1
    assert emf.active() is None


def create_test_app():
    return create_app(Settings(), static_app=fake_static)


def test_a_real_server_writes_valid_emf_lines_on_stdout(service):
    running = service(METRICS_FLUSH_INTERVAL_SECONDS="1", APP_ENV="development")
    with httpx.Client(base_url=running.base_url, timeout=5) as client:
        for _ in range(5):
            assert client.get(HEALTH_PATH).status_code == 200
        assert client.get("/api/nothing-here").status_code == 404
        assert client.post(LOGS_INGEST_PATH, json={"nope": 1}).status_code == 422
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not emf_lines(running.output()):
        time.sleep(0.2)
    timed = emf_lines(running.output())
    assert timed, running.output()
    running.process.send_signal(signal.SIGTERM)
    assert running.process.wait(timeout=30) == 0
    lines = emf_lines(running.output())
    assert all(spec_problems(line) == [] for line in lines)
    total = {
        name: sum(line[name] for line in lines)
        for name in ("Requests_2xx", "Requests_4xx", "Ingest_rejected")
    }
    assert total["Requests_2xx"] >= 5  # the launcher's own /health polls count too
    assert total["Requests_4xx"] == 2
    assert total["Ingest_rejected"] == 1
    latency = [line["Latency_health"] for line in lines if "Latency_health" in line]
    assert sum(histogram["Count"] for histogram in latency) >= 5
    assert {line[ENVIRONMENT_DIMENSION] for line in lines} == {"development"}
