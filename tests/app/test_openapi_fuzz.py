"""Schemathesis against the real ASGI app and its own OpenAPI document: no 5xx, and every
response matches the documented status codes, content types and schemas."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.asgi import create_app
from app.openapi import build_document
from app.routes import documented_routes
from app.settings import Settings

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


schema = schemathesis.openapi.from_dict(build_document(documented_routes()))


@pytest.fixture
def service_app(clean_environment):
    return create_app(Settings(rate_limit=100_000))


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, service_app):
    case.call_and_validate(checks=CHECKS, app=service_app)


def test_schema_covers_every_operation():
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results)
    operations = {
        (result.ok().path, result.ok().method) for result in results if isinstance(result, Ok)
    }
    assert len(operations) == 9
