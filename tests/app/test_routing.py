"""One route table drives dispatch, 405 answers with Allow, and the OpenAPI document."""

import asyncio
import json
from urllib.parse import unquote

import pytest
from pydantic import BaseModel
from starlette.testclient import TestClient

from app.contract import (
    CSP_REPORTS_PATH,
    HEALTH_APIS_PATH,
    HEALTH_DATABASE_PATH,
    HEALTH_PATH,
    LOGS_INGEST_PATH,
    METRICS_INGEST_PATH,
    METRICS_PATH,
    OPENAPI_PATH,
    RUNTIME_CONFIG_PATH,
)
from app.errors import send_json
from app.openapi import build_document
from app.routes import documented_routes
from app.routing import Body, Reply, Route, Router, internal_variant, path_problem

pytestmark = pytest.mark.usefixtures("clean_environment")

ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
SERVICE_ALLOW = {
    HEALTH_PATH: "GET, HEAD",
    HEALTH_DATABASE_PATH: "GET, HEAD",
    HEALTH_APIS_PATH: "GET, HEAD",
    METRICS_PATH: "GET, HEAD",
    OPENAPI_PATH: "GET, HEAD",
    LOGS_INGEST_PATH: "POST",
    METRICS_INGEST_PATH: "POST",
    CSP_REPORTS_PATH: "POST",
    RUNTIME_CONFIG_PATH: "GET, HEAD",
}


class Echo(BaseModel):
    text: str


async def ping(scope, receive, send):
    await send_json(scope, send, 200, {"pong": scope["method"]})


async def echo(scope, receive, send):
    await send_json(scope, send, 201, {"echoed": True})


async def fallback(scope, receive, send):
    await send_json(scope, send, 299, {"fallback": scope["path"]})


PING = Route("/ping", ("GET",), ping, "Ping.", None, {200: Reply("Pong.", {"type": "object"})})
ECHO = Route(
    "/api/echo",
    ("POST", "PUT"),
    echo,
    "Echo a text.",
    Body(Echo),
    {201: Reply("Echoed.", {"type": "object"}, headers=())},
)


def router_client(*routes):
    return TestClient(Router(routes, fallback))


def test_a_route_added_to_the_table_is_dispatched():
    client = router_client(PING, ECHO)
    assert client.get("/ping").json() == {"pong": "GET"}
    head = client.head("/ping")
    assert (head.status_code, head.content) == (200, b"")
    assert client.post("/api/echo", json={"text": "x"}).status_code == 201
    assert client.put("/api/echo", json={"text": "x"}).status_code == 201

    without = router_client(ECHO)
    assert without.get("/ping").json() == {"fallback": "/ping"}
    assert without.get("/api/nothing").status_code == 404


