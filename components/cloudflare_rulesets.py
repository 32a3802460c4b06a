"""One Cloudflare zone ruleset per phase, built the same way by every edge component.

A zone has one entry-point ruleset per phase and the API replaces a phase's rules as a whole,
so each phase is written by exactly one `cloudflare.Ruleset` holding all of its rules.
"""

from collections.abc import Sequence

import pulumi
import pulumi_cloudflare as cloudflare


def zone_phase_ruleset(
    resource_name: str,
    *,
    zone_id: pulumi.Input[str],
    phase: str,
    name: str,
    description: str,
    rules: pulumi.Input[Sequence[cloudflare.RulesetRuleArgsDict]],
    opts: pulumi.ResourceOptions,
) -> cloudflare.Ruleset:
    """The zone's entry-point ruleset of `phase`, with every rule of that phase."""
    return cloudflare.Ruleset(
        resource_name,
        zone_id=zone_id,
        kind="zone",
        phase=phase,
        name=name,
        description=description,
        rules=rules,
        opts=opts,
    )
