"""The zone's entry-point rulesets, owned by the edge stack (components/zone_rulesets.py).

The edge stack is rendered against both environment stacks' renderings, as the offline plan does.
"""

import re
from typing import Any

import pytest

from components.edge_export import parse_edge_output
from components.origin_auth import ORIGIN_AUTH_HEADER
from components.zone_rulesets import PHASES, checked_environments, hosts_expression, waf_rules
from config.edge_stack import (
    CLOUDFLARE_MANAGED_RULESET_ID,
    FREE_MANAGED_RULESET_ID,
    PLAN_LIMITS,
    EdgeLimitError,
    RateLimit,
    rate_limit_problems,
)
from plan.render import RenderFailed
from policies._cf_expression import evaluate_expression, request_fields
from tests.components.edge_stack_fixtures import (
    HOSTNAMES,
    RULESET,
    ZONE_SETTING,
    environment,
    environment_exports,
    render_edge,
    rule_of_host,
    rules_of,
    ruleset_of,
)

HOST_SCOPE = re.compile(r'^http\.host (eq "[^"]+"|in \{("[^"]+" ?)+\})( and \(.*\))?$', re.DOTALL)


def test_exactly_one_ruleset_per_phase():
    rendering = render_edge()

    phases = sorted(r.inputs["phase"] for r in rendering.of_type(RULESET))
    assert phases == sorted(PHASES)
    assert all(r.inputs["kind"] == "zone" for r in rendering.of_type(RULESET))
    assert sorted(r.name for r in rendering.of_type(RULESET)) == [
        "zone-rulesets-cache",
        "zone-rulesets-config",
        "zone-rulesets-origin-auth",
        "zone-rulesets-rate-limit",
        "zone-rulesets-response-headers",
        "zone-rulesets-waf",
    ]


def test_every_rule_is_scoped_to_the_environments_hostnames():
    rendering = render_edge()

    for ruleset in rendering.of_type(RULESET):
        for rule in ruleset.inputs["rules"]:
            assert HOST_SCOPE.match(rule["expression"]), (ruleset.name, rule["expression"])
            named = set(
                re.findall(r'"([a-z0-9.-]+\.[a-z]+)"', rule["expression"].split(" and ")[0])
            )
            assert named, rule["expression"]
            assert named <= set(HOSTNAMES.values()), rule["expression"]
        refs = [rule["ref"] for rule in ruleset.inputs["rules"]]
        assert len(refs) == len(set(refs)), ruleset.name


@pytest.mark.parametrize(
    ("phase", "per_host"),
    [
        ("http_request_cache_settings", 5),
        ("http_ratelimit", 1),
        ("http_response_headers_transform", 1),
        ("http_request_late_transform", 1),
        ("http_config_settings", 1),
    ],
)
@pytest.mark.parametrize("environment_name", sorted(HOSTNAMES))
def test_each_hostname_has_its_rules(phase, per_host, environment_name):
    rules = rules_of(render_edge(), phase, HOSTNAMES[environment_name])

    assert len(rules) == per_host
    assert all(rule["ref"].startswith(f"{environment_name}_") for rule in rules)


@pytest.mark.parametrize("environment_name", sorted(HOSTNAMES))
def test_a_hostname_s_rule_never_matches_the_other_hostname(environment_name):
    rendering = render_edge()
    other = next(host for name, host in HOSTNAMES.items() if name != environment_name)
    for phase in PHASES[:-1]:
        for rule in rules_of(rendering, phase, HOSTNAMES[environment_name]):
            fields = {**request_fields("/api/leads"), "http.host": other}
            assert evaluate_expression(rule["expression"], fields) is False


def test_no_cache_rule_sets_the_enterprise_only_origin_cache_control():
    cache = ruleset_of(render_edge(), "http_request_cache_settings")

    assert "originCacheControl" not in repr(cache)
    assert all("originCacheControl" not in rule["actionParameters"] for rule in cache["rules"])


@pytest.mark.parametrize("environment_name", sorted(HOSTNAMES))
def test_rate_limit_per_hostname_from_the_environment_s_settings(environment_name):
    (rule,) = rules_of(render_edge(), "http_ratelimit", HOSTNAMES[environment_name])
    limit = environment(environment_name).exports["edge"]["rateLimit"]

    assert rule["ratelimit"] == {
        "characteristics": ["ip.src", "cf.colo.id"],
        "period": limit["periodSeconds"],
        "requestsPerPeriod": limit["requestsPerPeriod"],
        "mitigationTimeout": limit["mitigationTimeoutSeconds"],
    }


@pytest.mark.parametrize("environment_name", sorted(HOSTNAMES))
def test_security_headers_per_hostname_are_the_environment_s_header_map(environment_name):
    rendering = render_edge()
    (rule,) = rules_of(rendering, "http_response_headers_transform", HOSTNAMES[environment_name])
    sent = {
        name: header["value"]
        for name, header in rule["actionParameters"]["headers"].items()
        if header["operation"] == "set"
    }

    assert sent == environment(environment_name).exports["edge"]["responseHeaders"]
    assert rule["actionParameters"]["headers"]["X-Powered-By"] == {"operation": "remove"}