@pytest.mark.parametrize(
    ("route", "method", "allow"),
    [(PING, "POST", "GET, HEAD"), (PING, "DELETE", "GET, HEAD"), (ECHO, "GET", "POST, PUT")],
)
def test_a_route_added_to_the_table_answers_other_methods_with_405(route, method, allow):
    response = router_client(PING, ECHO).request(method, route.path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_route_added_to_the_table_is_in_the_document():
    paths = build_document([PING, ECHO], "9.9.9")["paths"]
    assert set(paths) == {"/ping", "/api/echo"}
    assert set(paths["/ping"]) == {"get"}
    assert paths["/ping"]["get"]["summary"] == "Ping."
    assert "requestBody" not in paths["/ping"]["get"]
    assert set(paths["/api/echo"]) == {"post", "put"}
    post = paths["/api/echo"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Echo"
    }
    assert post["responses"] == {
        "201": {
            "description": "Echoed.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }
    assert "X-Request-ID" in paths["/ping"]["get"]["responses"]["200"]["headers"]


def test_route_labels_are_bounded():
    router = Router((PING, ECHO), fallback)
    assert [router.route_of(path) for path in ("/ping", "/api/echo", "/api/x/1", "/a/b")] == [
        "/ping",
        "/api/echo",
        "/api/*",
        "static",
    ]


def test_a_table_cannot_hold_two_routes_for_a_path_or_list_head():
    with pytest.raises(ValueError, match="two routes for /ping"):
        Router((PING, PING), fallback)
    with pytest.raises(ValueError, match="HEAD comes with GET"):
        Route("/x", ("GET", "HEAD"), ping, "X.", None, {200: Reply("X.", {})})


def test_the_service_table_is_the_one_served_and_documented(make_client):
    client = make_client()
    served = {route.path: route.allowed_methods for route in client.app.routes}
    assert {path: ", ".join(methods) for path, methods in served.items()} == SERVICE_ALLOW
    documented = build_document(documented_routes())["paths"]
    assert {path: set(item) for path, item in documented.items()} == {
        route.path: {method.lower() for method in route.methods} for route in client.app.routes
    }


@pytest.mark.parametrize(("path", "allow"), sorted(SERVICE_ALLOW.items()))
def test_a_wrong_method_on_a_service_route_is_405_with_allow(make_client, path, allow):
    client = make_client(allowed_origins=["https://miko.example"])
    wrong = [method for method in ALL_METHODS if method not in allow.split(", ")]
    assert wrong
    for method in wrong:
        response = client.request(method, path)
        assert response.status_code == 405, (method, path)
        assert response.headers["allow"] == allow, (method, path)
        if method != "HEAD":
            assert response.json()["error"] == {
                "code": "method_not_allowed",
                "message": f"{method} is not allowed here; use {allow}",
                "requestId": response.headers["x-request-id"],
            }


def test_ingest_routes_answer_preflight_and_count_wrong_methods_as_before(make_client):
    client = make_client(allowed_origins=["https://miko.example"], rate_limit=1)
    origin = {"Origin": "https://miko.example"}
    preflight = client.options(
        LOGS_INGEST_PATH, headers={**origin, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 200
    wrong = client.get(LOGS_INGEST_PATH, headers=origin)
    assert wrong.status_code == 405
    assert wrong.headers["access-control-allow-origin"] == "https://miko.example"
    assert client.get(LOGS_INGEST_PATH, headers=origin).status_code == 429


# --- canonical paths and internal paths ---------------------------------------------------------


def http_scope(raw_path: bytes, headers=()):
    return {
        "type": "http",
        "method": "GET",
        "path": unquote(raw_path.decode("latin-1")),
        "raw_path": raw_path,
        "query_string": b"",
        "headers": [*headers],
    }


@pytest.mark.parametrize(
    "raw_path",
    [
        b"/",
        b"/metrics",
        b"/api/logs",
        b"/assets/index-3274f867.js",
        b"/booking/",
        b"/caf%C3%A9",
        b"/caf%c3%a9",
        b"/a%20b",
        b"/a;b=c",
        b"/metrics%3Bx",
        b"/%E2%9C%93",
    ],
)
def test_canonical_paths_pass(raw_path):
    assert path_problem(http_scope(raw_path)) is None


@pytest.mark.parametrize(
    ("raw_path", "problem"),
    [
        (b"/%6detrics", "unreserved"),
        (b"/%6Detrics", "unreserved"),
        (b"/m%65trics", "unreserved"),
        (b"/%7E", "unreserved"),
        (b"/%2D", "unreserved"),
        (b"/%2e%2e/metrics", "unreserved"),
        (b"/metrics%2F", "'/' and '%'"),
        (b"/metrics%2f", "'/' and '%'"),
        (b"/%256detrics", "'/' and '%'"),
        (b"/%25", "'/' and '%'"),
        (b"/%", "two hex digits"),
        (b"/%6", "two hex digits"),
        (b"/%zz", "two hex digits"),
        (b"/metrics%00", "control"),
        (b"/metrics%0A", "control"),
        (b"/metrics%7F", "control"),
        (b"/%FF", "UTF-8"),
        (b"/%C3", "UTF-8"),
        (b"//metrics", "empty path segments"),
        (b"/api//logs", "empty path segments"),
        (b"/./metrics", "dot segments"),
        (b"/a/../metrics", "dot segments"),
        (b"/metrics/.", "dot segments"),
        (b"/metrics/..", "dot segments"),
        (b"metrics", "start with '/'"),
        (b"/caf\xc3\xa9", "ASCII"),
    ],
)
def test_non_canonical_paths_are_named(raw_path, problem):
    found = path_problem(http_scope(raw_path))
    assert found is not None
    assert problem in found


def test_a_path_that_is_not_its_raw_path_decoded_is_refused():
    scope = {**http_scope(b"/health"), "path": "/metrics"}
    assert path_problem(scope) == "the path does not match its encoded form"


def test_without_raw_path_the_decoded_path_is_still_checked():
    scope = {"type": "http", "path": "/a/../metrics", "headers": []}
    assert path_problem(scope) == "dot segments ('.', '..') are not allowed"
    assert path_problem({**scope, "path": "/metrics"}) is None


@pytest.mark.parametrize(
    ("path", "internal"),
    [
        ("/metrics", "/metrics"),
        ("/METRICS", "/metrics"),
        ("/Metrics/", "/metrics"),
        ("/metrics;x", "/metrics"),
        ("/metrics/x", "/metrics"),
        ("/metrics.txt", "/metrics"),
        ("/metrics ", "/metrics"),
        ("/metrics-dashboard", None),
        ("/metrics_old", None),
        ("/metricsx", None),
        ("/api/metrics", None),
        ("/x/metrics", None),
        ("/metric", None),
    ],
)
def test_internal_variants(path, internal):
    assert internal_variant(path, ("/metrics",)) == internal


async def secret(scope, receive, send):
    await send_json(scope, send, 200, {"secret": True})


SECRET = Route("/internal", ("GET",), secret, "Secret.", None, {200: Reply("S.", {})})


def internal_router_client():
    return TestClient(Router((PING, SECRET), fallback, internal_paths=("/internal", "/gone")))


def test_an_internal_route_answers_only_requests_that_came_through_no_proxy():
    client = internal_router_client()
    assert client.get("/internal").json() == {"secret": True}
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Amzn-Trace-Id", "CF-Ray", "Via"):
        response = client.get("/internal", headers={header: "x"})
        assert response.status_code == 404, header
        assert response.json()["error"]["code"] == "not_found"
    assert client.get("/ping", headers={"X-Forwarded-For": "1.2.3.4"}).status_code == 200


@pytest.mark.parametrize("path", ["/INTERNAL", "/Internal/", "/internal;a", "/internal/x", "/gone"])
def test_other_spellings_of_internal_paths_and_unrouted_ones_are_404(path):
    response = internal_router_client().get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_non_canonical_paths_never_reach_a_route_or_the_fallback():
    # Called as uvicorn would (httpx would normalise some of these targets before sending).
    router = Router((PING, SECRET), fallback, internal_paths=("/internal",))
    for raw_path in (b"/%69nternal", b"/p%69ng", b"//ping", b"/x/../ping", b"/%2570ing"):
        status, body = asyncio.run(call(router, http_scope(raw_path)))
        assert status == 400, raw_path
        assert json.loads(body)["error"]["code"] == "non_canonical_path", raw_path


async def call(app, scope):
    messages = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return messages[0]["status"], body
