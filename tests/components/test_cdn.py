import re
from typing import Any

import pytest

from components.cdn import (
    ONE_YEAR_SECONDS,
    Cdn,
    CdnArgs,
    _cache_rules,
    _rate_limit_rules,
)
from tests.components.edge_alarm_fixtures import capture, render

RULESET = "cloudflare:index/ruleset:Ruleset"
ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord"

# The few Rules-language forms the cache rules use; anything else fails the evaluator.
STARTS_WITH = re.compile(r'^starts_with\(http\.request\.uri\.path, "([^"]*)"\)$')
PATH_EQ = re.compile(r'^http\.request\.uri\.path eq "([^"]*)"$')
EXTENSION_EQ = re.compile(r'^http\.request\.uri\.path\.extension eq "([^"]*)"$')
EXTENSION_IN = re.compile(r'^http\.request\.uri\.path\.extension in \{((?:"[^"]*" ?)+)\}$')


def _extension(path: str) -> str:
    last = path.rsplit("/", 1)[-1]
    return last.rsplit(".", 1)[-1].lower() if "." in last else ""


def _condition_matches(condition: str, path: str) -> bool:
    if match := STARTS_WITH.match(condition):
        return path.startswith(match[1])
    if match := PATH_EQ.match(condition):
        return path == match[1]
    if match := EXTENSION_EQ.match(condition):
        return _extension(path) == match[1]
    if match := EXTENSION_IN.match(condition):
        return _extension(path) in re.findall(r'"([^"]*)"', match[1])
    raise AssertionError(f"expression form not understood: {condition}")


def _expression_matches(expression: str, path: str) -> bool:
    """Rules-language subset: `and` binds tighter than `or`, as in Cloudflare's language."""
    return any(
        all(_condition_matches(condition, path) for condition in branch.split(" and "))
        for branch in expression.split(" or ")
    )


def _effective_cache_settings(rules: list[Any], path: str) -> dict[str, Any]:
    """Cache rules stack; for each setting, the last matching rule wins."""
    settings: dict[str, Any] = {}
    for rule in rules:
        if _expression_matches(rule["expression"], path):
            settings.update(rule["action_parameters"])
    return settings


@pytest.mark.parametrize(
    "path", ["/assets/index-4f9c2a1b.js", "/assets/index-8d1e.css", "/assets/inter-a1b2.woff2"]
)
def test_fingerprinted_assets_cached_a_year_at_edge_and_in_browsers(path):
    settings = _effective_cache_settings(_cache_rules(), path)

    assert settings["cache"] is True
    assert settings["edge_ttl"] == {"mode": "override_origin", "default": ONE_YEAR_SECONDS}
    assert settings["browser_ttl"] == {"mode": "override_origin", "default": ONE_YEAR_SECONDS}


@pytest.mark.parametrize("path", ["/", "/booking", "/index.html"])
def test_html_follows_the_origin_so_no_cache_means_revalidate(path):
    settings = _effective_cache_settings(_cache_rules(), path)

    assert settings["cache"] is True
    assert settings["origin_cache_control"] is True
    assert settings["edge_ttl"] == {"mode": "bypass_by_default"}
    assert settings["browser_ttl"] == {"mode": "respect_origin"}


@pytest.mark.parametrize(
    "path", ["/api", "/api/leads", "/api/chat.js", "/health", "/health/db", "/healthz"]
)
def test_api_and_health_are_never_cached_even_when_another_rule_matches(path):
    assert _effective_cache_settings(_cache_rules(), path)["cache"] is False


def test_bypass_rules_come_after_every_caching_rule():
    rules: list[Any] = _cache_rules()
    bypass = [
        index for index, rule in enumerate(rules) if rule["action_parameters"]["cache"] is False
    ]
    caching = [index for index, rule in enumerate(rules) if rule["action_parameters"]["cache"]]

    assert [rules[index]["ref"] for index in bypass] == ["never_cache_api", "never_cache_health"]
    assert min(bypass) > max(caching)


def test_assets_outside_assets_folder_are_not_given_a_year():
    settings = _effective_cache_settings(_cache_rules(), "/logo.png")

    assert "edge_ttl" not in settings


def test_rule_refs_are_unique_and_stable():
    refs = [rule["ref"] for rule in _cache_rules()]

    assert len(refs) == len(set(refs)) == 4


def test_rate_limit_rule_counts_per_ip_and_data_centre_and_blocks():
    rule: Any
    (rule,) = _rate_limit_rules(120, 10, 30)

    assert rule["action"] == "block"
    assert _expression_matches(rule["expression"], "/api/leads")
    assert not _expression_matches(rule["expression"], "/assets/index-1.js")
    assert rule["ratelimit"] == {
        "characteristics": ["ip.src", "cf.colo.id"],
        "period": 10,
        "requests_per_period": 120,
        "mitigation_timeout": 30,
    }


def _cdn_args(**overrides: Any) -> CdnArgs:
    values: dict[str, Any] = {
        "zone_id": "zone-1",
        "hostname": "app.example.com",
        "origin_dns_name": "miko-prod-123.eu-central-1.elb.amazonaws.com",
        "api_requests_per_period": 100,
        "api_rate_limit_period_seconds": 10,
        "api_rate_limit_block_seconds": 10,
    }
    return CdnArgs(**{**values, **overrides})


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
    assert [rule["ref"] for rule in cache["rules"]] == [rule["ref"] for rule in _cache_rules()]
    assert cache["rules"][0]["actionParameters"]["edgeTtl"]["default"] == ONE_YEAR_SECONDS


def test_cdn_rate_limit_numbers_come_from_args():
    mocks = render(
        lambda: Cdn(
            "cdn",
            _cdn_args(
                api_requests_per_period=250,
                api_rate_limit_period_seconds=60,
                api_rate_limit_block_seconds=600,
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
