"""Secrets Manager secrets, their rotation age, KMS keys and their policies, what else must be
encrypted with KMS keys (Scheduler schedules, SNS topics, SQS queues), the ACM certificate, and
the IAM identity policies that could reach every key or every action.

The Security Hub controls cited are those of the AWS Foundational Security Best Practices
(FSBP) standard and the CIS AWS Foundations Benchmark, as the Security Hub user guide defines them
(awsdocs/aws-security-hub-user-guide, doc_source/acm-controls.md, sns-controls.md,
sqs-controls.md, kms-controls.md and iam-controls.md, commit 47bfe2f, June 2023), except ACM.2,
which is newer than that snapshot.

Rotation dates are stack config, not resource properties, so the program puts them on the
secret: each `aws.secretsmanager.Secret` carries the tag `rotated-on` = the oldest ISO date among
the `<key>RotatedOn` config values of the keys stored in that secret.
"""

import datetime
import re
from collections.abc import Iterator, Mapping
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
    strings,
    tag,
)

SECRETSMANAGER_TYPE = "aws:secretsmanager/secret:Secret"  # pragma: allowlist secret
KMS_KEY = "aws:kms/key:Key"
SCHEDULE = "aws:scheduler/schedule:Schedule"
CERTIFICATE = "aws:acm/certificate:Certificate"
TOPIC = "aws:sns/topic:Topic"
QUEUE = "aws:sqs/queue:Queue"
IAM_POLICY_TYPES = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
"""Identity policies (customer managed and inline): their `policy` document. Key policies are not
among them: in a key policy, Resource "*" means the key itself."""
STRONG_KEY_ALGORITHMS = (
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "EC_prime256v1",
    "EC_secp384r1",
    "EC_secp521r1",
)
"""ACM.2 (newer than the June 2023 guide): RSA keys of at least 2048 bits, or ECDSA keys.
ACM's default, when keyAlgorithm is absent, is RSA_2048."""
DECRYPT_ACTIONS = ("kms:Decrypt", "kms:ReEncryptFrom")
"""KMS.1/KMS.2's blockedActionsPatterns."""
ANY_KEY = "arn:aws:kms:xx-none-1:000000000000:key/00000000-0000-0000-0000-000000000000"
"""A key of no account of ours: a Resource pattern that matches it reaches every key."""
_SERVICE_WILDCARD = re.compile(r"^[A-Za-z0-9-]+:\*$")
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


DELETION_WINDOW_SCHEMA: ConfigSchema = {
    "minDeletionWindowDays": integer_setting(
        minimum=7,
        description="Fewest days a KMS key's scheduled deletion may wait (7-30; AWS's default, "
        "when deletionWindowInDays is absent, is 30).",
        default=30,
    )
}


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


