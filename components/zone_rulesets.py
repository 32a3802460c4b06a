"""The zone's entry-point rulesets: one per phase, holding every environment's rules.

A Cloudflare zone has at most one entry-point ruleset per phase (a second create fails with
error 20217) and the API replaces a phase's rules as a whole, so the edge stack alone writes
them, one `cloudflare.Ruleset` per phase, from each environment's `edge` output. Every rule is
scoped to its hostname (`http.host eq "<hostname>" and (...)`); the managed WAF rule, which
Cloudflare deploys once per zone entry point, to the set of the environments' hostnames.

Phases:
- http_request_cache_settings: each hostname's cache rules (components/cdn_rules.py);
- http_ratelimit: each hostname's /api rate limit, checked against the plan's limits;
- http_response_headers_transform: each hostname's security headers (its stack's header map);
- http_request_late_transform: each hostname's origin proof, ORIGIN_AUTH_HEADER set to its
  environment's secret (the value stays secret in state and previews);
- http_config_settings: per-hostname SSL mode strict and Automatic HTTPS Rewrites
  (Configuration Rules), instead of zone-wide settings that would reach every hostname;
- http_request_firewall_managed: the managed WAF rulesets the plan allows.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import pulumi
import pulumi_cloudflare as cloudflare

from components.cdn_rules import cache_rules, rate_limit_rules, scoped
from components.cloudflare_rulesets import zone_phase_ruleset
from components.edge_export import EnvironmentEdge, EnvironmentInput
from components.edge_security_headers import security_header_rules
from components.origin_auth import ORIGIN_AUTH_HEADER
from config.edge_stack import PLAN_LIMITS, EdgeLimitError, rate_limit_problems

CACHE_PHASE = "http_request_cache_settings"
RATE_LIMIT_PHASE = "http_ratelimit"
HEADERS_PHASE = "http_response_headers_transform"
ORIGIN_AUTH_PHASE = "http_request_late_transform"
CONFIG_PHASE = "http_config_settings"
WAF_PHASE = "http_request_firewall_managed"
PHASES = (CACHE_PHASE, RATE_LIMIT_PHASE, HEADERS_PHASE, ORIGIN_AUTH_PHASE, CONFIG_PHASE, WAF_PHASE)

# Per-hostname settings of the Configuration Rules (http_config_settings): the origin's
# certificate verified (SSL mode strict) and http:// links rewritten in this hostname's pages.
HOSTNAME_CONFIG: dict[str, object] = {"ssl": "strict", "automatic_https_rewrites": True}


@dataclass
class ZoneRulesetsArgs:
    zone_id: pulumi.Input[str]
    zone_name: str
    """Every environment's hostname must be inside it."""
    plan: str
    """The zone's Cloudflare plan (free, pro, business, enterprise): what it may deploy."""
    environments: Sequence[EnvironmentInput]


def checked_environments(
    edges: Sequence[EnvironmentEdge], zone_name: str, plan: str
) -> list[EnvironmentEdge]:
    """The environments, or EdgeLimitError listing every hostname and rate-limit problem."""
    problems: list[str] = []
    hostnames = [edge.hostname for edge in edges]
    for edge in edges:
        if not f".{edge.hostname}".endswith(f".{zone_name}"):
            problems.append(f"environment {edge.name!r}: {edge.hostname!r} is not in {zone_name}")
        if hostnames.count(edge.hostname) > 1:
            problems.append(f"environment {edge.name!r}: {edge.hostname!r} served twice")
    problems += rate_limit_problems(plan, {edge.name: edge.rate_limit for edge in edges})
    if problems:
        raise EdgeLimitError(plan, problems)
    return list(edges)


def _cache(edges: list[EnvironmentEdge]) -> list[cloudflare.RulesetRuleArgsDict]:
    return [rule for edge in edges for rule in cache_rules(edge.hostname, edge.name)]


def rate_limits(plan: str, edges: list[EnvironmentEdge]) -> list[cloudflare.RulesetRuleArgsDict]:
    """Each hostname's /api rate limit. On the Free plan a rate-limiting rule may match the path
    only (no `http.host`), so its one rule covers /api on every hostname of the zone; with more
    than one environment the plan is refused (config.edge_stack.rate_limit_problems)."""
    scope = PLAN_LIMITS[plan].rate_limit_host_field
    return [
        rule
        for edge in edges
        for rule in rate_limit_rules(
            edge.rate_limit.requests_per_period,
            edge.rate_limit.period_seconds,
            edge.rate_limit.mitigation_timeout_seconds,
            edge.hostname if scope else None,
            edge.name,
        )
    ]


def _headers(edges: list[EnvironmentEdge]) -> list[cloudflare.RulesetRuleArgsDict]:
    return [
        rule
        for edge in edges
        for rule in security_header_rules(edge.response_headers, edge.hostname, edge.name)
    ]


