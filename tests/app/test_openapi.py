import pytest

from app.ingest.client_metrics import METRIC_SPECS, PROCEDURES
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


def schemas():
    return build_document(documented_routes())["components"]["schemas"]


def resolve(node, components):
    if "$ref" in node:
        return components[node["$ref"].rsplit("/", 1)[-1]]
    return node


def metric_schemas(components):
    items = components["ClientMetricsFlush"]["properties"]["metrics"]["items"]
    return {
        resolve(member, components)["properties"]["name"]["const"]: resolve(member, components)
        for member in items["oneOf"]
    }


def test_metric_names_are_an_enumeration():
    """One schema per metric name (a oneOf told apart by the `name` constant)."""
    assert set(metric_schemas(schemas())) == {
        "page_load_time",
        "api_response_time",
        "error_count",
        "booking_completed",
        "booking_failed",
        "user_action",
    }


def test_each_metric_documents_the_tag_keys_and_values_it_takes():
    components = schemas()
    documented = {
        name: resolve(metric["properties"]["tags"], components)
        for name, metric in metric_schemas(components).items()
    }
    for name, spec in METRIC_SPECS.items():
        tags = documented[name]
        keys = {*spec.tags, *spec.dropped}
        assert tags["additionalProperties"] is False
        assert set(tags["properties"]) == keys
        assert set(tags["propertyNames"]["enum"]) == keys
    unit = documented["page_load_time"]["properties"]["unit"]
    assert [branch.get("const") for branch in unit["anyOf"]] == ["ms", None]
    procedure = documented["booking_failed"]["properties"]["procedure"]
    assert set(procedure["anyOf"][0]["enum"]) == set(PROCEDURES)
    assert "other" in procedure["description"]


def test_timestamps_are_documented_as_date_time_strings_only():
    components = schemas()
    date_time = {"type": "string", "format": "date-time"}
    entry = components["ClientLogEntry"]["properties"]["timestamp"]
    assert {key: entry[key] for key in date_time} == date_time
    flush = components["ClientMetricsFlush"]["properties"]["timestamp"]
    assert {key: flush[key] for key in date_time} == date_time
    for metric in metric_schemas(components).values():
        recorded = metric["properties"]["recordedAt"]["anyOf"]
        assert [{key: branch[key] for key in date_time} for branch in recorded[:1]] == [date_time]
        assert recorded[1] == {"type": "null"}


def test_integers_and_numbers_are_documented_as_validated():
    components = schemas()
    metric = metric_schemas(components)["user_action"]["properties"]
    assert metric["count"] == {
        "maximum": 1_000_000,
        "minimum": 1,
        "title": "Count",
        "type": "integer",
    }
    assert metric["sum"]["type"] == "number"
    assert (metric["sum"]["minimum"], metric["sum"]["maximum"]) == (-1e9, 1e9)


def test_accepted_allows_zero_for_csp_reports():
    """A Reporting API batch with no csp-violation report is accepted with `accepted: 0`."""
    accepted = schemas()["Accepted"]["properties"]["accepted"]
    assert accepted["type"] == "integer"
    assert accepted["minimum"] == 0


def test_served_document_matches(client):
    response = client.get("/openapi.json")
    assert response.json() == build_document(documented_routes())
