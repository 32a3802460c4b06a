from collections.abc import Mapping
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    StackValidationArgs,
)
from pulumi_policy.proxy import unknown_checking_proxy

from app.contract import RUNTIME_CONFIG_PATH
from app.static_files import IMMUTABLE, SHORT_LIVED, cache_control_of, content_type_of
from components.cdn import Cdn, CdnArgs
from components.cdn_rules import cache_rules, rate_limit_rules, scoped
from policies._cf_expression import evaluate_expression, request_fields
from policies.edge import POLICIES as EDGE_POLICIES
from tests.components.edge_alarm_fixtures import capture, render
from tests.components.edge_stack_fixtures import render_edge, ruleset_of

RULESET = "cloudflare:index/ruleset:Ruleset"
ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord"
API_NEVER_CACHED = "cloudflare-api-never-cached"


def _expression_matches(expression: str, path: str) -> bool:
    """Evaluated by the policy pack's Rules-language evaluator; 'cannot tell' fails the test."""
    result = evaluate_expression(expression, request_fields(path))
    assert result is not None, f"expression not understood: {expression}"
    return result


def _effective_cache_settings(rules: list[Any], path: str) -> dict[str, Any]:
    """Cache rules stack; for each setting, the last matching rule wins."""
    settings: dict[str, Any] = {}
    for rule in rules:
        if _expression_matches(rule["expression"], path):
            settings.update(rule["action_parameters"])
    return settings


@pytest.mark.parametrize(
    ("path", "app_cache_control"),
    [
        ("/assets/index-4f9c2a1b.js", IMMUTABLE),
        ("/assets/inter-Bq3xZ_9k.woff2", IMMUTABLE),
        # Unhashed files under /assets/ (copied from a public/assets folder): the app gives them
        # an hour, and so must the edge; a prefix rule with its own TTL gave them a year.
        ("/assets/index-8d1e.css", SHORT_LIVED),
        ("/assets/logo.png", SHORT_LIVED),
        ("/assets/elements.js", SHORT_LIVED),
    ],
)
def test_build_assets_are_cached_at_the_edge_exactly_as_the_app_says(path, app_cache_control):
    settings = _effective_cache_settings(cache_rules(), path)

    assert settings["cache"] is True
    # Cloudflare follows the origin's Cache-Control: the app's rule (app/static_files.py) is the
    # only one deciding which files get a year; its 404s are no-store, so never kept.
    assert settings["edge_ttl"] == {"mode": "respect_origin"}
    assert settings["browser_ttl"] == {"mode": "respect_origin"}
    assert cache_control_of(path, content_type_of(path)) == app_cache_control


@pytest.mark.parametrize("path", ["/", "/booking", "/index.html"])
def test_html_follows_the_origin_so_no_cache_means_revalidate(path):
    settings = _effective_cache_settings(cache_rules(), path)

    assert settings["cache"] is True
    # Enterprise-only; on Pro Cloudflare follows the origin's Cache-Control by default.
    assert "origin_cache_control" not in settings
    assert settings["edge_ttl"] == {"mode": "bypass_by_default"}
    assert settings["browser_ttl"] == {"mode": "respect_origin"}


@pytest.mark.parametrize(
    "path",
    [
        "/api",
        "/api/leads",
        "/api/chat.js",
        "/health",
        "/health/db",
        "/healthz",
        RUNTIME_CONFIG_PATH,
    ],
)
def test_api_and_health_are_never_cached_even_when_another_rule_matches(path):
    assert _effective_cache_settings(cache_rules(), path)["cache"] is False


def test_bypass_rules_come_after_every_caching_rule():
    rules: list[Any] = cache_rules()
    bypass = [
        index for index, rule in enumerate(rules) if rule["action_parameters"]["cache"] is False
    ]
    caching = [index for index, rule in enumerate(rules) if rule["action_parameters"]["cache"]]

    assert [rules[index]["ref"] for index in bypass] == [
        "never_cache_api",
        "never_cache_health",
        "never_cache_runtime_config",
    ]
    assert min(bypass) > max(caching)


def test_assets_outside_assets_folder_are_not_given_a_year():
    settings = _effective_cache_settings(cache_rules(), "/logo.png")

    assert "edge_ttl" not in settings


@pytest.mark.parametrize("ref", ["cache_static_assets", "revalidate_html"])
@pytest.mark.parametrize(
    "path", ["/api", "/api/leads", "/api/page.html", "/health", "/health/db", RUNTIME_CONFIG_PATH]
)
def test_caching_rules_themselves_never_match_api_or_health(ref, path):
    rule: Any
    (rule,) = [rule for rule in cache_rules() if rule["ref"] == ref]

    assert not _expression_matches(rule["expression"], path)


def test_rule_refs_are_unique_and_stable():
    refs = [rule["ref"] for rule in cache_rules()]

    assert len(refs) == len(set(refs)) == 5


