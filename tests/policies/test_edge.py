import pytest

from app.security_headers import security_headers
from tests.policies.conftest import stack_resource

RULESET = "cloudflare:index/ruleset:Ruleset"
ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
HEADERS = security_headers(["https://abc.supabase.co", "https://n8n.example.com/webhook/x"])


def headers_ruleset(headers, expression="true"):
    rule = {
        "action": "rewrite",
        "expression": expression,
        "description": "security headers",
        "actionParameters": {
            "headers": {
                name: {"operation": "set", "value": value} for name, value in headers.items()
            }
        },
    }
    return stack_resource(
        RULESET,
        {"kind": "zone", "phase": "http_response_headers_transform", "rules": [rule]},
        name="headers",
    )


def test_header_rules_from_the_app_header_set_pass(run_stack):
    assert run_stack("cloudflare-security-headers", [headers_ruleset(HEADERS)]) == []


def test_frame_denial_through_csp_alone_passes(run_stack):
    headers = {name: value for name, value in HEADERS.items() if name != "X-Frame-Options"}
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert run_stack("cloudflare-security-headers", [headers_ruleset(headers)]) == []


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        ("Strict-Transport-Security", None, "Strict-Transport-Security"),
        ("Strict-Transport-Security", "max-age=300", "Strict-Transport-Security"),
        ("Content-Security-Policy", None, "Content-Security-Policy"),
        ("X-Content-Type-Options", None, "nosniff"),
        ("Referrer-Policy", "unsafe-url", "Referrer-Policy"),
        ("Permissions-Policy", None, "Permissions-Policy"),
    ],
)
def test_missing_or_weak_header_is_reported_by_urn(run_stack, header, value, expected):
    headers = {**HEADERS, header: value}
    ruleset = headers_ruleset({k: v for k, v in headers.items() if v is not None})
    reported = run_stack("cloudflare-security-headers", [ruleset])
    assert len(reported) == 1
    assert expected in reported[0][0]
    assert reported[0][1] == ruleset.urn


def test_a_report_only_csp_passes_only_where_the_stack_allows_it(run_stack):
    headers = security_headers(["https://abc.supabase.co"], "report-only")
    assert "Content-Security-Policy" not in headers
    ruleset = headers_ruleset(headers)

    (reported,) = run_stack("cloudflare-security-headers", [ruleset])
    assert "Content-Security-Policy with a default-src directive" in reported[0]
    assert run_stack("cloudflare-security-headers", [ruleset], {"allowCspReportOnly": True}) == []


def test_frame_denial_missing_is_reported(run_stack):
    headers = {**HEADERS, "Content-Security-Policy": "default-src 'self'"}
    del headers["X-Frame-Options"]
    reported = run_stack("cloudflare-security-headers", [headers_ruleset(headers)])
    assert reported
    assert "X-Frame-Options" in reported[0][0]


def test_headers_limited_to_some_paths_do_not_count(run_stack):
    ruleset = headers_ruleset(HEADERS, expression='starts_with(http.request.uri.path, "/api/")')
    assert run_stack("cloudflare-security-headers", [ruleset])


def test_missing_header_ruleset_is_reported(run_stack):
    # Only a stack that owns zone-level configuration (here a zone setting) is checked.
    assert run_stack("cloudflare-security-headers", zone_settings(ssl="strict"))


@pytest.mark.parametrize(
    "policy",
    [
        "cloudflare-security-headers",
        "cloudflare-api-never-cached",
        "cloudflare-api-rate-limited",
        "cloudflare-zone-tls-settings",
    ],
)
def test_a_stack_without_zone_level_configuration_is_not_checked(run_stack, policy):
    """An environment stack: its hostname's rules are in the edge stack (edge/)."""
    assert run_stack(policy, []) == []


def cache_rule(expression, cache, description):
    return {
        "action": "set_cache_settings",
        "expression": expression,
        "description": description,
        "actionParameters": {"cache": cache},
    }


STATIC = cache_rule(
    'http.request.uri.path.extension in {"js" "css" "png" "woff2"} '
    'and not starts_with(http.request.uri.path, "/api/")',
    True,
    "static assets",
)
BYPASS_API = cache_rule('starts_with(http.request.uri.path, "/api/")', False, "never cache the API")


def cache_ruleset(*rules):
    return stack_resource(
        RULESET,
        {"kind": "zone", "phase": "http_request_cache_settings", "rules": list(rules)},
        name="cache",
    )


def test_cache_rules_that_exclude_and_bypass_the_api_pass(run_stack):
    assert run_stack("cloudflare-api-never-cached", [cache_ruleset(STATIC, BYPASS_API)]) == []


@pytest.mark.parametrize(
    "expression",
    [
        'http.request.uri.path.extension in {"js" "css"}',
        "true",
        'http.host eq "www.example.com"',
        "this is not ( a valid expression",
    ],
)
def test_caching_rule_that_can_match_the_api_is_reported(run_stack, expression):
    ruleset = cache_ruleset(cache_rule(expression, True, "too broad"), BYPASS_API)
    reported = run_stack("cloudflare-api-never-cached", [ruleset])
    assert len(reported) == 1
    assert "too broad" in reported[0][0]
    assert reported[0][1] == ruleset.urn


