import pytest

from app.openapi import build_document
from app.routes import documented_routes

pytestmark = pytest.mark.usefixtures("clean_environment")

ROUTES = {
    ("/health", "get"),
    ("/health/db", "get"),
    ("/health/apis", "get"),
    ("/metrics", "get"),
    ("/openapi.json", "get"),
    ("/api/logs", "post"),
    ("/api/metrics", "post"),
    ("/api/csp-reports", "post"),
    ("/_platform/runtime-config.js", "get"),
}


def test_every_route_is_described_with_its_error_responses():
    document = build_document(documented_routes())
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    assert described == ROUTES
    for path in ("/api/logs", "/api/metrics", "/api/csp-reports"):
        assert set(document["paths"][path]["post"]["responses"]) == {
            "202",
            "400",
            "413",
            "415",
            "422",
            "429",
        }
    assert set(document["paths"]["/health/db"]["get"]["responses"]) == {"200", "503"}


def test_every_reference_resolves():
    document = build_document(documented_routes())
    schemas = document["components"]["schemas"]

    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"].rsplit("/", 1)[-1]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    missing = set(refs(document)) - set(schemas)
    assert not missing
    assert {"ClientLogEntry", "ClientMetricsFlush", "ErrorBody", "DatabaseHealth"} <= set(schemas)


def test_metric_names_are_an_enumeration():
    metric = build_document(documented_routes())["components"]["schemas"]["ClientMetric"]
    assert set(metric["properties"]["name"]["enum"]) == {
        "page_load_time",
        "api_response_time",
        "error_count",
        "booking_completed",
        "booking_failed",
        "user_action",
    }


def test_served_document_matches(client):
    response = client.get("/openapi.json")
    assert response.json() == build_document(documented_routes())
