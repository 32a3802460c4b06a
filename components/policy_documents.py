"""IAM and resource-policy JSON documents shared by the components.

Pure functions over plain strings: called inside `Output.apply` (or `Output.json_dumps`), never
creating resources, and tested without the Pulumi runtime.
"""

import json
from collections.abc import Sequence
from typing import Any

VERSION = "2012-10-17"


def document(statements: Sequence[dict[str, Any]]) -> str:
    return json.dumps({"Version": VERSION, "Statement": list(statements)}, sort_keys=True)


def allow(actions: Sequence[str], resources: Sequence[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": sorted(actions), "Resource": list(resources)}


def source_conditions(
    account_id: str | None = None, source_arn: str | None = None
) -> dict[str, Any]:
    """The cross-service confused-deputy guard: the `Condition` limiting a service principal to
    requests it makes for this account (`aws:SourceAccount`) and/or one resource
    (`aws:SourceArn`), as AWS documents it
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html).

    An ARN with a wildcard is matched with ArnLike, an exact one with ArnEquals.
    """
    if account_id is None and source_arn is None:
        raise ValueError("a source condition needs an account id or a source ARN")
    condition: dict[str, Any] = {}
    if account_id is not None:
        condition["StringEquals"] = {"aws:SourceAccount": account_id}
    if source_arn is not None:
        operator = "ArnLike" if "*" in source_arn else "ArnEquals"
        condition[operator] = {"aws:SourceArn": source_arn}
    return condition


def service_principal_statement(
    services: str | Sequence[str],
    actions: str | Sequence[str],
    *,
    account_id: str | None = None,
    source_arn: str | None = None,
    resource: str | Sequence[str] | None = None,
    sid: str | None = None,
) -> dict[str, Any]:
    """An Allow statement to one or more service principals, guarded by `source_conditions`."""
    statement: dict[str, Any] = {}
    if sid is not None:
        statement["Sid"] = sid
    statement["Effect"] = "Allow"
    statement["Principal"] = {
        "Service": services if isinstance(services, str) else sorted(services)
    }
    statement["Action"] = actions if isinstance(actions, str) else sorted(actions)
    if resource is not None:
        statement["Resource"] = resource if isinstance(resource, str) else list(resource)
    statement["Condition"] = source_conditions(account_id, source_arn)
    return statement


def assume_role_policy(service: str, account_id: str, source_arn: str | None = None) -> str:
    """Trust policy letting one AWS service principal assume the role, for this account only."""
    return document(
        [
            service_principal_statement(
                service, "sts:AssumeRole", account_id=account_id, source_arn=source_arn
            )
        ]
    )


def assume_role_policy_without_source_guard(service: str) -> str:
    """Trust policy for a service that does not document `aws:SourceAccount`/`aws:SourceArn`
    on assuming its role: callers say why next to the call, and the service is an exception,
    with that reason, in the `service-principal-source-condition` policy config."""
    return document(
        [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]
    )


def deny_insecure_transport(bucket_arn: str) -> dict[str, Any]:
    """Refuses every request to the bucket that does not arrive over TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def tls_only_bucket_policy(bucket_arn: str) -> str:
    return document([deny_insecure_transport(bucket_arn)])


def account_administers_key(account_id: str) -> dict[str, Any]:
    """The account administers the key and its IAM policies decide who uses it: KMS's default
    key policy statement, written out (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam)."""
    return {
        "Sid": "AccountAdministersKeyThroughIam",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def iam_governed_key_policy(account_id: str) -> str:
    """An explicit key policy for a key whose every user is granted through IAM (FSBP KMS.4's
    companion: no key left on an implicit policy). Service principals that need a grant of
    their own belong in the key's own builder (secrets_store.key_policy, alarm_topics)."""
    return document([account_administers_key(account_id)])
