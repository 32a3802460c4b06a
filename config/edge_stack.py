"""The edge stack's config (project miko-edge, edge/Pulumi.yaml) and the Cloudflare plan limits.

The edge stack owns what a Cloudflare zone holds once: the entry-point ruleset of each phase and
the zone settings. It reads each environment stack's `edge` output; what it may deploy depends
on the zone's plan (`cloudflarePlan`), whose published limits are below, each with its source.
Invalid config fails before any resource, listing every problem (config.stack's collector).
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

import pulumi
from pydantic import BaseModel, ConfigDict, Field, field_validator

from config.sections import HOSTNAME, RATE_LIMIT_SECONDS, STACK_NAME, Section, _json_text
from config.stack import InvalidConfigError, _Collector

PLATFORM_PROJECT = "miko-platform"
"""The environment stacks' project: a bare `stackReference` names one of its stacks."""
ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")

CloudflarePlan = Literal["free", "pro", "business", "enterprise"]


# The managed WAF rulesets (https://developers.cloudflare.com/waf/managed-rules/): the Free
# Managed Ruleset is available on every plan; the Cloudflare Managed Ruleset on Pro and above
# (and replaces the free one: "If you deployed the Cloudflare Managed Ruleset, you do not need
# to deploy this managed ruleset").
FREE_MANAGED_RULESET_ID = "77454fe2d30c4220b5701f6fdfb893ba"
CLOUDFLARE_MANAGED_RULESET_ID = "efb7b8c949ac4650a09736fc376e9aee"


@dataclass(frozen=True)
class ManagedRuleset:
    id: str
    name: str


@dataclass(frozen=True)
class PlanLimits:
    """What a plan allows, from Cloudflare's availability tables."""

    max_rate_limit_period: int
    max_mitigation_timeout: int
    max_rate_limit_rules: int
    rate_limit_host_field: bool
    """Whether a rate-limiting rule's expression may use `http.host` (Free: path only)."""
    managed_rulesets: tuple[ManagedRuleset, ...]

    def periods(self) -> tuple[int, ...]:
        return tuple(s for s in RATE_LIMIT_SECONDS if s <= self.max_rate_limit_period)

    def timeouts(self) -> tuple[int, ...]:
        return tuple(s for s in RATE_LIMIT_SECONDS if s <= self.max_mitigation_timeout)


_FREE_WAF = (ManagedRuleset(FREE_MANAGED_RULESET_ID, "Cloudflare Free Managed Ruleset"),)
_PAID_WAF = (ManagedRuleset(CLOUDFLARE_MANAGED_RULESET_ID, "Cloudflare Managed Ruleset"),)
# "Rate limiting rules", Availability: counting period up to 10 s / 1 min / 10 min / 65,535 s,
# mitigation timeout up to 10 s / 1 h / 1 day / 1 day, rules 1 / 2 / 5 / 5 or more (Enterprise:
# by contract; 5 is the floor we assume); expression fields: Free path only, Pro adds host.
PLAN_LIMITS: Mapping[str, PlanLimits] = {
    "free": PlanLimits(10, 10, 1, False, _FREE_WAF),
    "pro": PlanLimits(60, 3600, 2, True, _PAID_WAF),
    "business": PlanLimits(600, 86400, 5, True, _PAID_WAF),
    "enterprise": PlanLimits(65535, 86400, 5, True, _PAID_WAF),
}


class EnvironmentReference(BaseModel):
    """One environment stack whose `edge` output the edge stack serves."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_alias=True)
    name: str
    stack_reference: str = Field(alias="stackReference")
    """`[org/[project/]]stack`; a bare stack name is one of miko-platform's stacks."""

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not ENVIRONMENT_NAME.fullmatch(name):
            raise ValueError(f"environment name {name!r} must be 1-16 lower-case letters/digits")
        return name

    @field_validator("stack_reference")
    @classmethod
    def _stack(cls, stack: str) -> str:
        if not STACK_NAME.fullmatch(stack):
            raise ValueError(f"{stack!r} is not a stack name ([org/project/]stack)")
        return stack

    def qualified_stack_name(self, organization: str) -> str:
        """The StackReference name: `stack` -> `<org>/miko-platform/<stack>`, as a promoting
        stack's imagePromoteFrom is resolved, but in the environments' project."""
        parts = self.stack_reference.split("/")
        if len(parts) == 3:
            return self.stack_reference
        if len(parts) == 2:
            return f"{organization}/{self.stack_reference}"
        return f"{organization}/{PLATFORM_PROJECT}/{self.stack_reference}"