def test_rate_limit_rule_counts_per_ip_and_data_centre_and_blocks():
    rule: Any
    (rule,) = rate_limit_rules(120, 10, 30)

    assert rule["action"] == "block"
    assert _expression_matches(rule["expression"], "/api/leads")
    assert not _expression_matches(rule["expression"], "/assets/index-1.js")
    assert rule["ratelimit"] == {
        "characteristics": ["ip.src", "cf.colo.id"],
        "period": 10,
        "requests_per_period": 120,
        "mitigation_timeout": 30,
    }


@pytest.mark.parametrize("path", ["/api/leads", "/assets/index-4f9c2a1b.js", "/"])
def test_a_hostname_s_rules_match_only_that_hostname(path):
    rules: list[Any] = [
        *cache_rules("app.example.com", "prod"),
        *rate_limit_rules(100, 10, 10, "app.example.com", "prod"),
    ]
    for rule in rules:
        assert rule["expression"].startswith('http.host eq "app.example.com" and (')
        assert rule["ref"].startswith("prod_")
        bare = evaluate_expression(
            rule["expression"].split(" and (", 1)[1][:-1], request_fields(path)
        )
        for host, expected in (("app.example.com", bare), ("staging.example.com", False)):
            fields = {**request_fields(path), "http.host": host}
            assert evaluate_expression(rule["expression"], fields) is expected


def test_scoped_keeps_a_match_all_rule_readable():
    assert scoped("app.example.com", "true") == 'http.host eq "app.example.com"'
    assert scoped(None, "true") == "true"


def _cdn_args() -> CdnArgs:
    """The component's args for app.example.com."""
    return CdnArgs(
        zone_id="zone-1",
        site_hostname="app.example.com",
        origin_dns_name="miko-prod-123.eu-central-1.elb.amazonaws.com",
    )


def test_cdn_registers_proxied_cname_to_the_load_balancer():
    mocks = render(lambda: Cdn("cdn", _cdn_args()))

    (record,) = mocks.of_type(DNS_RECORD)
    assert record.name == "cdn-site-record"
    assert record.inputs["type"] == "CNAME"
    assert record.inputs["name"] == "app.example.com"
    assert record.inputs["content"] == "miko-prod-123.eu-central-1.elb.amazonaws.com"
    assert record.inputs["proxied"] is True
    assert record.inputs["ttl"] == 1
    assert record.inputs["zoneId"] == "zone-1"


def test_cdn_creates_nothing_zone_wide():
    """Rulesets and zone settings are the edge stack's (one per zone): none here."""
    mocks = render(lambda: Cdn("cdn", _cdn_args()))

    assert mocks.of_type(RULESET) == []
    assert mocks.of_type(ZONE_SETTING) == []
    assert [r.typ for r in mocks.registered] == ["miko:edge:Cdn", DNS_RECORD]


def test_cdn_outputs_site_url_and_record_id():
    outputs: dict[str, Any] = {}

    def build():
        cdn = Cdn("cdn", _cdn_args())
        return [
            capture(cdn.site_url, outputs, "site_url"),
            capture(cdn.record_id, outputs, "record_id"),
        ]

    render(build)

    assert outputs == {"site_url": "https://app.example.com", "record_id": "cdn-site-record-id"}


def _as_policy_resource(resource_type: str, name: str, props: Mapping[str, Any]) -> PolicyResource:
    """The resource as the policy analyzer hands it over: props behind the unknown proxy."""
    return PolicyResource(
        resource_type,
        unknown_checking_proxy(dict(props)),
        f"urn:pulumi:test::miko-platform::{resource_type}::{name}",
        name,
        PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None),
        None,
        None,
        [],
        {},
    )


def _api_never_cached_violations(cache_inputs: Mapping[str, Any]) -> list[str]:
    (policy,) = [policy for policy in EDGE_POLICIES if policy.name == API_NEVER_CACHED]
    reported: list[str] = []

    def report(message: str, _urn: str | None = None) -> None:
        reported.append(message)

    policy.validate(
        StackValidationArgs([_as_policy_resource(RULESET, "cdn-cache-rules", cache_inputs)], {}),
        report,
    )
    return reported


def test_the_edge_stack_s_cache_ruleset_passes_the_api_never_cached_policy():
    cache = ruleset_of(render_edge(), "http_request_cache_settings")

    assert _api_never_cached_violations(cache) == []


def test_api_never_cached_policy_catches_an_html_rule_without_the_exclusion():
    cache = ruleset_of(render_edge(), "http_request_cache_settings")
    rules = [
        {
            **rule,
            "expression": 'http.host eq "www.mikoplasticsurgery.com" and '
            '(http.request.uri.path.extension eq "")',
        }
        if rule["ref"] == "prod_revalidate_html"
        else rule
        for rule in cache["rules"]
    ]

    (violation,) = _api_never_cached_violations({**cache, "rules": rules})
    assert "can match /api/ paths" in violation
