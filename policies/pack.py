"""The pack's policies and the arguments `PolicyPack` is built with.

`PolicyPack(...)` starts serving the analyzer as soon as it is constructed, so everything else
(tests, the offline plan) imports `ALL_POLICIES` / `build_pack` from here instead.
"""

import re
from collections.abc import Sequence
from typing import TypedDict

from pulumi_policy import EnforcementLevel, Policy

from policies import (
    audit,
    compute,
    controls,
    edge,
    network_tls,
    observability,
    origin,
    principals,
    secrets_keys,
    storage_backups,
    tagging,
    zone,
)

PACK_NAME = "miko-platform-policies"

ALL_POLICIES: list[Policy] = [
    *network_tls.POLICIES,
    *origin.POLICIES,
    *compute.POLICIES,
    *secrets_keys.POLICIES,
    *principals.POLICIES,
    *storage_backups.POLICIES,
    *audit.POLICIES,
    *edge.POLICIES,
    *observability.POLICIES,
    *tagging.POLICIES,
    *zone.POLICIES,
    *controls.POLICIES,
]

_KEBAB_CASE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_DESCRIPTION = re.compile(r"^(Checks whether|Prohibits) [^\n]*\.$")


class PackArguments(TypedDict):
    name: str
    policies: list[Policy]
    enforcement_level: EnforcementLevel
    description: str


def validate_pack_policies(policies: Sequence[Policy]) -> None:
    """ValueError naming the first policy with a duplicate or badly formed name or description."""
    seen: set[str] = set()
    for policy in policies:
        if policy.name in seen:
            raise ValueError(f"policy name {policy.name!r} is used twice")
        seen.add(policy.name)
        if not _KEBAB_CASE.match(policy.name):
            raise ValueError(f"policy name {policy.name!r} is not kebab-case")
        if not _DESCRIPTION.match(policy.description) or policy.description.count(". ") > 0:
            raise ValueError(
                f"policy {policy.name!r}: the description must be one sentence starting "
                "'Checks whether' or 'Prohibits'"
            )


def build_pack(policies: Sequence[Policy] = ALL_POLICIES) -> PackArguments:
    """Checked keyword arguments for `pulumi_policy.PolicyPack`."""
    validate_pack_policies(policies)
    return PackArguments(
        name=PACK_NAME,
        policies=list(policies),
        enforcement_level=EnforcementLevel.MANDATORY,
        description="Guards miko-platform's AWS and Cloudflare resources: TLS, network exposure, "
        "containers, secrets and keys, storage and backups, edge rules, alarms and tags.",
    )
