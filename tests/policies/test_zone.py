"""The edge stack's zone rules: hostname scope, managed WAF within the plan, origin proof."""

from dataclasses import replace

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from components.origin_auth import ORIGIN_AUTH_HEADER
from plan.policy_check import planned_resources
from plan.project import PROJECT_DIR
from plan.render import render_stack
from policies import zone
from policies.evaluate import evaluate, load_policy_config
from tests.components.conftest import render
from tests.policies.conftest import stack_resource

STAGING = "staging.mikoplasticsurgery.com"
WWW = "www.mikoplasticsurgery.com"
SERVED = {"zoneHostnames": [STAGING, WWW]}
CLOUDFLARE_MANAGED = "efb7b8c949ac4650a09736fc376e9aee"
OWASP = "4814384a9e5d4991b9815dcfc25d2f1f"
FREE_MANAGED = "77454fe2d30c4220b5701f6fdfb893ba"
SCOPE, WAF, PROOF = (
    "cloudflare-rules-hostname-scoped",
    "cloudflare-managed-waf",
    "cloudflare-origin-proof-header",
)


def ruleset(phase, *rules, name=None, kind="zone"):
    return stack_resource(
        zone.RULESET,
        {"zoneId": "zone-1", "kind": kind, "phase": phase, "name": phase, "rules": list(rules)},
        name=name or phase,
    )


def rule(expression, action="set_cache_settings", **fields):
    return {"expression": expression, "action": action, "description": "subject", **fields}


def waf_rule(expression, ruleset_id=CLOUDFLARE_MANAGED, **fields):
    return rule(expression, "execute", actionParameters={"id": ruleset_id}, **fields)


def proof_rule(host, header=ORIGIN_AUTH_HEADER, operation="set", value="[secret]", **fields):
    headers = {header: {"operation": operation, "value": value}}
    return rule(
        f'http.host eq "{host}"', "rewrite", actionParameters={"headers": headers}, **fields
    )


# --- scoped_hosts: what counts as proof ---


@pytest.mark.parametrize(
    ("expression", "hosts"),
    [
        (f'http.host eq "{WWW}"', {WWW}),
        (f'http.host == "{WWW}"', {WWW}),
        (f'http.host eq "{WWW}" and (starts_with(http.request.uri.path, "/api/"))', {WWW}),
        (f'starts_with(http.request.uri.path, "/a") and http.host eq "{WWW}"', {WWW}),
        (f'(http.host eq "{WWW}") and true', {WWW}),
        (f'((http.host eq "{WWW}" and true)) && not ssl', {WWW}),
        (f'http.host in {{"{WWW}"}}', {WWW}),
        (f'http.host in {{"{WWW}" "{STAGING}"}}', {WWW, STAGING}),
        (f'http.host eq "{WWW}" and http.request.uri.path eq "/x or y"', {WWW}),
        (f'http.host eq "{WWW}" and http.request.uri.path eq "/a\\"or(b"', {WWW}),
        (f'http.host eq "{WWW}" and http.request.uri.path matches r#"a" or ("#', {WWW}),
        (f'http.host eq "{WWW}" and (a or b)', {WWW}),
        (f'http.host eq "{WWW}" and http.host eq "{STAGING}"', set()),
        (f'http.host in {{"{WWW}" "{STAGING}"}} and http.host eq "{WWW}"', {WWW}),
    ],
)
def test_scoped_hosts_are_proven(expression, hosts):
    assert zone.scoped_hosts(expression) == hosts


@pytest.mark.parametrize(
    "expression",
    [
        "true",
        f'http.host eq "{WWW}" or true',
        f'http.host eq "{WWW}" and a or b',
        f'http.host eq "{WWW}" xor b',
        f'(http.host eq "{WWW}" or b)',
        f'http.host contains "{WWW}"',
        f'not http.host eq "{WWW}" and b',
        f'http.host ne "{WWW}"',
        f'lower(http.host) eq "{WWW}"',
        f'http.host eq "{WWW}" and (b',
        f'http.host eq "{WWW}',
        "http.host in $hosts",
        f'http.request.full_uri eq "https://{WWW}/"',
    ],
)
def test_unproven_scopes_give_none(expression):
    assert zone.scoped_hosts(expression) is None


# --- cloudflare-rules-hostname-scoped ---


def edge_like_rulesets():
    """The shape of the edge stack's rulesets: every rule behind `http.host eq ... and`."""
    return [
        ruleset(
            "http_request_cache_settings",
            *(
                rule(f'http.host eq "{host}" and (starts_with(http.request.uri.path, "/api/"))')
                for host in (STAGING, WWW)
            ),
        ),
        ruleset("http_request_late_transform", proof_rule(STAGING), proof_rule(WWW)),
        ruleset(zone.WAF_PHASE, waf_rule(f'http.host in {{"{STAGING}" "{WWW}"}}')),
    ]


