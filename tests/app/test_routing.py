"""One route table drives dispatch, 405 answers with Allow, and the OpenAPI document."""

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
from app.routing import Body, Reply, Route, Router

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
