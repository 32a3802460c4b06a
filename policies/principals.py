"""Service principals in trust, key, topic, queue and bucket policies: the confused-deputy guard.

AWS documents the cross-service confused deputy problem: a service principal allowed into a
role, key, topic, queue or bucket acts for every AWS customer unless the statement also limits
it to requests made for this account or one of its resources, with the global condition keys
`aws:SourceAccount` or `aws:SourceArn`
(https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html#cross-service-confused-deputy-prevention).

A few services do not set those keys on some calls (a guard there would refuse the service
itself); each is named in the stack's config, under `serviceExceptions`, with the reason. An
exception without a reason is refused: the principal is then reported like any other.

The same documents must not be public: an Allow to everyone (`"*"`, `{"AWS": "*"}`, or
`NotPrincipal`) needs a condition that pins the caller or the source to this account or
organization (`resource-policy-not-public`; FSBP SNS.4, SQS.3 and KMS.5, all newer than the
June 2023 Security Hub user guide (awsdocs/aws-security-hub-user-guide, commit 47bfe2f), and
S3.2/S3.3 for bucket policies, s3-controls.md of that guide).
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
    reason_for,
    reasons_setting,
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
ACCOUNT_KEYS = SOURCE_KEYS | {"aws:principalaccount", "aws:principalorgid"}
"""Keys that limit an Allow to everyone to this account's callers or sources (or organization)."""
PUBLIC_POLICY_PROPERTY = {
    "aws:kms/key:Key": "policy",
    "aws:sns/topic:Topic": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:sqs/queue:Queue": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:s3/bucket:Bucket": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
}
"""Resource policies that could make a key, topic, queue or bucket public: the separate policy
resources and the `policy` input of the resource itself."""
PUBLIC_CONTROLS = {
    "aws:kms/key:Key": "FSBP KMS.5",
    "aws:sns/topic:Topic": "FSBP SNS.4",
    "aws:sns/topicPolicy:TopicPolicy": "FSBP SNS.4",
    "aws:sqs/queue:Queue": "FSBP SQS.3",
    "aws:sqs/queuePolicy:QueuePolicy": "FSBP SQS.3",
    "aws:s3/bucket:Bucket": "FSBP S3.2/S3.3",
    "aws:s3/bucketPolicy:BucketPolicy": "FSBP S3.2/S3.3",
}
# Operators that require the key to be present and equal to (or match) the value: the negated
# ones and the ...IfExists ones pass a request that carries no source at all.
GUARDING_OPERATORS = frozenset({"stringequals", "stringlike", "arnequals", "arnlike"})

SCHEMA: ConfigSchema = {
    "serviceExceptions": reasons_setting(
        keys="'<service principal glob> in <resource type>' (e.g. 'logs.*.amazonaws.com in "
        "aws:kms/key:Key') that may go without aws:SourceAccount/aws:SourceArn in that kind of "
        "policy only"
    )
}


def is_guarded(statement: Mapping[str, Any], keys: frozenset[str] = SOURCE_KEYS) -> bool:
    """Whether the statement requires one of `keys` (lower case; by default aws:SourceAccount or
    aws:SourceArn) to match."""
    condition = lookup(statement, "Condition")
    if not isinstance(condition, Mapping):
        return False
    return any(
        operator.lower() in GUARDING_OPERATORS
        and isinstance(pairs, Mapping)
        and any(str(key).lower() in keys for key in pairs)
        for operator, pairs in condition.items()
    )


def _is_everyone(value: Any) -> bool:
    """Principal "*" or {"AWS": "*"} (alone or in a list)."""
    if value == "*":
        return True
    return isinstance(value, Mapping) and "*" in strings(value.get("AWS"))


def public_statements(document: Any) -> list[str]:
    """The Allow statements (by Sid, or position) open to everyone without an account guard."""
    found: list[str] = []
    for index, statement in enumerate(items(lookup(document, "Statement"))):
        if not isinstance(statement, Mapping) or lookup(statement, "Effect") != "Allow":
            continue
        public = "NotPrincipal" in statement or _is_everyone(lookup(statement, "Principal"))
        if public and not is_guarded(statement, ACCOUNT_KEYS):
            sid = statement.get("Sid")
            found.append(f"'{sid}'" if isinstance(sid, str) and sid else f"#{index + 1}")
    return found


EXCEPTION_SCOPE = " in "
"""An exception names the service and the kind of policy it is excepted in: a service AWS
documents as not setting the keys on one call (a key's grant) must still be guarded elsewhere."""


def exception_reason(service: str, resource_type: str, exceptions: Mapping[str, Any]) -> str | None:
    """The configured reason for `service` in `resource_type`'s policy ("" when an entry matches
    but names none)."""
    for key in exceptions:
        pattern, _, kind = key.partition(EXCEPTION_SCOPE)
        if kind == resource_type and fnmatch.fnmatchcase(service, pattern):
            return reason_for(exceptions, key)
    return None


def unscoped_exceptions(exceptions: Mapping[str, Any]) -> list[str]:
    """Exception keys that name no resource type of POLICY_PROPERTY after ' in '."""
    return [key for key in exceptions if key.partition(EXCEPTION_SCOPE)[2] not in POLICY_PROPERTY]


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
    for key in unscoped_exceptions(exceptions):
        report(
            f"The exception '{key}' names no policy kind: write '<service>{EXCEPTION_SCOPE}"
            f"<resource type>', one of {', '.join(POLICY_PROPERTY)}."
        )
    for service in unguarded_services(document):
        reason = exception_reason(service, args.resource_type, exceptions)
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


def _check_not_public(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    prop = PUBLIC_POLICY_PROPERTY[args.resource_type]
    document = json_document(lookup(props, prop))
    if document is None or is_unknown(document):
        return
    found = public_statements(document)
    if found:
        report(
            f"'{args.name}' {prop} allows everyone (Principal '*') in statement(s) "
            f"{', '.join(found)} without a StringEquals/ArnEquals (or Like) condition on "
            "aws:SourceAccount, aws:SourceArn, aws:PrincipalAccount or aws:PrincipalOrgID: name "
            f"the principals, or add the condition ({PUBLIC_CONTROLS[args.resource_type]})."
        )


POLICIES = [
    resource_policy(
        "service-principal-source-condition",
        "Checks whether every service principal allowed by a trust, key, topic, queue or bucket "
        "policy is limited by an aws:SourceAccount or aws:SourceArn condition.",
        tuple(POLICY_PROPERTY),
        _check,
        SCHEMA,
    ),
    resource_policy(
        "resource-policy-not-public",
        "Prohibits key, topic, queue and bucket policies that allow everyone without a condition "
        "limiting them to this account or organization (FSBP SNS.4, SQS.3, KMS.5, S3.2, S3.3).",
        tuple(PUBLIC_POLICY_PROPERTY),
        _check_not_public,
    ),
]