def test_hostname_scoped_rules_pass(run_stack):
    assert run_stack(SCOPE, edge_like_rulesets(), SERVED) == []


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("true", "is not proven to act on one hostname"),
        ('starts_with(http.request.uri.path, "/api/")', "is not proven"),
        (f'http.host eq "{WWW}" or starts_with(http.request.uri.path, "/api/")', "not proven"),
        (f'http.host contains "{WWW}"', "not proven"),
        ('http.host eq "shop.mikoplasticsurgery.com"', "does not serve: shop."),
        (f'http.host in {{"{STAGING}" "{WWW}"}}', "acts on 2 hostnames"),
        (f'http.host eq "{STAGING}" and http.host eq "{WWW}"', "can match no hostname"),
    ],
)
def test_unscoped_rules_fail(run_stack, expression, problem):
    resources = [ruleset("http_ratelimit", rule(expression, "block"))]
    ((message, urn),) = run_stack(SCOPE, resources, SERVED)
    assert problem in message
    assert "http_ratelimit" in message
    assert urn == resources[0].urn


def test_every_unscoped_rule_is_reported(run_stack):
    resources = [
        ruleset("http_ratelimit", rule("true", "block"), rule(f'http.host eq "{WWW}"', "block")),
        ruleset("http_config_settings", rule("true", "set_config")),
    ]
    assert len(run_stack(SCOPE, resources, SERVED)) == 2


def test_a_managed_waf_rule_may_name_several_served_hosts_but_no_other(run_stack):
    both = f'http.host in {{"{STAGING}" "{WWW}"}}'
    assert run_stack(SCOPE, [ruleset(zone.WAF_PHASE, waf_rule(both))], SERVED) == []
    foreign = f'http.host in {{"{WWW}" "shop.mikoplasticsurgery.com"}}'
    (reported,) = run_stack(SCOPE, [ruleset(zone.WAF_PHASE, waf_rule(foreign))], SERVED)
    assert "does not serve" in reported[0]
    (reported,) = run_stack(SCOPE, [ruleset(zone.WAF_PHASE, waf_rule("true"))], SERVED)
    assert "not proven" in reported[0]


def test_scope_is_not_checked_without_served_hostnames(run_stack):
    resources = [ruleset("http_ratelimit", rule("true", "block"))]
    assert run_stack(SCOPE, resources) == []
    assert run_stack(SCOPE, resources, {"zoneHostnames": []}) == []


def test_custom_rulesets_and_unknown_expressions_are_not_checked(run_stack):
    resources = [
        ruleset("http_request_firewall_custom", rule("true", "block"), kind="custom"),
        ruleset("http_ratelimit", rule(UNKNOWN_STRING_VALUE, "block")),
    ]
    assert run_stack(SCOPE, resources, SERVED) == []


def test_rules_masked_by_the_offline_plan_are_unknown_not_missing(run_stack):
    masked = stack_resource(
        zone.RULESET,
        {"kind": "zone", "phase": zone.ORIGIN_PROOF_PHASE, "rules": "[secret]"},
        name="masked",
    )
    assert run_stack(PROOF, [masked], SERVED) == []
    assert run_stack(SCOPE, [masked], SERVED) == []


# --- cloudflare-managed-waf ---


def waf_config(plan):
    return {**SERVED, "cloudflarePlan": plan}


@pytest.mark.parametrize(
    ("plan", "ruleset_id"),
    [
        ("pro", CLOUDFLARE_MANAGED),
        ("business", OWASP),
        ("enterprise", CLOUDFLARE_MANAGED),
        ("free", FREE_MANAGED),
        ("pro", FREE_MANAGED),
    ],
)
def test_managed_waf_the_plan_allows_passes(run_stack, plan, ruleset_id):
    resources = [
        ruleset(zone.WAF_PHASE, waf_rule(f'http.host in {{"{STAGING}" "{WWW}"}}', ruleset_id))
    ]
    assert run_stack(WAF, resources, waf_config(plan)) == []


@pytest.mark.parametrize("ruleset_id", [CLOUDFLARE_MANAGED, OWASP])
def test_paid_managed_ruleset_on_free_plan_fails(run_stack, ruleset_id):
    resources = [
        ruleset(zone.WAF_PHASE, waf_rule(f'http.host in {{"{STAGING}" "{WWW}"}}', ruleset_id))
    ]
    messages = [message for message, _ in run_stack(WAF, resources, waf_config("free"))]
    assert any("needs the pro plan or above; the zone is on free" in m for m in messages)
    assert any(
        f"on {STAGING}, {WWW}" in m and "Cloudflare Free Managed Ruleset" in m for m in messages
    )


def test_plan_defaults_to_free(run_stack):
    resources = [ruleset(zone.WAF_PHASE, waf_rule(f'http.host in {{"{STAGING}" "{WWW}"}}'))]
    assert run_stack(WAF, resources, SERVED)