EnvironmentList = Annotated[
    tuple[EnvironmentReference, ...], _json_text("a list of {name, stackReference} objects")
]


class EdgeStackSettings(Section):
    zone_name: str = Field(alias="cloudflareZoneName")
    plan: CloudflarePlan = Field(alias="cloudflarePlan")
    environments: EnvironmentList = Field(min_length=1)

    @field_validator("zone_name")
    @classmethod
    def _dns_name(cls, name: str) -> str:
        if not HOSTNAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a lower-case DNS name")
        return name

    @field_validator("environments")
    @classmethod
    def _unique(
        cls, environments: tuple[EnvironmentReference, ...]
    ) -> tuple[EnvironmentReference, ...]:
        for attribute in ("name", "stack_reference"):
            values = [getattr(environment, attribute) for environment in environments]
            twice = sorted({value for value in values if values.count(value) > 1})
            if twice:
                raise ValueError(f"environment {attribute} listed twice: {', '.join(twice)}")
        return environments

    @property
    def limits(self) -> PlanLimits:
        return PLAN_LIMITS[self.plan]


def load_edge_stack_settings(config: pulumi.Config | None = None) -> EdgeStackSettings:
    """The edge stack's config, validated; InvalidConfigError listing every problem."""
    config = config or pulumi.Config()
    flat = {
        key: value
        for key in EdgeStackSettings.config_keys()
        if (value := config.get(key)) is not None
    }
    collect = _Collector(flat)
    settings = collect.model(EdgeStackSettings)
    if settings is None:
        raise InvalidConfigError(pulumi.get_stack(), collect.problems)
    return settings


@dataclass(frozen=True)
class RateLimit:
    """One environment's /api rate limit, as its stack exports it."""

    requests_per_period: int
    period_seconds: int
    mitigation_timeout_seconds: int


class EdgeLimitError(pulumi.RunError):
    """Environment settings the zone's plan does not allow; the message lists all of them."""

    def __init__(self, plan: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        listed = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            f"the {plan} plan of the zone does not allow {len(problems)} environment "
            f"setting(s):\n{listed}\nChange them in the environment's stack file "
            "(apiRateLimit*) or cloudflarePlan in edge/Pulumi.<stack>.yaml."
        )


def rate_limit_problems(plan: str, limits: Mapping[str, RateLimit]) -> list[str]:
    """Why the environments' rate limits (by environment name) do not fit `plan`, if they do not."""
    allowed = PLAN_LIMITS[plan]
    problems: list[str] = []
    for environment, limit in limits.items():
        if limit.period_seconds not in allowed.periods():
            problems.append(
                f"environment {environment!r}: apiRateLimitPeriodSeconds "
                f"{limit.period_seconds} is not a counting period of the {plan} plan "
                f"(one of {', '.join(map(str, allowed.periods()))} s)"
            )
        if limit.mitigation_timeout_seconds not in allowed.timeouts():
            problems.append(
                f"environment {environment!r}: apiRateLimitBlockSeconds "
                f"{limit.mitigation_timeout_seconds} is not a mitigation timeout of the {plan} "
                f"plan (one of {', '.join(map(str, allowed.timeouts()))} s)"
            )
    if len(limits) > allowed.max_rate_limit_rules:
        problems.append(
            f"environments {', '.join(repr(name) for name in limits)}: {len(limits)} rate "
            f"limiting rules (one per hostname); the {plan} plan allows "
            f"{allowed.max_rate_limit_rules}"
        )
    if len(limits) > 1 and not allowed.rate_limit_host_field:
        problems.append(
            f"environments {', '.join(repr(name) for name in limits)}: the {plan} plan's rate "
            "limiting rules cannot match http.host, so no rule can be scoped to one hostname"
        )
    return problems
