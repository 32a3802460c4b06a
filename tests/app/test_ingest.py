"""POST /api/logs and /api/metrics: validation, redaction, EMF lines and Prometheus folding."""

import json
from typing import get_args

import pytest

from app.contract import BOOKING_FAILED_METRIC, CLIENT_METRICS_NAMESPACE, ENVIRONMENT_DIMENSION
from app.ingest.client_metrics import METRIC_SPECS, MetricName, bounded_tags
from app.ingest.logs import MAX_BATCH_ENTRIES, MAX_LINE_BYTES

pytestmark = pytest.mark.usefixtures("clean_environment")

SECRET = "sk_live_do-not-leak-4242"  # pragma: allowlist secret


def entry(**changes):
    return {
        "timestamp": "2026-01-16T10:00:00.000Z",
        "level": "ERROR",
        "service": "chatService",
        "environment": "production",
        "message": "Error upserting chat session",
        "data": {"sessionId": "s-1"},
        "url": "https://miko.example/booking?step=2",
        "userAgent": "Mozilla/5.0",
        **changes,
    }


def metric(name=BOOKING_FAILED_METRIC, **changes):
    return {
        "name": name,
        "tags": {"procedure": "Rhinoplasty", "consultationType": "virtual", "reason": "network"},
        "count": 3,
        "sum": 3,
        "avg": 1,
        "min": 1,
        "max": 1,
        "recordedAt": "2026-01-16T10:00:00.000Z",
        **changes,
    }


def flush(*metrics):
    return {
        "timestamp": "2026-01-16T10:01:00.000Z",
        "environment": "production",
        "metrics": list(metrics),
    }


def stdout_lines(capsys):
    return [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]


def test_one_entry_is_accepted_and_logged_with_request_id(client, capsys):
    response = client.post("/api/logs", json=entry(), headers={"X-Request-ID": "req-1"})
    assert response.status_code == 202
    assert response.json() == {"accepted": 1}
    logged = next(line for line in stdout_lines(capsys) if line.get("event") == "client_log")
    assert logged["request_id"] == "req-1"
    assert logged["level"] == "ERROR"
    assert logged["service"] == "chatService"
    assert logged["message"] == "Error upserting chat session"
    assert logged["user_agent"] == "Mozilla/5.0"


def test_batch_is_one_line_per_entry(client, capsys):
    batch = [entry(message=f"m{i}", level="WARN") for i in range(5)]
    assert client.post("/api/logs", json=batch).json() == {"accepted": 5}
    logged = [line for line in stdout_lines(capsys) if line.get("event") == "client_log"]
    assert [line["message"] for line in logged] == [f"m{i}" for i in range(5)]
    assert {line["level"] for line in logged} == {"WARNING"}


