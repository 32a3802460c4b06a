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
            "nested": {"user": {"refreshToken": SECRET, "plan": "kept"}},
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
    assert logged["data"]["nested"]["user"]["plan"] == "kept"
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
        (metric(tags={"procedure": "rhinoplasty", "userEmail": "a@b.c"}), "tags"),
        (metric("page_load_time", tags={"unit": "seconds"}), "unit"),
        (metric(count=0), "count"),
        (metric(tags={f"t{i}": "x" for i in range(20)}), "tags"),
    ],
)
def test_unknown_names_tags_and_values_are_422(client, bad_metric, mentions):
    response = client.post("/api/metrics", json=flush(bad_metric))
    assert response.status_code == 422
    assert mentions in response.json()["error"]["message"]
    # The rejected key is never repeated (it used to be: "does not take tag(s) ['userEmail']").
    assert "userEmail" not in response.text
    assert "made_up_metric" not in response.text


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


# --- hostile input: what used to be a 5xx, and batches taken or refused whole ---------------------

SECRET_KEY = "sk_live_51HxSecretLookingKey0123456789abcdef"  # pragma: allowlist secret


def post_raw(client, path, body: bytes):
    return client.post(path, content=body, headers={"content-type": "application/json"})


def entry_bytes(data_json: bytes) -> bytes:
    return (
        b'{"timestamp":"2026-01-16T10:00:00.000Z","level":"INFO","message":"m","data":'
        + data_json
        + b"}"
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/logs", entry_bytes(b'{"n":' + b"7" * 5000 + b"}")),
        (
            "/api/metrics",
            b'{"timestamp":"2026-01-16T10:00:00Z","metrics":[{"name":"user_action","count":'
            + b"1" * 5000
            + b',"sum":1,"avg":1,"min":1,"max":1}]}',
        ),
        ("/api/csp-reports", b'{"csp-report":{"line-number":' + b"9" * 4301 + b"}}"),
    ],
)
def test_an_integer_of_thousands_of_digits_is_400_not_500(client, capsys, path, body):
    """json.loads raised ValueError (Python's int/str conversion limit): it was a 500."""
    response = post_raw(client, path, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert "7777" not in response.text
    assert not [line for line in stdout_lines(capsys) if line.get("event") == "client_log"]


@pytest.mark.parametrize(
    "body",
    [
        entry_bytes(b'{"x":"\\ud800"}'),
        entry_bytes(b'{"\\udc00key":["\\udbff", {"deep":"a\\ud83dz"}]}'),
        b'{"timestamp":"2026-01-16T10:00:00Z","level":"INFO","message":"broken \\ud83d emoji"}',
        b'{"timestamp":"2026-01-16T10:00:00Z","level":"INFO","message":"m",'
        b'"url":"https://a.example/?q=\\ud800"}',
    ],
)
def test_a_lone_surrogate_is_logged_as_a_replacement_character(client, capsys, body):
    """Encoding the output line failed on a lone surrogate in `data`: it was a 500."""
    response = post_raw(client, "/api/logs", body)
    assert response.status_code == 202
    out = capsys.readouterr().out
    out.encode()  # every line written is valid UTF-8
    (line,) = [json.loads(text) for text in out.splitlines() if '"client_log"' in text]
    json.dumps(line, ensure_ascii=False).encode()  # no lone surrogate survived, even escaped


def test_a_paired_surrogate_escape_is_the_character_it_encodes(client, capsys):
    body = b'{"timestamp":"2026-01-16T10:00:00Z","level":"INFO","message":"hi \\ud83d\\ude00"}'
    assert post_raw(client, "/api/logs", body).status_code == 202
    (line,) = [json.loads(t) for t in capsys.readouterr().out.splitlines() if '"client_log"' in t]
    assert line["message"] == "hi \U0001f600"


def test_an_encoded_surrogate_is_not_utf8(client):
    body = entry_bytes(b'{"x":"\xed\xa0\x80"}')
    assert post_raw(client, "/api/logs", body).status_code == 400


@pytest.mark.parametrize(
    "timestamp",
    [
        1768557600,
        1768557600.5,
        "1768557600",
        "2026-01-16",
        "2026-01-16T10:00:00",
        "yesterday",
        True,
    ],
)
def test_timestamps_are_rfc3339_strings_only(client, timestamp):
    """Numbers (and numeric strings, dates, times without offset) were taken as Unix time."""
    response = client.post("/api/logs", json=entry(timestamp=timestamp))
    assert response.status_code == 422
    assert "timestamp" in response.json()["error"]["message"]
    response = client.post("/api/metrics", json={**flush(metric()), "timestamp": timestamp})
    assert response.status_code == 422
    response = client.post("/api/metrics", json=flush(metric(recordedAt=timestamp)))
    assert response.status_code == 422


@pytest.mark.parametrize(
    "timestamp",
    ["2026-01-16T10:00:00Z", "2026-01-16t10:00:00.123456789z", "2026-01-16T10:00:00-05:30"],
)
def test_rfc3339_timestamps_are_accepted(client, timestamp):
    assert client.post("/api/logs", json=entry(timestamp=timestamp)).status_code == 202


def test_a_leap_second_is_accepted(client, capsys):
    assert client.post("/api/logs", json=entry(timestamp="2016-12-31T23:59:60Z")).status_code == 202
    (line,) = [json.loads(t) for t in capsys.readouterr().out.splitlines() if '"client_log"' in t]
    assert line["client_timestamp"].startswith("2016-12-31T23:59:59.999999")


@pytest.mark.parametrize(
    ("path", "document"),
    [
        ("/api/logs", entry(**{SECRET_KEY: "x"})),
        ("/api/logs", [entry(), entry(**{SECRET_KEY: {SECRET_KEY: 1}})]),
        ("/api/logs", entry(level=SECRET_KEY, timestamp=SECRET_KEY, message=7)),
        ("/api/metrics", flush(metric(tags={SECRET_KEY: "x"}))),
        ("/api/metrics", flush(metric(**{SECRET_KEY: 1}))),
        ("/api/metrics", flush(metric(SECRET_KEY))),
        ("/api/metrics", flush(metric("user_action", tags={"action": "click", SECRET_KEY: 1}))),
        ("/api/metrics", flush(metric("page_load_time", tags={"unit": SECRET_KEY}))),
        ("/api/metrics", {**flush(metric()), SECRET_KEY: 1, "environment": SECRET_KEY * 2}),
        ("/api/metrics", flush({"name": {SECRET_KEY: 1}})),
        ("/api/csp-reports", {"csp-report": {"line-number": SECRET_KEY}, SECRET_KEY: 1}),
        ("/api/csp-reports", [{"type": SECRET_KEY * 3, "body": {SECRET_KEY: 1}}]),
    ],
)
def test_a_422_never_repeats_a_rejected_key_or_value(client, path, document):
    response = client.post(path, json=document)
    assert response.status_code == 422
    assert "sk_live" not in response.text
    assert "Secret" not in response.text
    for problem in response.json()["error"]["details"]:
        assert problem["loc"]


def test_a_log_batch_whose_last_entry_is_bad_writes_nothing(client, capsys):
    batch = [entry(message=f"m{i}") for i in range(5)] + [entry(level="TRACE")]
    response = client.post("/api/logs", json=batch)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == "5.level"
    assert not [line for line in stdout_lines(capsys) if line.get("event") == "client_log"]


def test_a_metrics_flush_whose_last_metric_is_bad_counts_and_writes_nothing(client, capsys):
    before = client.get("/metrics").text
    good = [metric("user_action", tags={"action": "call"}, count=5) for _ in range(3)]
    bad = metric("user_action", tags={"action": "call"}, count=0)
    response = client.post("/api/metrics", json=flush(*good, bad))
    assert response.status_code == 422
    assert not [line for line in stdout_lines(capsys) if "_aws" in line]
    assert client.get("/metrics").text.count('action="call"') == before.count('action="call"')


def test_a_log_line_that_fails_to_render_writes_no_line_of_its_batch(monkeypatch, capsys):
    """Rendering (redaction, JSON) happens for every entry before the first line is written."""
    from app.ingest import logs  # noqa: PLC0415
    from app.redaction import redact_url  # noqa: PLC0415

    def failing(url):
        if "boom" in url:
            raise RuntimeError("render failed")
        return redact_url(url)

    monkeypatch.setattr("app.ingest.logs.redact_url", failing)
    batch = [entry(), entry(), entry(url="https://x.example/boom")]
    with pytest.raises(RuntimeError):
        logs.ingest_logs(batch, {"state": {}})
    assert "client_log" not in capsys.readouterr().out


def test_a_metric_that_fails_to_render_counts_nothing_of_its_flush(monkeypatch, capsys):
    from app.ingest import client_metrics  # noqa: PLC0415

    real = client_metrics.emf_line
    calls = []

    def failing(metric_, *args):
        calls.append(metric_.name)
        if len(calls) == 3:
            raise RuntimeError("render failed")
        return real(metric_, *args)

    counter = client_metrics.PROMETHEUS_COUNTS["user_action"].labels("test", "chat_open")
    before = counter._value.get()
    monkeypatch.setattr(client_metrics, "emf_line", failing)
    document = flush(*[metric("user_action", tags={"action": "chat_open"})] * 3)
    with pytest.raises(RuntimeError):
        client_metrics.ingest_metrics(document, {"state": {}}, "test")
    assert counter._value.get() == before
    assert "_aws" not in capsys.readouterr().out


def test_a_log_line_stays_one_event_whatever_its_fields(make_client, capsys):
    """The URL grows when its query is re-encoded, and control characters take 6 bytes each."""
    client = make_client(max_body_bytes=1_000_000)
    big = entry(
        message="\x01" * 4000,
        url="https://a.example/?" + "&".join(f"q{i}=\U0001f600\U0001f600" for i in range(200)),
        userAgent="\x02" * 512,
        environment="\x03" * 32,
        service="\x04" * 64,
        data={"blob": "\x05" * 50_000},
    )
    assert client.post("/api/logs", json=big).status_code == 202
    (line,) = [t for t in capsys.readouterr().out.splitlines() if '"client_log"' in t]
    assert len(line.encode()) <= 16_384
    json.loads(line)


def test_tag_keys_and_values_are_refused_as_documented(client):
    ok = metric("api_response_time", tags={"endpoint": "/x", "status": 503.0, "unit": "ms"})
    assert client.post("/api/metrics", json=flush(ok)).status_code == 202
    for bad_tags in (
        {"unit": "s"},
        {"endpoint": None, "bogus": 1},
        {"status": {"nested": 1}},
        {"status": "x" * 129},
        {"endpoint": [1]},
    ):
        bad = metric("api_response_time", tags=bad_tags)
        assert client.post("/api/metrics", json=flush(bad)).status_code == 422, bad_tags
    assert bounded_tags("api_response_time", {"status": 503.0}) == {"status": "5xx"}
    assert bounded_tags("booking_completed", {"procedure": True}) == {"procedure": "other"}