def _check_deletion_window(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    """FSBP KMS.3 (kms-controls.md, "AWS KMS keys should not be deleted unintentionally"): the
    control fails while a key is scheduled for deletion, and the waiting period (30 days by
    default, as short as 7) is the time left to cancel a deletion scheduled in error. A program
    cannot schedule a deletion by itself; it can keep that window at its longest."""
    days = lookup(props, "deletionWindowInDays")
    if is_unknown(days):
        return
    floor = config_value(args.get_config(), DELETION_WINDOW_SCHEMA, "minDeletionWindowDays")
    window = 30 if days is None else days
    if not isinstance(window, int | float) or window < floor:
        report(
            f"KMS key '{args.name}' must set deletionWindowInDays to at least {floor} (it is "
            f"{days}): a deletion scheduled by mistake must leave time to cancel it (FSBP KMS.3)."
        )


def _check_certificate_renewal(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    """FSBP ACM.1 (acm-controls.md, "Imported and ACM-issued certificates should be renewed after
    a specified time period"): ACM renews DNS-validated and private-CA certificates by itself;
    an imported certificate never, an email-validated one only when someone answers the mail."""
    imported = [key for key in ("privateKey", "certificateBody") if lookup(props, key) is not None]
    if imported:
        report(
            f"Certificate '{args.name}' is imported ({', '.join(imported)}): ACM never renews it. "
            "Request it from ACM with validationMethod 'DNS' (components/certificate.py; FSBP "
            "ACM.1)."
        )
        return
    method = lookup(props, "validationMethod")
    if is_unknown(method) or lookup(props, "certificateAuthorityArn") is not None:
        return
    if method != "DNS":
        report(
            f"Certificate '{args.name}' must set validationMethod to 'DNS' (it is {method!r}): "
            "ACM renews DNS-validated certificates by itself, email validation waits for someone "
            "to answer (FSBP ACM.1)."
        )


_check_certificate_key = property_check(
    "Certificate",
    "keyAlgorithm",
    lambda algorithm: algorithm is None or algorithm in STRONG_KEY_ALGORITHMS,
    "to RSA_2048 or longer, or an EC algorithm, or leave it unset (RSA_2048) "
    "(FSBP ACM.2, newer than the June 2023 guide)",
)
_check_topic_key = property_check(
    "Topic",
    "kmsMasterKeyId",
    bool,
    "to a KMS key (server-side encryption at rest; FSBP SNS.1)",
)


def _check_queue_encryption(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    """FSBP SQS.1 (sqs-controls.md): passes with SSE-KMS (kmsMasterKeyId) or SSE-SQS
    (sqsManagedSseEnabled)."""
    key, managed = lookup(props, "kmsMasterKeyId"), lookup(props, "sqsManagedSseEnabled")
    if is_unknown(key) or is_unknown(managed) or key or managed is True:
        return
    report(
        f"Queue '{args.name}' must be encrypted at rest: set kmsMasterKeyId to a KMS key "
        "(or sqsManagedSseEnabled to true) (FSBP SQS.1)."
    )


def _matches(pattern: str, value: str, *, ignore_case: bool) -> bool:
    """IAM's wildcard match: `*` any run of characters, `?` one character."""
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _allow_statements(props: Props) -> Iterator[Mapping[str, Any]]:
    document = json_document(lookup(props, "policy"))
    if not isinstance(document, Mapping):
        return
    for statement in items(document.get("Statement")):
        if isinstance(statement, Mapping) and lookup(statement, "Effect") == "Allow":
            yield statement


def _is_full_admin(statement: Mapping[str, Any]) -> bool:
    """IAM.1's statement: Action "*" over Resource "*"."""
    actions = strings(lookup(statement, "Action"))
    return any(a in ("*", "*:*") for a in actions) and "*" in strings(lookup(statement, "Resource"))


def _allows_action(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        excluded = strings(lookup(statement, "NotAction"))
        return not any(_matches(p, action, ignore_case=True) for p in excluded)
    return any(_matches(p, action, ignore_case=True) for p in strings(lookup(statement, "Action")))


def _reaches_any_key(statement: Mapping[str, Any]) -> bool:
    if "NotResource" in statement:
        excluded = strings(lookup(statement, "NotResource"))
        return not any(_matches(p, ANY_KEY, ignore_case=False) for p in excluded)
    return any(
        _matches(p, ANY_KEY, ignore_case=False) for p in strings(lookup(statement, "Resource"))
    )


def _check_full_admin(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    """FSBP IAM.1 / CIS 1.16 (iam-controls.md, "IAM policies should not allow full "*"
    administrative privileges"): no Allow of Action "*" over Resource "*". The guide's control
    reads customer managed policies only; inline role policies grant the same, so they count."""
    if any(_is_full_admin(statement) for statement in _allow_statements(props)):
        report(
            f"IAM policy '{args.name}' allows Action '*' on Resource '*' (full administrator): "
            "grant the actions and resources the role needs (FSBP IAM.1, CIS 1.16)."
        )


def _check_service_wildcards(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    """FSBP IAM.21 (iam-controls.md): no Allow of "<service>:*", as Action or NotAction; a
    prefix with a suffixed wildcard (ec2:Describe*) passes."""
    found: list[str] = []
    for statement in _allow_statements(props):
        for key in ("Action", "NotAction"):
            found += [
                f"{key} {action}"
                for action in strings(lookup(statement, key))
                if _SERVICE_WILDCARD.match(action) and f"{key} {action}" not in found
            ]
    if found:
        report(
            f"IAM policy '{args.name}' allows every action of a service ({', '.join(found)}): "
            "list the actions it needs (a prefix such as 'ec2:Describe*' is fine) (FSBP IAM.21)."
        )


def _check_decrypt_all_keys(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    """FSBP KMS.1 (customer managed policies) and KMS.2 (inline policies) (kms-controls.md): no
    Allow of kms:Decrypt or kms:ReEncryptFrom, by name or by a wildcard covering them, on every
    key (Resource "*" or a pattern matching any account's keys). Like the controls, conditions
    are not considered. A "*" on "*" statement is iam-policy-no-full-admin's finding (IAM.1),
    reported once there."""
    blocked: list[str] = []
    for statement in _allow_statements(props):
        if _is_full_admin(statement) or not _reaches_any_key(statement):
            continue
        blocked += [a for a in DECRYPT_ACTIONS if _allows_action(statement, a) and a not in blocked]
    if blocked:
        report(
            f"IAM policy '{args.name}' allows {' and '.join(blocked)} on every KMS key: name the "
            "keys it decrypts with in Resource (FSBP KMS.1, KMS.2)."
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
    resource_policy(
        "kms-key-deletion-window",
        "Checks whether KMS keys keep a deletion waiting period of at least the configured "
        "number of days (FSBP KMS.3).",
        (KMS_KEY,),
        _check_deletion_window,
        DELETION_WINDOW_SCHEMA,
    ),
    resource_policy(
        "acm-certificate-auto-renewing",
        "Checks whether ACM certificates are issued by ACM with DNS validation, so ACM renews "
        "them (FSBP ACM.1).",
        (CERTIFICATE,),
        _check_certificate_renewal,
    ),
    resource_policy(
        "acm-certificate-key-strength",
        "Checks whether ACM certificates use RSA keys of at least 2048 bits or ECDSA keys "
        "(FSBP ACM.2).",
        (CERTIFICATE,),
        _check_certificate_key,
    ),
    resource_policy(
        "sns-topic-kms-encrypted",
        "Checks whether SNS topics are encrypted at rest with a KMS key (FSBP SNS.1).",
        (TOPIC,),
        _check_topic_key,
    ),
    resource_policy(
        "sqs-queue-encrypted",
        "Checks whether SQS queues are encrypted at rest with SSE-KMS or SSE-SQS (FSBP SQS.1).",
        (QUEUE,),
        _check_queue_encryption,
    ),
    resource_policy(
        "iam-policy-no-full-admin",
        "Prohibits IAM identity policies that allow every action on every resource (FSBP IAM.1).",
        IAM_POLICY_TYPES,
        _check_full_admin,
    ),
    resource_policy(
        "iam-policy-no-service-wildcards",
        "Prohibits IAM identity policies that allow every action of a service (FSBP IAM.21).",
        IAM_POLICY_TYPES,
        _check_service_wildcards,
    ),
    resource_policy(
        "iam-policy-no-decrypt-all-keys",
        "Prohibits IAM identity policies that allow kms:Decrypt or kms:ReEncryptFrom on every "
        "KMS key (FSBP KMS.1, KMS.2).",
        IAM_POLICY_TYPES,
        _check_decrypt_all_keys,
    ),
]
