"""The audit trail (issue 15): a stack's account records its API activity, tamper-evident.

A stack whose account is covered by an organization trail says so in its policy config
(`organizationTrail: true`, matching the program's `auditOrganizationTrail`); every other stack
must create a multi-region CloudTrail trail with log-file validation (CIS 3.2, FSBP CloudTrail.4)
and KMS encryption (CIS 3.5, FSBP CloudTrail.2), CloudTrail.1's multi-region requirement.
"""

from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from policies._props import (
    ConfigSchema,
    boolean_setting,
    config_value,
    is_unknown,
    lookup,
    plain,
    resources_of,
    stack_policy,
)

TRAIL = "aws:cloudtrail/trail:Trail"
TRAIL_SCHEMA: ConfigSchema = {
    "organizationTrail": boolean_setting(
        description="The account is covered by an organization trail: no trail of its own needed.",
        default=False,
    )
}
REQUIREMENTS: tuple[tuple[str, str], ...] = (
    ("isMultiRegionTrail", "multi-region (isMultiRegionTrail)"),
    ("enableLogFileValidation", "log-file validation (enableLogFileValidation)"),
    ("kmsKeyId", "KMS encryption (kmsKeyId)"),
)


def _missing(trail: PolicyResource) -> list[str]:
    """What the trail lacks of REQUIREMENTS; an unknown value counts as met."""
    props = plain(trail.props)
    missing = []
    for prop, label in REQUIREMENTS:
        value: Any = lookup(props, prop)
        if not is_unknown(value) and not value:
            missing.append(label)
    return missing


def _check_trail(args: StackValidationArgs, report: ReportViolation) -> None:
    if config_value(args.get_config(), TRAIL_SCHEMA, "organizationTrail"):
        return
    trails = list(resources_of(args, TRAIL))
    if any(not _missing(trail) for trail in trails):
        return
    if not trails:
        report(
            "The stack creates no CloudTrail trail: add a multi-region aws.cloudtrail.Trail with "
            "log-file validation and a KMS key (components/audit_trail.py), or set "
            "organizationTrail true where an organization trail covers the account.",
            None,
        )
    for trail in trails:
        report(f"Trail '{trail.name}' lacks {', '.join(_missing(trail))}.", trail.urn)


POLICIES = [
    stack_policy(
        "cloudtrail-multi-region-validated-encrypted",
        "Checks whether a stack without an organization trail has a multi-region CloudTrail "
        "trail with log-file validation and KMS encryption.",
        _check_trail,
        TRAIL_SCHEMA,
    ),
]