def test_the_origin_proof_header_value_is_secret_per_hostname():
    rendering = render_edge()
    ruleset = rendering.get(RULESET, "zone-rulesets-origin-auth")

    assert ruleset.inputs["phase"] == "http_request_late_transform"
    for index, host in enumerate(HOSTNAMES.values()):
        rule = rule_of_host(ruleset.inputs["rules"], host)
        header = rule["actionParameters"]["headers"][ORIGIN_AUTH_HEADER]
        assert rule["action"] == "rewrite"
        assert header == {"operation": "set", "value": "[secret]"}
        position = ruleset.inputs["rules"].index(rule)
        assert f"rules[{position}].actionParameters.headers.{ORIGIN_AUTH_HEADER}.value" in (
            ruleset.secret_paths
        ), index
    # Only the values: the scope and the header name stay readable.
    assert all(".value" in path for path in ruleset.secret_paths)


def test_ssl_strict_per_hostname_by_configuration_rule_not_zone_wide():
    rendering = render_edge()

    for host in HOSTNAMES.values():
        (rule,) = rules_of(rendering, "http_config_settings", host)
        assert rule["action"] == "set_config"
        assert rule["actionParameters"]["ssl"] == "strict"
    settings = {s.inputs["settingId"] for s in rendering.of_type(ZONE_SETTING)}
    assert "ssl" not in settings


def test_the_pro_plan_executes_the_cloudflare_managed_ruleset_on_both_hostnames():
    (rule,) = ruleset_of(render_edge(), "http_request_firewall_managed")["rules"]

    assert rule["action"] == "execute"
    assert rule["actionParameters"] == {"id": CLOUDFLARE_MANAGED_RULESET_ID}
    assert rule["expression"] == hosts_expression(list(HOSTNAMES.values()))


def test_a_free_plan_config_renders_the_free_managed_ruleset():
    staging_only = [{"name": "staging", "stackReference": "staging"}]
    rendering = render_edge(config={"cloudflarePlan": "free", "environments": staging_only})

    (rule,) = ruleset_of(rendering, "http_request_firewall_managed")["rules"]
    assert rule["actionParameters"] == {"id": FREE_MANAGED_RULESET_ID}
    assert rule["expression"] == hosts_expression([HOSTNAMES["staging"]])
    # Free rate-limiting rules may match the path only: the one rule is not host-scoped.
    (limit,) = ruleset_of(rendering, "http_ratelimit")["rules"]
    assert "http.host" not in limit["expression"]


@pytest.mark.parametrize(
    ("plan", "ruleset_id"),
    [
        ("free", FREE_MANAGED_RULESET_ID),
        ("pro", CLOUDFLARE_MANAGED_RULESET_ID),
        ("business", CLOUDFLARE_MANAGED_RULESET_ID),
        ("enterprise", CLOUDFLARE_MANAGED_RULESET_ID),
    ],
)
def test_waf_rules_per_plan(plan, ruleset_id):
    assert [rule["action_parameters"] for rule in waf_rules(plan, ["a.example.com"])] == [
        {"id": ruleset_id}
    ]


def _with_rate_limit(stack: str, period: int, block: int) -> dict[str, Any]:
    exports = environment_exports()
    edge = exports[stack]["edge"]
    limit = {**edge["rateLimit"], "periodSeconds": period, "mitigationTimeoutSeconds": block}
    return {**exports, stack: {**exports[stack], "edge": {**edge, "rateLimit": limit}}}


@pytest.mark.parametrize(
    ("stack", "period", "block", "expected"),
    [
        (
            "prod",
            120,
            10,
            "environment 'prod': apiRateLimitPeriodSeconds 120 is not a counting period of the "
            "pro plan (one of 10, 15, 20, 30, 40, 45, 60 s)",
        ),
        (
            "staging",
            10,
            86400,
            "environment 'staging': apiRateLimitBlockSeconds 86400 is not a mitigation timeout "
            "of the pro plan",
        ),
    ],
)
def test_rate_limits_the_plan_does_not_accept_are_refused_naming_environment_and_key(
    stack, period, block, expected
):
    with pytest.raises(RenderFailed) as failure:
        render_edge(stack_outputs=_with_rate_limit(stack, period, block))

    assert isinstance(failure.value.cause, EdgeLimitError), failure.value.cause
    assert expected in str(failure.value.cause)
    assert not [r for r in failure.value.resources if r.type == RULESET]


def test_the_business_plan_accepts_what_pro_refuses():
    rendering = render_edge(
        config={"cloudflarePlan": "business"}, stack_outputs=_with_rate_limit("prod", 600, 86400)
    )

    (rule,) = rules_of(rendering, "http_ratelimit", HOSTNAMES["prod"])
    assert rule["ratelimit"]["period"] == 600


def test_the_free_plan_refuses_two_environments():
    with pytest.raises(RenderFailed) as failure:
        render_edge(config={"cloudflarePlan": "free"})

    message = str(failure.value.cause)
    assert "2 rate limiting rules (one per hostname); the free plan allows 1" in message
    assert "cannot match http.host" in message


@pytest.mark.parametrize("plan", sorted(PLAN_LIMITS))
def test_every_plan_accepts_ten_seconds(plan):
    assert rate_limit_problems(plan, {"prod": RateLimit(100, 10, 10)}) == []


def test_a_hostname_outside_the_zone_or_served_twice_is_refused():
    edge = environment("staging").exports["edge"]
    staging = parse_edge_output("staging", "org/miko-platform/staging", edge)
    other = parse_edge_output(
        "prod", "org/miko-platform/prod", {**edge, "hostname": "www.example.org"}
    )
    with pytest.raises(
        EdgeLimitError, match=r"'www\.example\.org' is not in mikoplasticsurgery\.com"
    ):
        checked_environments([staging, other], "mikoplasticsurgery.com", "pro")
    with pytest.raises(EdgeLimitError, match="served twice"):
        checked_environments([staging, staging], "mikoplasticsurgery.com", "pro")
