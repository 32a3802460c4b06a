"""The assembled app in-process: routing, headers on every kind of response, request ids,
CORS, errors and the access log."""

import json

import pytest
from starlette.testclient import TestClient

from app.asgi import create_app
from app.security_headers import security_headers
from app.settings import Settings

pytestmark = pytest.mark.usefixtures("clean_environment")

SUPABASE = "https://abc.supabase.co"
ROUTED = {"VITE_SUPABASE_URL": "SUPABASE_URL"}
EXPECTED_HEADERS = {name.lower(): value for name, value in security_headers([SUPABASE]).items()}
LOG_ENTRY = {"timestamp": "2026-01-16T10:00:00Z", "level": "INFO", "message": "hello"}


def assert_security_headers(response):
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers.get_list(name) == [value], f"{name} on {response.status_code}"
    assert "server" not in response.headers
    assert "x-powered-by" not in response.headers
    assert response.headers["x-request-id"]


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture
def app_client(make_client):
    return make_client(
        supabase_url=SUPABASE,
        browser_config_from=ROUTED,
        rate_limit=2,
        max_body_bytes=2048,
        allowed_origins=["https://miko.example"],
    )


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/health", {}, 200),
        ("GET", "/metrics", {}, 200),
        ("GET", "/openapi.json", {}, 200),
        ("GET", "/api/nothing", {}, 404),
        ("GET", "/api/logs", {}, 405),
        ("POST", "/health", {}, 405),
        ("GET", "/some/spa/route", {}, 200),
        ("GET", "/asset.js", {"headers": {"If-None-Match": '"x"'}}, 304),
        ("GET", "/boom", {}, 500),
        (
            "POST",
            "/api/logs",
            {"content": b"{", "headers": {"content-type": "application/json"}},
            400,
        ),
        (
            "POST",
            "/api/logs",
            {"content": b"x" * 4096, "headers": {"content-type": "application/json"}},
            413,
        ),
        ("POST", "/api/logs", {"json": {"level": "nope"}}, 422),
        ("POST", "/api/logs", {"content": b"{}", "headers": {"content-type": "text/plain"}}, 415),
    ],
)
def test_every_kind_of_response_carries_the_security_headers(
    app_client, method, path, kwargs, status
):
    response = app_client.request(method, path, **kwargs)
    assert response.status_code == status
    assert_security_headers(response)


def test_rate_limited_response_carries_headers_too(app_client):
    statuses = [app_client.post("/api/logs", json=LOG_ENTRY).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]
    limited = app_client.post("/api/logs", json=LOG_ENTRY)
    assert_security_headers(limited)
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["error"]["code"] == "rate_limited"


def test_api_and_health_responses_are_not_cached(app_client):
    for path in ("/health", "/health/db", "/health/apis", "/metrics", "/api/unknown"):
        assert app_client.get(path).headers["cache-control"] == "no-store", path


def test_static_paths_go_to_static_files(app_client):
    response = app_client.get("/booking/step-2")
    assert response.text == "static:/booking/step-2"
    assert response.headers["cache-control"] == "no-cache"


def test_unknown_api_path_is_json_404_not_spa(app_client):
    response = app_client.get("/api/v1/leads")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_liveness_body(app_client):
    body = app_client.get("/health").json()
    assert body["status"] == "healthy"
    assert body["environment"] == "development"
    assert body["uptimeSeconds"] >= 0


def test_valid_request_id_is_echoed_and_invalid_replaced(app_client):
    assert (
        app_client.get("/health", headers={"X-Request-ID": "abc-123.x"}).headers["x-request-id"]
        == "abc-123.x"
    )
    for bad in ("has space", "a" * 200, "<script>"):
        echoed = app_client.get("/health", headers={"X-Request-ID": bad}).headers["x-request-id"]
        assert echoed != bad
        assert len(echoed) == 32


def test_unhandled_error_is_json_without_stack_and_logged_with_request_id(app_client, json_log):
    response = app_client.get("/boom", headers={"X-Request-ID": "req-boom"})
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "code": "internal_error",
            "message": "internal server error",
            "requestId": "req-boom",
        }
    }
    assert "Traceback" not in response.text
    lines = json_lines(json_log.getvalue())
    error_line = next(line for line in lines if line.get("event") == "unhandled_error")
    assert error_line["request_id"] == "req-boom"
    assert "RuntimeError" in error_line["exception"]


def test_access_log_line_has_fields_and_no_query_string(app_client, capsys):
    app_client.get("/health?token=very-secret-token", headers={"X-Request-ID": "req-log"})
    lines = json_lines(capsys.readouterr().out)
    access = next(line for line in lines if line.get("logger") == "access")
    assert access["path"] == "/health"
    assert access["request_id"] == "req-log"
    assert access["status"] == 200
    assert access["method"] == "GET"
    assert access["bytes"] > 0
    assert access["duration_ms"] >= 0
    assert "very-secret-token" not in json.dumps(lines)


def test_cors_preflight_allowed_origin(app_client):
    response = app_client.options(
        "/api/logs",
        headers={
            "Origin": "https://miko.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://miko.example"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert_security_headers(response)


def test_cors_refuses_other_origins(app_client):
    preflight = app_client.options(
        "/api/logs",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 400
    simple = app_client.post(
        "/api/logs", json=LOG_ENTRY, headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in simple.headers


def test_metrics_count_requests_by_route(app_client):
    app_client.get("/api/does-not-exist-1")
    app_client.get("/api/does-not-exist-2")
    exposition = app_client.get("/metrics").text
    assert 'miko_http_requests_total{method="GET",route="/api/*",status="404"}' in exposition
    assert "does-not-exist" not in exposition


def test_access_log_escapes_odd_paths(app_client, capsys):
    app_client.get("/odd%22path%5C%E2%9C%93")
    access = next(
        line for line in json_lines(capsys.readouterr().out) if line.get("logger") == "access"
    )
    assert access["path"] == '/odd"path\\\u2713'


def test_real_static_files_get_the_headers_and_304():
    with TestClient(
        create_app(Settings(supabase_url=SUPABASE, browser_config_from=ROUTED))
    ) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert_security_headers(page)
        etag = page.headers["etag"]
        not_modified = client.get("/", headers={"If-None-Match": etag})
        assert not_modified.status_code == 304
        assert_security_headers(not_modified)
        assert_security_headers(client.get("/assets/missing-abcdefgh.js"))
