import pytest

from app.security_headers import security_headers
from components.edge_security_headers import (
    SecurityHeaders,
    SecurityHeadersArgs,
    _header_operations,
    _security_header_rules,
)
from config.sections import EdgeSettings
from tests.components.edge_alarm_fixtures import render

ORIGINS = ["https://abcdefgh.supabase.co", "https://n8n.example.com"]
RULESET = "cloudflare:index/ruleset:Ruleset"
EDGE_SETTINGS = EdgeSettings.model_validate(
    {
        "cloudflareZoneName": "example.com",
        "siteDomain": "app.example.com",
        "apiRateLimitRequests": 100,
        "apiRateLimitPeriodSeconds": 10,
        "apiRateLimitBlockSeconds": 10,
        "connectOrigins": ORIGINS,
    }
)


def test_every_app_header_is_set_with_the_app_value():
    operations = _header_operations(ORIGINS)

    set_headers = {
        name: operation["value"]
        for name, operation in operations.items()
        if operation["operation"] == "set"
    }
    assert set_headers == security_headers(ORIGINS)


def test_csp_connect_src_lists_the_configured_origins():
    csp = str(_header_operations(ORIGINS)["Content-Security-Policy"]["value"])

    assert "https://abcdefgh.supabase.co" in csp
    assert "wss://abcdefgh.supabase.co" in csp
    assert "https://n8n.example.com" in csp


def test_revealing_headers_removed_but_not_server_which_cloudflare_forbids():
    operations = _header_operations(ORIGINS)

    assert operations["X-Powered-By"] == {"operation": "remove"}
    assert "Server" not in operations


def test_one_rewrite_rule_for_every_response():
    (rule,) = _security_header_rules(ORIGINS)

    assert rule["action"] == "rewrite"
    assert rule["expression"] == "true"


def test_origin_that_is_not_a_url_is_rejected_naming_it():
    with pytest.raises(ValueError, match="not-an-origin"):
        _header_operations(["not-an-origin"])


def test_component_registers_one_response_header_ruleset_with_the_app_headers():
    mocks = render(
        lambda: SecurityHeaders(
            "security-headers", SecurityHeadersArgs(zone_id="zone-1", settings=EDGE_SETTINGS)
        )
    )

    (ruleset,) = mocks.of_type(RULESET)
    assert ruleset.name == "security-headers-response-headers"
    assert ruleset.inputs["phase"] == "http_response_headers_transform"
    assert ruleset.inputs["kind"] == "zone"
    assert ruleset.inputs["zoneId"] == "zone-1"
    (rule,) = ruleset.inputs["rules"]
    headers = rule["actionParameters"]["headers"]
    assert {
        name: header["value"] for name, header in headers.items() if header["operation"] == "set"
    } == security_headers(ORIGINS)
    assert headers["X-Powered-By"] == {"operation": "remove"}
    assert ruleset.secret_inputs == frozenset()