@pytest.mark.parametrize(
    "rules",
    [
        [],
        [waf_rule(f'http.host eq "{WWW}"')],
        [waf_rule(f'http.host in {{"{STAGING}" "{WWW}"}}', enabled=False)],
        [waf_rule("true")],
        [waf_rule(f'http.host in {{"{STAGING}" "{WWW}"}}', "0123456789abcdef0123456789abcdef")],
        [rule(f'http.host in {{"{STAGING}" "{WWW}"}}', "block")],
    ],
    ids=["no-rule", "one-host", "disabled", "unscoped", "not-managed", "not-execute"],
)
def test_a_hostname_without_managed_waf_fails(run_stack, rules):
    reported = run_stack(WAF, [ruleset(zone.WAF_PHASE, *rules)], waf_config("pro"))
    assert len(reported) == 1
    assert "No http_request_firewall_managed zone ruleset executes" in reported[0][0]
    assert STAGING in reported[0][0]


def test_no_waf_ruleset_at_all_fails(run_stack):
    ((message, urn),) = run_stack(WAF, [], waf_config("pro"))
    assert "Cloudflare Managed Ruleset" in message
    assert urn is None


def test_waf_is_not_checked_without_served_hostnames(run_stack):
    assert run_stack(WAF, [], {"cloudflarePlan": "pro"}) == []


# --- cloudflare-origin-proof-header ---


def test_origin_proof_per_hostname_passes(run_stack):
    resources = [ruleset(zone.ORIGIN_PROOF_PHASE, proof_rule(STAGING), proof_rule(WWW))]
    assert run_stack(PROOF, resources, SERVED) == []


def test_origin_proof_header_name_is_case_insensitive_and_value_may_be_unknown(run_stack):
    resources = [
        ruleset(
            zone.ORIGIN_PROOF_PHASE,
            proof_rule(STAGING, header=ORIGIN_AUTH_HEADER.upper()),
            proof_rule(WWW, value=UNKNOWN_STRING_VALUE),
        )
    ]
    assert run_stack(PROOF, resources, SERVED) == []


@pytest.mark.parametrize(
    "broken",
    [
        proof_rule(WWW, operation="remove"),
        proof_rule(WWW, value=""),
        proof_rule(WWW, header="x-origin-auth"),
        proof_rule(WWW, enabled=False),
        {**proof_rule(WWW), "action": "set_config"},
        {**proof_rule(WWW), "expression": f'http.host in {{"{WWW}" "{STAGING}"}}'},
        {**proof_rule(WWW), "expression": "true"},
    ],
    ids=["remove", "empty", "other-header", "disabled", "not-rewrite", "two-hosts", "unscoped"],
)
def test_a_hostname_without_origin_proof_fails(run_stack, broken):
    resources = [ruleset(zone.ORIGIN_PROOF_PHASE, proof_rule(STAGING), broken)]
    ((message, urn),) = run_stack(PROOF, resources, SERVED)
    assert f"for {WWW}:" in message
    assert ORIGIN_AUTH_HEADER in message
    assert urn == resources[0].urn


def test_origin_proof_in_another_phase_does_not_count(run_stack):
    resources = [ruleset("http_request_transform", proof_rule(STAGING), proof_rule(WWW))]
    ((message, urn),) = run_stack(PROOF, resources, SERVED)
    assert f"for {STAGING}, {WWW}" in message
    assert urn is None


def test_origin_proof_is_not_checked_without_served_hostnames(run_stack):
    assert run_stack(PROOF, []) == []


# --- the real stacks ---


def test_zone_policies_are_idle_in_the_environment_stacks():
    for stack in ("staging", "prod"):
        config = load_policy_config(stack)
        mine = {policy.name: config[policy.name] for policy in zone.POLICIES}
        violations = evaluate(planned_resources(render(stack)), mine, zone.POLICIES)
        assert violations == [], stack


@pytest.mark.skipif(
    not (PROJECT_DIR / "edge" / "Pulumi.yaml").is_file(), reason="no edge project yet"
)
def test_the_edge_stack_passes_and_fails_without_its_rules():
    environments = {stack: render(stack).exports for stack in ("staging", "prod")}
    edge = render_stack("clinic", project_dir=PROJECT_DIR / "edge", stack_outputs=environments)
    hosts = list(edge.exports["hostnames"])
    assert sorted(hosts) == sorted([STAGING, WWW])
    config = {
        SCOPE: {"zoneHostnames": hosts},
        WAF: {"zoneHostnames": hosts, "cloudflarePlan": edge.exports["plan"]},
        PROOF: {"zoneHostnames": hosts},
    }
    # The offline render shows a rule list holding a secret (the origin proof) as `[secret]` in
    # the outputs stack policies read over the inputs: read the inputs, as the engine would.
    resources = [replace(r, outputs={}) for r in planned_resources(edge)]
    assert evaluate(resources, config, zone.POLICIES) == []
    without = [
        r
        for r in resources
        if r.props.get("phase") not in (zone.WAF_PHASE, zone.ORIGIN_PROOF_PHASE)
    ]
    failed = {violation.policy_name for violation in evaluate(without, config, zone.POLICIES)}
    assert failed == {WAF, PROOF}
