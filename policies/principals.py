"""Service principals in trust, key, topic, queue and bucket policies: the confused-deputy guard.

AWS documents the cross-service confused deputy problem: a service principal allowed into a
role, key, topic, queue or bucket acts for every AWS customer unless the statement also limits
it to requests made for this account or one of its resources, with the global condition keys
`aws:SourceAccount` or `aws:SourceArn`
(https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html#cross-service-confused-deputy-prevention).

A few services do not set those keys on some calls (a guard there would refuse the service
itself); each is named in the stack's config, under `serviceExceptions`, with the reason. An
exception without a reason is refused: the principal is then reported like any other.
"""

import fnmatch
from collections.abc import Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs

from policies._props import (
    ConfigSchema,
    Props,
    Report,
    config_value,
    is_unknown,
    items,
    json_document,
    lookup,
    object_setting,
    resource_policy,
    strings,
)

POLICY_PROPERTY = {
    "aws:iam/role:Role": "assumeRolePolicy",
    "aws:kms/key:Key": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
}
SOURCE_KEYS = frozenset({"aws:sourceaccount", "aws:sourcearn"})
# Operators that require the key to be present and equal to (or match) the value: the negated
# ones and the ...IfExists ones pass a request that carries no source at all.
GUARDING_OPERATORS = frozenset({"stringequals", "stringlike", "arnequals", "arnlike"})

SCHEMA: ConfigSchema = {
    "serviceExceptions": object_setting(
        values={"type": "string", "minLength": 1, "pattern": "\\S"},
        description="Service principal (a glob, e.g. logs.*.amazonaws.com) -> why it may go "
        "without aws:SourceAccount/aws:SourceArn; an empty reason does not count.",
        default={},
    )
}


def is_guarded(statement: Mapping[str, Any]) -> bool:
    """Whether the statement requires aws:SourceAccount or aws:SourceArn to match."""
    condition = lookup(statement, "Condition")
    if not isinstance(condition, Mapping):
        return False
    return any(
        operator.lower() in GUARDING_OPERATORS
        and isinstance(pairs, Mapping)
        and any(str(key).lower() in SOURCE_KEYS for key in pairs)
        for operator, pairs in condition.items()
    )


def _exception_reason(service: str, exceptions: Mapping[str, Any]) -> str | None:
    """The configured reason for `service` ("" when an entry matches but names none)."""
    for pattern, reason in exceptions.items():
        if fnmatch.fnmatchcase(service, pattern):
            return reason.strip() if isinstance(reason, str) else ""
    return None


def unguarded_services(document: Any) -> list[str]:
    """The service principals of Allow statements without the source guard, in order."""
    found: list[str] = []
    for statement in items(lookup(document, "Statement")):
        if not isinstance(statement, Mapping) or lookup(statement, "Effect") != "Allow":
            continue
        principal = lookup(statement, "Principal")
        if not isinstance(principal, Mapping) or is_guarded(statement):
            continue
        found.extend(s for s in strings(principal.get("Service")) if s not in found)
    return found


def _check(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    prop = POLICY_PROPERTY[args.resource_type]
    document = json_document(lookup(props, prop))
    if document is None or is_unknown(document):
        return
    exceptions = config_value(args.get_config(), SCHEMA, "serviceExceptions") or {}
    for service in unguarded_services(document):
        reason = _exception_reason(service, exceptions)
        if reason:
            continue
        why = (
            f"its exception in the policy config names no reason ('{service}')"
            if reason == ""
            else "no exception in the policy config names it"
        )
        report(
            f"'{args.name}' {prop} allows the service principal '{service}' without an "
            "aws:SourceAccount or aws:SourceArn condition (the cross-service confused-deputy "
            f"guard), and {why}: add the condition (components/policy_documents.py "
            "source_conditions) or, where AWS documents the service does not set the keys, an "
            "exception with its reason."
        )


POLICIES = [
    resource_policy(
        "service-principal-source-condition",
        "Checks whether every service principal allowed by a trust, key, topic, queue or bucket "
        "policy is limited by an aws:SourceAccount or aws:SourceArn condition.",
        tuple(POLICY_PROPERTY),
        _check,
        SCHEMA,
    )
]