def test_secrets_sent_in_a_log_entry_never_reach_stdout(client, capsys):
    sensitive = entry(
        data={
            "password": SECRET,
            "Authorization": f"Bearer {SECRET}",
            "nested": {"user": {"refreshToken": SECRET, "name": "kept"}},
            "list": [{"api_key": SECRET}, {"sessionCookie": SECRET}],
            "clientSecret": SECRET,
            "credentials": {"anything": SECRET},
        },
        url=f"https://miko.example/cb?access_token={SECRET}&apiKey={SECRET}&step=2",
    )
    assert client.post("/api/logs", json=sensitive).status_code == 202
    out = capsys.readouterr().out
    assert SECRET not in out
    logged = next(json.loads(line) for line in out.splitlines() if '"client_log"' in line)
    assert logged["data"]["nested"]["user"]["name"] == "kept"
    assert "step=2" in logged["url"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "malformed_json"),
        (b"", 400, "malformed_json"),
        (b"\xff\xfe", 400, "malformed_json"),
        (b"[" * 100_000, 400, "malformed_json"),
        (b"[]", 422, "validation_error"),
        (b'"a string"', 422, "validation_error"),
        (json.dumps(entry(level="TRACE")).encode(), 422, "validation_error"),
        (json.dumps(entry(message="x" * 5000)).encode(), 422, "validation_error"),
        (json.dumps(entry(extra_field=1)).encode(), 422, "validation_error"),
        (json.dumps([entry()] * (MAX_BATCH_ENTRIES + 1)).encode(), 422, "validation_error"),
    ],
)
def test_bad_log_bodies_are_4xx_with_a_clear_message(make_client, body, status, code):
    client = make_client(max_body_bytes=1_000_000)
    response = client.post("/api/logs", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


def test_validation_error_names_the_field_not_the_value(client):
    response = client.post("/api/logs", json=entry(level=SECRET))
    assert response.status_code == 422
    assert "level" in response.json()["error"]["message"]
    assert SECRET not in response.text


def test_wrong_content_type_is_415(client):
    response = client.post(
        "/api/logs", content=json.dumps(entry()), headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]["message"]


def test_metrics_flush_writes_emf_lines(client, capsys):
    timing = metric(
        "api_response_time",
        tags={"endpoint": "/rest/v1/leads", "status": 503, "unit": "ms"},
        count=4,
        sum=800,
        avg=200,
        min=100,
        max=400,
    )
    response = client.post(
        "/api/metrics", json=flush(metric(), timing), headers={"X-Request-ID": "req-m"}
    )
    assert response.status_code == 202
    assert response.json() == {"accepted": 2}
    emf = [line for line in stdout_lines(capsys) if "_aws" in line]
    failed, api = emf
    directive = failed["_aws"]["CloudWatchMetrics"][0]
    # The namespace, dimension and metric name the infrastructure's alarms read (app/contract.py).
    assert directive["Namespace"] == CLIENT_METRICS_NAMESPACE == "MiKO/Client"
    assert directive["Dimensions"] == [
        [ENVIRONMENT_DIMENSION],
        [ENVIRONMENT_DIMENSION, "procedure", "consultationType", "reason"],
    ]
    assert directive["Metrics"] == [{"Name": BOOKING_FAILED_METRIC, "Unit": "Count"}]
    assert failed[BOOKING_FAILED_METRIC] == 3
    assert (failed[ENVIRONMENT_DIMENSION], failed["procedure"], failed["reason"]) == (
        "development",
        "rhinoplasty",
        "network",
    )
    assert failed["request_id"] == "req-m"
    assert {m["Name"] for m in api["_aws"]["CloudWatchMetrics"][0]["Metrics"]} == {
        "api_response_time_count",
        "api_response_time_sum",
        "api_response_time_max",
    }
    assert (api["endpoint"], api["status"], api["api_response_time_sum"]) == (
        "supabase",
        "5xx",
        800,
    )


def test_metrics_are_folded_into_prometheus(client):
    before = client.get("/metrics").text
    client.post(
        "/api/metrics",
        json=flush(metric("user_action", tags={"action": "chat_open"}, count=7, sum=7)),
    )
    after = client.get("/metrics").text
    sample = (
        'miko_client_user_action_observations_total{action="chat_open",environment="development"}'
    )
    value_after = float(
        next(line for line in after.splitlines() if line.startswith(sample)).split()[-1]
    )
    previous = [line for line in before.splitlines() if line.startswith(sample)]
    value_before = float(previous[0].split()[-1]) if previous else 0.0
    assert value_after - value_before == 7


@pytest.mark.parametrize(
    ("bad_metric", "mentions"),
    [
        (metric("made_up_metric"), "name"),
        (metric(tags={"procedure": "rhinoplasty", "userEmail": "a@b.c"}), "userEmail"),
        (metric("page_load_time", tags={"unit": "seconds"}), "unit"),
        (metric(count=0), "count"),
        (metric(tags={f"t{i}": "x" for i in range(20)}), "tags"),
    ],
)
def test_unknown_names_tags_and_values_are_422(client, bad_metric, mentions):
    response = client.post("/api/metrics", json=flush(bad_metric))
    assert response.status_code == 422
    assert mentions in response.json()["error"]["message"]


def test_non_finite_values_are_refused(client):
    body = json.dumps(flush(metric())).replace('"max": 1', '"max": Infinity')
    response = client.post(
        "/api/metrics", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_free_form_tag_values_fold_into_a_bounded_set():
    seen = {bounded_tags("user_action", {"action": f"action-{i}"})["action"] for i in range(500)}
    assert seen == {"other"}
    assert bounded_tags("user_action", {"action": "Chat Open"}) == {"action": "chat_open"}
    assert bounded_tags(
        "api_response_time", {"status": "200", "endpoint": "https://x.supabase.co/rest/v1/a"}
    ) == {"status": "2xx", "endpoint": "supabase"}
    assert bounded_tags(
        "api_response_time", {"status": "network error", "endpoint": "/unknown"}
    ) == {"status": "error", "endpoint": "other"}


def test_an_oversized_entry_stays_one_cloudwatch_event(make_client, capsys):
    client = make_client(max_body_bytes=1_000_000)
    big = entry(message="m" * 4000, data={"blob": "é" * 60_000})
    assert client.post("/api/logs", json=big).status_code == 202
    line = next(text for text in capsys.readouterr().out.splitlines() if '"client_log"' in text)
    assert len(line.encode()) <= MAX_LINE_BYTES
    logged = json.loads(line)
    assert logged["data"]["truncated"] is True
    assert logged["message"].startswith("mmm")


def test_free_form_error_context_is_accepted_and_dropped():
    tags = {"errorType": "NetworkError", "component": "Dashboard", "action": "load"}
    assert bounded_tags("error_count", tags) == {"errorType": "other"}


def test_the_alarmed_metric_is_one_a_client_can_send():
    assert BOOKING_FAILED_METRIC in get_args(MetricName)
    assert METRIC_SPECS[BOOKING_FAILED_METRIC].kind == "event"
    assert set(METRIC_SPECS) == set(get_args(MetricName))
