"""The app's side of the metric-filter contract: the lines the app really prints for a failed
database check are the ones `contract.DATABASE_CHECK_FAILED` counts, and no others are; and the
scrubbing at the log sink leaves every line the service makes itself (access log, EMF metrics,
CSP violations, health checks) as it is, so no filter or metric loses its fields."""

import json

import pytest

from app.contract import (
    BOOKING_FAILED_METRIC,
    CLIENT_METRICS_NAMESPACE,
    CSP_VIOLATION_EVENT,
    CSP_VIOLATION_REPORTED,
    DATABASE_CHECK_FAILED,
    ENVIRONMENT_DIMENSION,
    HEALTH_CHECK_EVENT,
)
from app.logging_setup import encode_line, parse_line
from tests.app.conftest import closed_port

pytestmark = pytest.mark.usefixtures("clean_environment")

ANON_KEY = "anon-key-for-tests"


def printed(json_log):
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert lines, "the app printed nothing at all"
    return lines


def check_client(make_client, **overrides):
    return make_client(health_check_timeout_seconds=1.0, health_budget_seconds=1.5, **overrides)


@pytest.mark.parametrize(("behaviour", "status"), [("refused", "error"), ("failing", "unhealthy")])
def test_a_failed_database_check_prints_the_line_the_filter_counts(
    make_client, fake_dependency, json_log, behaviour, status
):
    if behaviour == "refused":
        overrides = {"database_url": f"postgresql://miko@127.0.0.1:{closed_port()}/postgres"}
        target = "postgres"
    else:
        overrides = {"supabase_url": fake_dependency.url("fail"), "supabase_anon_key": ANON_KEY}
        target = "supabase"
    assert check_client(make_client, **overrides).get("/health/db").status_code == 503

    counted = [line for line in printed(json_log) if DATABASE_CHECK_FAILED.matches(line)]
    assert [(line["target"], line["status"]) for line in counted] == [(target, status)]


def test_a_healthy_database_check_prints_nothing_the_filter_counts(
    make_client, json_log, postgres_url
):
    client = check_client(make_client, database_url=postgres_url)
    response = client.get("/health/db")
    assert response.json()["checks"]["postgres"]["status"] == "healthy"

    lines = printed(json_log)
    assert not [line for line in lines if DATABASE_CHECK_FAILED.matches(line)]


def test_a_failed_apis_check_is_not_counted_as_a_database_failure(
    make_client, fake_dependency, json_log
):
    client = check_client(make_client, n8n_webhook_url=fake_dependency.url("fail"))
    assert client.get("/health/apis").json()["services"]["n8n"]["status"] == "unhealthy"

    failures = [line for line in printed(json_log) if line.get("event") == HEALTH_CHECK_EVENT]
    assert [(line["check"], line["target"]) for line in failures] == [("apis", "n8n")]
    assert not DATABASE_CHECK_FAILED.matches(failures[0])


SERVICE_LINES = {
    "access": (
        '{"timestamp":"2026-01-16T10:00:00.123Z","level":"INFO","logger":"access",'
        '"event":"http_request","request_id":"6def74f6b3e609a9c760fb2da0187edb","method":"POST",'
        '"path":"/api/logs","route":"/api/logs","status":202,"duration_ms":1.234,"bytes":15}'
    ),
    "emf": json.dumps(
        {
            "_aws": {
                "Timestamp": 1768557600000,
                "CloudWatchMetrics": [
                    {
                        "Namespace": CLIENT_METRICS_NAMESPACE,
                        "Dimensions": [[ENVIRONMENT_DIMENSION], [ENVIRONMENT_DIMENSION, "reason"]],
                        "Metrics": [{"Name": BOOKING_FAILED_METRIC, "Unit": "Count"}],
                    }
                ],
            },
            "event": "client_metric",
            "request_id": "req-1",
            ENVIRONMENT_DIMENSION: "production",
            "procedure": "rhinoplasty",
            "consultationType": "virtual",
            "reason": "network",
            BOOKING_FAILED_METRIC: 3,
        }
    ),
    "csp": json.dumps(
        {
            "timestamp": "2026-01-16T10:00:00.123Z",
            "level": "WARNING",
            "logger": "csp",
            "event": CSP_VIOLATION_EVENT,
            "directive": "script-src-elem",
            "disposition": "enforce",
            "blocked": "https://evil.example/x.js",
            "document": "https://miko.example/booking",
            "source_file": "",
            "line": 12,
        }
    ),
    "health": json.dumps(
        {
            "timestamp": "2026-01-16T10:00:00.123Z",
            "level": "WARNING",
            "logger": "app.health",
            "message": "database health check failed: postgres",
            "event": HEALTH_CHECK_EVENT,
            "check": "database",
            "target": "postgres",
            "status": "error",
            "response_time_ms": 1500.2,
            "detail": "connection to 10.0.3.17:5432 timed out",
        }
    ),
}


@pytest.mark.parametrize("name", SERVICE_LINES)
def test_the_sink_leaves_the_lines_the_service_makes_as_they_are(name):
    original = json.loads(SERVICE_LINES[name])
    assert json.loads(encode_line(parse_line(SERVICE_LINES[name]))) == original


def test_the_filters_still_count_the_scrubbed_lines():
    health = json.loads(encode_line(parse_line(SERVICE_LINES["health"])))
    csp = json.loads(encode_line(parse_line(SERVICE_LINES["csp"])))
    assert DATABASE_CHECK_FAILED.matches(health)
    assert CSP_VIOLATION_REPORTED.matches(csp)
