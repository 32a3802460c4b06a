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
from components.cdn_rules import cache_rules, rate_limit_rules
from config.sections import EdgeSettings
from policies._cf_expression import evaluate_expression, request_fields
from policies.edge import POLICIES as EDGE_POLICIES
from tests.components.edge_alarm_fixtures import capture, render

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
    assert settings["origin_cache_control"] is True
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


EDGE_CONFIG = {
    "cloudflareZoneName": "example.com",
    "siteDomain": "app.example.com",
    "apiRateLimitRequests": 100,
    "apiRateLimitPeriodSeconds": 10,
    "apiRateLimitBlockSeconds": 10,
}


def _cdn_args(**edge_overrides: Any) -> CdnArgs:
    """The component's args for app.example.com; overrides by Pulumi.yaml key."""
    return CdnArgs(
        zone_id="zone-1",
        site_hostname="app.example.com",
        origin_dns_name="miko-prod-123.eu-central-1.elb.amazonaws.com",
        settings=EdgeSettings.model_validate({**EDGE_CONFIG, **edge_overrides}),
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


def test_cdn_zone_settings_enforce_strict_tls():
    mocks = render(lambda: Cdn("cdn", _cdn_args()))

    settings = {
        setting.inputs["settingId"]: setting.inputs["value"]
        for setting in mocks.of_type(ZONE_SETTING)
    }
    assert settings["ssl"] == "strict"
    assert settings["min_tls_version"] == "1.2"
    assert settings["always_use_https"] == "on"
    assert settings["tls_1_3"] == "on"


def test_cdn_has_one_ruleset_per_phase_holding_all_its_rules():
    mocks = render(lambda: Cdn("cdn", _cdn_args()))

    phases = sorted(ruleset.inputs["phase"] for ruleset in mocks.of_type(RULESET))
    assert phases == ["http_ratelimit", "http_request_cache_settings"]
    cache = mocks.named("cdn-cache-rules").inputs
    assert cache["kind"] == "zone"
    assert cache["zoneId"] == "zone-1"
    assert [rule["ref"] for rule in cache["rules"]] == [rule["ref"] for rule in cache_rules()]
    assert cache["rules"][0]["actionParameters"]["edgeTtl"] == {"mode": "respect_origin"}


def test_cdn_rate_limit_numbers_come_from_args():
    mocks = render(
        lambda: Cdn(
            "cdn",
            _cdn_args(
                apiRateLimitRequests=250,
                apiRateLimitPeriodSeconds=60,
                apiRateLimitBlockSeconds=600,
            ),
        )
    )

    (rule,) = mocks.named("cdn-rate-limit-rules").inputs["rules"]
    assert rule["ratelimit"]["requestsPerPeriod"] == 250
    assert rule["ratelimit"]["period"] == 60
    assert rule["ratelimit"]["mitigationTimeout"] == 600
    assert rule["ratelimit"]["characteristics"] == ["ip.src", "cf.colo.id"]


def test_cdn_outputs_site_url_and_ids():
    outputs: dict[str, Any] = {}

    def build():
        cdn = Cdn("cdn", _cdn_args())
        return [
            capture(cdn.site_url, outputs, "site_url"),
            capture(cdn.record_id, outputs, "record_id"),
            capture(cdn.cache_ruleset_id, outputs, "cache"),
            capture(cdn.rate_limit_ruleset_id, outputs, "rate_limit"),
        ]

    render(build)

    assert outputs == {
        "site_url": "https://app.example.com",
        "record_id": "cdn-site-record-id",
        "cache": "cdn-cache-rules-id",
        "rate_limit": "cdn-rate-limit-rules-id",
    }


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


def test_cache_ruleset_passes_the_api_never_cached_policy():
    mocks = render(lambda: Cdn("cdn", _cdn_args()))

    assert _api_never_cached_violations(mocks.named("cdn-cache-rules").inputs) == []


def test_api_never_cached_policy_catches_an_html_rule_without_the_exclusion():
    mocks = render(lambda: Cdn("cdn", _cdn_args()))
    cache = mocks.named("cdn-cache-rules").inputs
    rules = [
        {**rule, "expression": 'http.request.uri.path.extension eq ""'}
        if rule["ref"] == "revalidate_html"
        else rule
        for rule in cache["rules"]
    ]

    (violation,) = _api_never_cached_violations({**cache, "rules": rules})
    assert "can match /api/ paths" in violation
