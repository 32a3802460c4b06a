"""Schemathesis against the real ASGI app and its own OpenAPI document, with every check the
library has: no 5xx; every response matches the documented status codes, content types, headers
and schemas; every schema-valid body is accepted and every schema-violating one refused (so the
document says exactly what the validators take); a method the path does not take is 405 with
`Allow`; and the checks that need authentication or resources (ignored auth, use after free)
have nothing to find, since the document declares neither."""

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, is_check_class, load_all_checks
from schemathesis.config import PositiveDataAcceptanceConfig
from schemathesis.config._checks import NegativeDataRejectionConfig
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode

from app.asgi import create_app
from app.openapi import build_document
from app.routes import documented_routes
from app.settings import Settings

load_all_checks()
ALL_CHECKS = [check for check in CHECKS.get_all() if not is_check_class(check)]
"""The library's full set of per-response checks, whatever a configuration enables."""

schema = schemathesis.openapi.from_dict(build_document(documented_routes()))
schema.config.generation.update(modes=list(GenerationMode))
# A body over MAX_BODY_BYTES is refused with the documented 413 whatever its content (a schema
# cannot say how many bytes a document takes): for a valid body as for an invalid one.
_checks = schema.config.checks
_checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
    expected_statuses=[*_checks.positive_data_acceptance.expected_statuses, "413"]
)
_checks.negative_data_rejection = NegativeDataRejectionConfig(
    expected_statuses=[*_checks.negative_data_rejection.expected_statuses, "413"]
)

SENT: Counter[tuple[str, str]] = Counter()
"""(operation, generation mode) of every case sent, for the test at the end of the module."""


@pytest.fixture
def service_app(clean_environment):
    return create_app(Settings(rate_limit=1_000_000))


@schema.parametrize()
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, service_app):
    SENT[(f"{case.method} {case.path}", str(case.meta.generation.mode))] += 1
    case.call_and_validate(checks=ALL_CHECKS, app=service_app)


def test_every_check_of_the_library_runs():
    names = {check.__name__ for check in ALL_CHECKS}
    assert {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
        "missing_required_header",
        "unsupported_method",
        "ignored_auth",
        "use_after_free",
        "ensure_resource_availability",
    } <= names


def test_schema_covers_every_operation():
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results)
    operations = {
        (result.ok().path, result.ok().method) for result in results if isinstance(result, Ok)
    }
    assert len(operations) == 9


def test_negative_bodies_reached_every_ingest_endpoint():
    """Runs after the fuzz test (module order): schema-violating bodies were sent, not only valid
    ones, to each ingestion endpoint."""
    if not SENT:
        pytest.skip("the fuzz test did not run in this session")
    for path in ("/api/logs", "/api/metrics", "/api/csp-reports"):
        assert SENT[(f"POST {path}", "negative")] > 0, path
        assert SENT[(f"POST {path}", "positive")] > 0, path