def _config(edges: list[EnvironmentEdge]) -> list[cloudflare.RulesetRuleArgsDict]:
    return [
        {
            "ref": f"{edge.name}_strict_tls",
            "description": f"{edge.hostname}: origin certificate verified (SSL strict), "
            "http:// links rewritten",
            "expression": scoped(edge.hostname, "true"),
            "action": "set_config",
            "action_parameters": HOSTNAME_CONFIG,  # type: ignore[typeddict-item]
        }
        for edge in edges
    ]


def _host_expression(index: int, edges: list[EnvironmentEdge]) -> str:
    return scoped(edges[index].hostname, "true")


def hosts_expression(hostnames: Sequence[str]) -> str:
    """`http.host in {"a" "b"}`: requests for exactly these hostnames."""
    return "http.host in {" + " ".join(f'"{hostname}"' for hostname in hostnames) + "}"


def waf_rules(plan: str, hostnames: Sequence[str]) -> list[cloudflare.RulesetRuleArgsDict]:
    """One execute rule per managed ruleset the plan allows, for the environments' hostnames
    only (each managed ruleset is deployed once in the zone's entry point)."""
    return [
        {
            "ref": f"waf_{ruleset.id[:8]}",
            "description": f"{ruleset.name} ({ruleset.id}) on the environments' hostnames",
            "expression": hosts_expression(hostnames),
            "action": "execute",
            "action_parameters": {"id": ruleset.id},
        }
        for ruleset in PLAN_LIMITS[plan].managed_rulesets
    ]


class ZoneRulesets(pulumi.ComponentResource):
    """The zone's one entry-point ruleset per phase, every rule scoped to its hostname."""

    ruleset_ids: pulumi.Output[dict[str, str]]
    """Phase -> ID of the zone's entry-point ruleset of that phase."""

    def __init__(
        self, name: str, args: ZoneRulesetsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:edge:ZoneRulesets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        plan, zone_name = args.plan, args.zone_name
        edges = pulumi.Output.all(*[env.edge for env in args.environments]).apply(
            lambda values: checked_environments(values, zone_name, plan)
        )

        def ruleset(
            suffix: str,
            phase: str,
            title: str,
            description: str,
            rules: pulumi.Input[Sequence[cloudflare.RulesetRuleArgsDict]],
        ) -> cloudflare.Ruleset:
            return zone_phase_ruleset(
                f"{name}-{suffix}",
                zone_id=args.zone_id,
                phase=phase,
                name=title,
                description=description,
                rules=rules,
                opts=child,
            )

        rulesets = [
            ruleset(
                "cache",
                CACHE_PHASE,
                "Cache rules",
                "Per hostname: fingerprinted assets as the app says, HTML revalidated, API never",
                edges.apply(_cache),
            ),
            ruleset(
                "rate-limit",
                RATE_LIMIT_PHASE,
                "Rate limiting rules",
                "Per hostname: per-client request limit on the API",
                edges.apply(lambda values: rate_limits(plan, values)),
            ),
            ruleset(
                "response-headers",
                HEADERS_PHASE,
                "Security headers",
                "Per hostname: the service's header set, from app.security_headers",
                edges.apply(_headers),
            ),
            ruleset(
                "origin-auth",
                ORIGIN_AUTH_PHASE,
                "Origin proof",
                f"Per hostname: {ORIGIN_AUTH_HEADER} set to the environment's secret",
                self._origin_auth_rules(args.environments, edges),
            ),
            ruleset(
                "config",
                CONFIG_PHASE,
                "Configuration rules",
                "Per hostname: SSL strict and Automatic HTTPS Rewrites",
                edges.apply(_config),
            ),
            ruleset(
                "waf",
                WAF_PHASE,
                "Managed WAF rules",
                f"Managed rulesets of the {plan} plan on the environments' hostnames",
                edges.apply(lambda values: waf_rules(plan, [edge.hostname for edge in values])),
            ),
        ]

        self.ruleset_ids = pulumi.Output.all(*[r.id for r in rulesets]).apply(
            lambda ids: dict(zip(PHASES, ids, strict=True))
        )
        self.register_outputs({"ruleset_ids": self.ruleset_ids})

    @staticmethod
    def _origin_auth_rules(
        environments: Sequence[EnvironmentInput], edges: pulumi.Output[list[EnvironmentEdge]]
    ) -> list[cloudflare.RulesetRuleArgsDict]:
        """One rule per hostname; only each header value is secret, so the rule's scope and
        header name stay readable in previews (and to the policies)."""
        return [
            {
                "ref": f"{env.name}_origin_auth",
                "description": f"{env.name}: prove to the origin that the request came through "
                "this zone",
                "expression": edges.apply(partial(_host_expression, index)),
                "action": "rewrite",
                "action_parameters": {
                    "headers": {
                        ORIGIN_AUTH_HEADER: {
                            "operation": "set",
                            "value": pulumi.Output.secret(env.origin_auth_secret),
                        }
                    }
                },
            }
            for index, env in enumerate(environments)
        ]