def test_missing_api_bypass_rule_is_reported(run_stack):
    reported = run_stack("cloudflare-api-never-cached", [cache_ruleset(STATIC)])
    assert len(reported) == 1
    assert "bypass" in reported[0][0]


def test_missing_cache_ruleset_is_reported(run_stack):
    assert run_stack("cloudflare-api-never-cached", zone_settings(ssl="strict"))


def ratelimit_ruleset(expression, action="block"):
    rule = {
        "action": action,
        "expression": expression,
        "description": "api rate limit",
        "ratelimit": {
            "characteristics": ["ip.src", "cf.colo.id"],
            "period": 60,
            "requestsPerPeriod": 100,
            "mitigationTimeout": 60,
        },
    }
    return stack_resource(
        RULESET, {"kind": "zone", "phase": "http_ratelimit", "rules": [rule]}, name="ratelimit"
    )


def test_api_rate_limit_passes(run_stack):
    assert (
        run_stack(
            "cloudflare-api-rate-limited",
            [ratelimit_ruleset('starts_with(http.request.uri.path, "/api/")')],
        )
        == []
    )


@pytest.mark.parametrize(
    "resources",
    [
        [stack_resource(ZONE_SETTING, {"zoneId": "z", "settingId": "ssl", "value": "strict"})],
        [ratelimit_ruleset('http.request.uri.path eq "/api/leads"')],
        [ratelimit_ruleset('starts_with(http.request.uri.path, "/api/")', action="log")],
    ],
)
def test_api_without_rate_limit_is_reported(run_stack, resources):
    assert run_stack("cloudflare-api-rate-limited", resources)


def zone_settings(**values):
    return [
        stack_resource(ZONE_SETTING, {"zoneId": "z", "settingId": key, "value": value}, name=key)
        for key, value in values.items()
    ]


def test_strict_zone_settings_pass(run_stack):
    resources = zone_settings(ssl="strict", min_tls_version="1.2", always_use_https="on")
    assert run_stack("cloudflare-zone-tls-settings", resources) == []


def test_weak_or_missing_zone_settings_are_reported(run_stack):
    resources = zone_settings(ssl="flexible", min_tls_version="1.2")
    reported = run_stack("cloudflare-zone-tls-settings", resources)
    assert [(message.split("'")[1], urn) for message, urn in reported] == [
        ("ssl", resources[0].urn),
        ("always_use_https", None),
    ]


@pytest.mark.parametrize(
    ("policy", "resources"),
    [
        (
            "cloudflare-api-never-cached",
            [
                cache_ruleset(
                    STATIC, cache_rule('http.request.uri.path matches "^/api/"', False, "x")
                )
            ],
        ),
        (
            "cloudflare-api-rate-limited",
            [ratelimit_ruleset('http.request.uri.path matches "^/api/"')],
        ),
        (
            "cloudflare-security-headers",
            [headers_ruleset(HEADERS, expression='http.request.uri.path ~ "^/"')],
        ),
    ],
)
def test_matches_is_refused_below_the_business_plan(run_stack, policy, resources):
    for plan in ("free", "pro"):
        reported = run_stack(policy, resources, {"cloudflarePlan": plan})
        assert any("refuses on the " + plan in message for message, _ in reported)
        assert all("Business" in message for message, _ in reported if "refuses" in message)
    assert run_stack(policy, resources, {"cloudflarePlan": "business"}) == []


def test_without_a_plan_the_strictest_applies(run_stack):
    reported = run_stack(
        "cloudflare-api-rate-limited", [ratelimit_ruleset('http.request.uri.path matches "^/api/"')]
    )
    assert any("refuses on the free plan" in message for message, _ in reported)


@pytest.mark.parametrize(
    "expression",
    [
        'starts_with(http.request.uri.path "/api/")',
        'starts_with(http.request.uri.path, "/api/") or http.pth eq "/"',
        'starts_with(http.request.uri.path, "/api/") or http.request.uri.path eq 5',
        'starts_with(http.request.uri.path, "\\api/")',
    ],
)
def test_an_invalid_rule_expression_is_reported_and_does_not_count(run_stack, expression):
    reported = run_stack(
        "cloudflare-api-rate-limited", [ratelimit_ruleset(expression)], {"cloudflarePlan": "pro"}
    )
    assert len(reported) == 2
    assert "has an expression Cloudflare refuses on the pro plan" in reported[0][0]
    assert reported[0][1] is not None
    assert "No Cloudflare rate-limit rule covers" in reported[1][0]


def test_an_invalid_bypass_rule_is_reported_once_and_is_no_bypass(run_stack):
    bypass = cache_rule('starts_with(http.request.uri.path "/api/")', False, "bad bypass")
    reported = run_stack("cloudflare-api-never-cached", [cache_ruleset(STATIC, bypass)])
    assert [message.split(" ")[:3] for message, _ in reported] == [
        ["Cloudflare", "rule", "'bad"],
        ["No", "cache", "rule"],
    ]


def test_an_invalid_header_rule_sets_no_header(run_stack):
    ruleset = headers_ruleset(HEADERS, expression='http.hots eq "www.example.com" or true')
    reported = run_stack("cloudflare-security-headers", [ruleset])
    assert "unknown field 'http.hots'" in reported[0][0]
    assert "must set on every response" in reported[1][0]
