"""Secrets Manager secrets, their rotation age, KMS keys and their policies, and what else
must be encrypted with the stack's keys (Scheduler schedules).

Rotation dates are stack config, not resource properties, so the program puts them on the
secret: each `aws.secretsmanager.Secret` carries the tag `rotated-on` = the oldest ISO date among
the `<key>RotatedOn` config values of the keys stored in that secret.
"""

import datetime
from typing import Any

from pulumi_policy import ResourceValidationArgs

from policies._props import (
    ConfigSchema,
    Props,
    Report,
    config_value,
    contains_unknown,
    integer_setting,
    is_true,
    is_unknown,
    items,
    json_document,
    lookup,
    property_check,
    resource_policy,
    string_setting,
    tag,
)

SECRETSMANAGER_TYPE = "aws:secretsmanager/secret:Secret"  # pragma: allowlist secret
KMS_KEY = "aws:kms/key:Key"
SCHEDULE = "aws:scheduler/schedule:Schedule"
ROTATED_ON_TAG = "rotated-on"

AGE_SCHEMA: ConfigSchema = {
    "maxSecretAgeDays": integer_setting(
        minimum=1,
        description="Oldest a secret's last rotation (tag rotated-on) may be, in days.",
        default=90,
    ),
    "today": string_setting(
        pattern="^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        description="ISO date to measure ages from (tests and reproducible plans); "
        "the current UTC date when absent.",
    ),
}


_check_customer_key = property_check(
    "Secret",
    "kmsKeyId",
    bool,
    "to a customer managed KMS key "
    "(the default aws/secretsmanager key cannot be scoped or audited per service)",
)
_check_key_rotation = property_check(
    "KMS key",
    "enableKeyRotation",
    is_true,
    "to true",
    only_when={
        "keyUsage": (None, "ENCRYPT_DECRYPT"),
        "customerMasterKeySpec": (None, "SYMMETRIC_DEFAULT"),
    },
)


_check_schedule_key = property_check(
    "Schedule",
    "kmsKeyArn",
    bool,
    "to the stack's customer managed KMS key (the default AWS owned key cannot be audited)",
)


def _key_policy_problem(policy: Any) -> str | None:
    if not policy:
        return "set policy (an explicit key policy; the implicit default cannot be reviewed)"
    document = json_document(policy)
    if not isinstance(document, dict) or not items(document.get("Statement")):
        return "set policy to a JSON key policy document with at least one statement"
    return None


def _check_key_policy(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    policy = lookup(props, "policy")
    if is_unknown(policy) or contains_unknown(policy):
        return
    problem = _key_policy_problem(policy)
    if problem:
        report(f"KMS key '{args.name}' must {problem}.")


def _today(config: Props) -> datetime.date:
    configured = config_value(config, AGE_SCHEMA, "today")
    if isinstance(configured, str):
        return datetime.date.fromisoformat(configured)
    return datetime.datetime.now(datetime.UTC).date()


def _rotation_problem(rotated_on: Any, today: datetime.date, max_age_days: int) -> str | None:
    if rotated_on is None:
        return f"has no '{ROTATED_ON_TAG}' tag"
    try:
        rotated = datetime.date.fromisoformat(str(rotated_on))
    except ValueError:
        return f"has a '{ROTATED_ON_TAG}' tag that is not an ISO date (YYYY-MM-DD)"
    age_days = (today - rotated).days
    if age_days < 0:
        return f"was rotated on {rotated.isoformat()}, a date in the future"
    if age_days > max_age_days:
        return (
            f"was last rotated on {rotated.isoformat()}, {age_days} days ago "
            f"(more than {max_age_days})"
        )
    return None


def _check_rotation_age(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    rotated_on = tag(props, ROTATED_ON_TAG)
    if is_unknown(rotated_on):
        return
    config = args.get_config()
    max_age_days = config_value(config, AGE_SCHEMA, "maxSecretAgeDays")
    problem = _rotation_problem(rotated_on, _today(config), max_age_days)
    if problem:
        report(
            f"Secret '{args.name}' {problem}: rotate it (scripts/rotate-secret) so its "
            f"<key>RotatedOn stack config, and with it the '{ROTATED_ON_TAG}' tag, is recent."
        )


POLICIES = [
    resource_policy(
        "secret-customer-kms-key",
        "Checks whether Secrets Manager secrets are encrypted with a customer managed KMS key.",
        (SECRETSMANAGER_TYPE,),
        _check_customer_key,
    ),
    resource_policy(
        "kms-key-rotation-enabled",
        "Checks whether symmetric KMS keys rotate their key material automatically.",
        (KMS_KEY,),
        _check_key_rotation,
    ),
    resource_policy(
        "kms-key-explicit-policy",
        "Checks whether KMS keys are created with an explicit key policy.",
        (KMS_KEY,),
        _check_key_policy,
    ),
    resource_policy(
        "scheduler-schedule-customer-kms-key",
        "Checks whether EventBridge Scheduler schedules are encrypted with a customer managed "
        "KMS key.",
        (SCHEDULE,),
        _check_schedule_key,
    ),
    resource_policy(
        "secret-rotation-age",
        "Checks whether every secret was rotated within the stack's maximum secret age.",
        (SECRETSMANAGER_TYPE,),
        _check_rotation_age,
        AGE_SCHEMA,
    ),
]
