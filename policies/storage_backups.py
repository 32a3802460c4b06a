"""S3 buckets, AWS Backup plans and vaults, and protection of stateful resources.

The bucket policies hold the AWS Security Hub controls (FSBP/CIS) of `AWS::S3::Bucket` that apply
to the buckets the program creates, as the Security Hub user guide defines them
(awsdocs/aws-security-hub-user-guide, doc_source/s3-controls.md, commit 47bfe2f, June 2023):

- S3.1/S3.8 (Block Public Access), S3.2/S3.3 (no public read/write):
  `s3-bucket-public-access-block`, `s3-public-access-block-all-enabled`;
- S3.4 (server-side encryption): `s3-bucket-encryption`; S3.17 (encrypted at rest with AWS KMS
  keys, a control newer than that snapshot): `s3-bucket-kms-encryption`, with reasoned exceptions;
- S3.5 (requests use SSL): `s3-bucket-tls-only`;
- S3.6 (permissions granted to other AWS accounts restricted):
  `s3-bucket-policy-cross-account-restricted`;
- S3.10/S3.13 (lifecycle policies): `s3-bucket-lifecycle-aborts-multipart`;
- S3.12 (no ACLs): `s3-bucket-owner-enforced`;
- S3.14 (versioning): `s3-bucket-versioning`.
"""

import fnmatch
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies._props import (
    UNKNOWN,
    ConfigSchema,
    Props,
    Report,
    boolean_setting,
    config_value,
    contains_unknown,
    integer_setting,
    is_unknown,
    items,
    json_document,
    lookup,
    plain,
    property_check,
    reason_for,
    reasons_setting,
    references,
    resource_policy,
    resources_of,
    stack_policy,
    string_list_setting,
    strings,
)

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION_TYPES = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
VERSIONING_TYPES = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
)
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LIFECYCLE_TYPES = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
OWNERSHIP_CONTROLS = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
ACL_TYPES = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
BACKUP_PLAN = "aws:backup/plan:Plan"
BACKUP_VAULT = "aws:backup/vault:Vault"
VAULT_LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"

PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)

STATEFUL_TYPES = [
    "aws:kms/key:Key",
    "aws:secretsmanager/secret:Secret",
    BACKUP_VAULT,
    *BUCKET_TYPES,
]

ENCRYPTION_SCHEMA: ConfigSchema = {
    "allowedSseAlgorithms": string_list_setting(
        description="Server-side encryption algorithms a bucket may use by default.",
        default=["aws:kms", "aws:kms:dsse", "AES256"],
    )
}
RETENTION_SCHEMA: ConfigSchema = {
    "retentionFloorDays": integer_setting(
        minimum=1,
        description="Fewest days a backup rule (and its copies) may keep recovery points.",
        default=35,
    )
}
COPY_SCHEMA: ConfigSchema = {
    "requireCrossRegionCopy": boolean_setting(
        description="Whether every backup rule must copy its recovery points to another region.",
        default=True,
    )
}
LOCK_SCHEMA: ConfigSchema = {
    "requireVaultLock": boolean_setting(
        description="Whether every backup vault must have a vault lock configuration.",
        default=True,
    )
}
PROTECT_SCHEMA: ConfigSchema = {
    "statefulTypes": string_list_setting(
        description="Resource types that hold state and must be created with protect=True.",
        default=STATEFUL_TYPES,
    )
}

LIFECYCLE_SCHEMA: ConfigSchema = {
    "maxDaysAfterInitiation": integer_setting(
        minimum=1,
        description="Most days after initiation a bucket's lifecycle may leave an incomplete "
        "multipart upload before aborting it.",
        default=7,
    )
}
KMS_SCHEMA: ConfigSchema = {
    "sseS3Buckets": reasons_setting(
        keys="Bucket logical name that may be encrypted with SSE-S3 (AES256), not a KMS key"
    )
}

BucketTest = Callable[[PolicyResource, list[PolicyResource], Props], bool]
BucketProblems = Callable[[PolicyResource, list[PolicyResource], Props], list[str]]


def _companions(
    args: StackValidationArgs, bucket: PolicyResource, types: tuple[str, ...]
) -> list[PolicyResource]:
    return [r for r in resources_of(args, *types) if references(r, "bucket", bucket)]


def _bucket_stack_policy(
    name: str,
    description: str,
    companion_types: tuple[str, ...],
    test: BucketTest,
    *,
    fix: str,
    schema: ConfigSchema | None = None,
) -> StackValidationPolicy:
    """A stack policy checking each bucket against its inline props and its companion resources."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for bucket in resources_of(args, *BUCKET_TYPES):
            companions = _companions(args, bucket, companion_types)
            if not test(bucket, companions, args.get_config()):
                report(f"Bucket '{bucket.name}' ({bucket.urn}): {fix}", bucket.urn)

    return stack_policy(name, description, validate, schema)


def _bucket_problems_policy(
    name: str,
    description: str,
    companion_types: tuple[str, ...],
    problems: BucketProblems,
    *,
    schema: ConfigSchema | None = None,
) -> StackValidationPolicy:
    """A stack policy reporting, for each bucket, each problem `problems` finds with its inline
    props and its companion resources (an empty list: the bucket complies)."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for bucket in resources_of(args, *BUCKET_TYPES):
            companions = _companions(args, bucket, companion_types)
            for problem in problems(bucket, companions, args.get_config()):
                report(f"Bucket '{bucket.name}' ({bucket.urn}): {problem}", bucket.urn)

    return stack_policy(name, description, validate, schema)


def _has_public_access_block(
    _bucket: PolicyResource, blocks: list[PolicyResource], _c: Props
) -> bool:
    return bool(blocks)


def _sse_algorithms(bucket: PolicyResource, configurations: list[PolicyResource]) -> list[Any]:
    inline = lookup(
        plain(bucket.props),
        "serverSideEncryptionConfiguration",
        "rule",
        "applyServerSideEncryptionByDefault",
        "sseAlgorithm",
    )
    algorithms = [] if inline is None else [inline]
    for configuration in configurations:
        for rule in items(lookup(plain(configuration.props), "rules")):
            algorithms.append(lookup(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm"))
    return algorithms


def _is_encrypted(
    bucket: PolicyResource, configurations: list[PolicyResource], config: Props
) -> bool:
    allowed = config_value(config, ENCRYPTION_SCHEMA, "allowedSseAlgorithms")
    algorithms = _sse_algorithms(bucket, configurations)
    return any(is_unknown(a) or a in allowed for a in algorithms)


def _is_versioned(bucket: PolicyResource, versionings: list[PolicyResource], _c: Props) -> bool:
    inline = lookup(plain(bucket.props), "versioning", "enabled")
    statuses = [lookup(plain(v.props), "versioningConfiguration", "status") for v in versionings]
    return any(is_unknown(s) or s in (True, "Enabled") for s in [*statuses, inline])


def _denies_insecure_transport(statement: Any) -> bool:
    secure_transport = lookup(statement, "Condition", "Bool", "aws:SecureTransport")
    principal = lookup(statement, "Principal")
    actions = strings(lookup(statement, "Action"))
    return (
        lookup(statement, "Effect") == "Deny"
        and str(secure_transport).lower() == "false"
        and (principal == "*" or lookup(principal, "AWS") in ("*", ["*"]))
        and any(action in ("s3:*", "*") for action in actions)
    )


def _is_tls_only(bucket: PolicyResource, policies: list[PolicyResource], _c: Props) -> bool:
    documents = [json_document(lookup(plain(p.props), "policy")) for p in policies]
    documents.append(json_document(lookup(plain(bucket.props), "policy")))
    if any(document is UNKNOWN for document in documents):
        return True
    return any(
        _denies_insecure_transport(statement)
        for document in documents
        for statement in items(lookup(document, "Statement"))
    )


def _inline(bucket: PolicyResource, companions: list[PolicyResource], prop: str) -> Any:
    """A bucket's own (deprecated) setting `prop`, read only when no companion resource manages
    it: the provider also computes these props from the bucket's state, so once a companion
    exists the bucket's copy may be a stale mirror (e.g. the SSE-S3 default S3 applied at
    creation, before the companion's configuration)."""
    return None if companions else lookup(plain(bucket.props), prop)


# --- S3.10 / S3.13: lifecycle, with incomplete multipart uploads aborted ----------------------


def _is_empty(value: Any) -> bool:
    """Whether a filter (or a part of one) selects nothing narrower than every object."""
    if value is None or value in ("", [], {}):
        return True
    if isinstance(value, Mapping):
        return all(_is_empty(item) for item in value.values())
    return False


def _rule_scope(rule: Any) -> Any:
    """None when a lifecycle rule covers every object, else what narrows it (UNKNOWN: unknown)."""
    narrowing = {"prefix": lookup(rule, "prefix"), "filter": lookup(rule, "filter")}
    if any(value is UNKNOWN or contains_unknown(value) for value in narrowing.values()):
        return UNKNOWN
    narrowed = {key: value for key, value in narrowing.items() if not _is_empty(value)}
    return narrowed or None


def _abort_rule_problem(rule: Any, max_days: int) -> str | None:
    """Why a lifecycle rule (BucketLifecycleConfiguration's shape) does not abort incomplete
    multipart uploads of every object within `max_days`; None when it does or is unknown."""
    status = lookup(rule, "status")
    days = lookup(rule, "abortIncompleteMultipartUpload", "daysAfterInitiation")
    scope = _rule_scope(rule)
    if any(is_unknown(value) for value in (status, days, scope)):
        return None
    name = f"rule '{lookup(rule, 'id')}'"
    if days is None:
        return f"{name} sets no abortIncompleteMultipartUpload"
    if status != "Enabled":
        return f"{name} is {status or 'not Enabled'}"
    if scope is not None:
        return f"{name} applies only to {scope}, not to every object"
    if not isinstance(days, int | float) or days > max_days:
        return f"{name} aborts after {days} days, more than {max_days}"
    return None


def _inline_rule(rule: Any) -> dict[str, Any]:
    """A Bucket's inline `lifecycleRules` entry in BucketLifecycleConfiguration's shape."""
    enabled = lookup(rule, "enabled")
    return {
        "id": lookup(rule, "id"),
        "status": UNKNOWN if is_unknown(enabled) else ("Enabled" if enabled else "Disabled"),
        "prefix": lookup(rule, "prefix"),
        "filter": {"tags": lookup(rule, "tags")},
        "abortIncompleteMultipartUpload": {
            "daysAfterInitiation": lookup(rule, "abortIncompleteMultipartUploadDays")
        },
    }


def _lifecycle_problems(
    bucket: PolicyResource, configurations: list[PolicyResource], config: Props
) -> list[str]:
    max_days = config_value(config, LIFECYCLE_SCHEMA, "maxDaysAfterInitiation")
    rule_lists = [lookup(plain(c.props), "rules") for c in configurations]
    inline = _inline(bucket, configurations, "lifecycleRules")
    if inline not in (None, []):
        rule_lists.append(
            inline if inline is UNKNOWN else [_inline_rule(rule) for rule in items(inline)]
        )
    fix = (
        "an enabled rule with an empty filter (every object) setting "
        f"abortIncompleteMultipartUpload.daysAfterInitiation to at most {max_days} "
        "(components/s3_buckets.py abort_incomplete_uploads_rule; Security Hub S3.10, S3.13)."
    )
    if not rule_lists:
        return [
            "it has no lifecycle configuration: add an aws.s3.BucketLifecycleConfiguration "
            f"with {fix}"
        ]
    if any(rules is UNKNOWN for rules in rule_lists):
        return []
    reasons = [_abort_rule_problem(rule, max_days) for rules in rule_lists for rule in items(rules)]
    if any(reason is None for reason in reasons):
        return []
    aborting = [r for r in reasons if r and "sets no abortIncompleteMultipartUpload" not in r]
    detail = f" ({'; '.join(aborting)})" if aborting else ""
    return [
        "its lifecycle configuration never aborts incomplete multipart uploads of every object "
        f"within {max_days} days{detail}: add {fix}"
    ]


# --- S3.12: ACLs disabled --------------------------------------------------------------------


def _ownership_problems(
    bucket: PolicyResource, companions: list[PolicyResource], _c: Props
) -> list[str]:
    props = plain(bucket.props)
    problems: list[str] = []
    acl = lookup(props, "acl")
    if not is_unknown(acl) and acl not in (None, "", "private"):
        problems.append(f"it sets the canned ACL '{acl}'; remove it (ACLs disabled)")
    # Not `grants`: the provider computes it from the bucket's ACL, which always names the owner.
    for acl_resource in (c for c in companions if c.resource_type in ACL_TYPES):
        problems.append(
            f"the ACL resource '{acl_resource.name}' manages its access; remove it (ACLs disabled)"
        )
    controls = [c for c in companions if c.resource_type == OWNERSHIP_CONTROLS]
    ownerships = [lookup(plain(c.props), "rule", "objectOwnership") for c in controls]
    if any(is_unknown(o) for o in ownerships) or "BucketOwnerEnforced" in ownerships:
        return problems
    found = (
        f"object ownership is {', '.join(repr(o) for o in ownerships)}"
        if controls
        else ("it has no aws.s3.BucketOwnershipControls")
    )
    problems.append(
        f"{found}, so ACLs still manage access: add ownership controls with rule.objectOwnership "
        "'BucketOwnerEnforced' (ACLs disabled; Security Hub S3.12)"
    )
    return problems


# --- S3.17: encrypted at rest with a KMS key --------------------------------------------------

KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
SSE_S3 = "AES256"


def _encryption_defaults(bucket: PolicyResource, configurations: list[PolicyResource]) -> list[Any]:
    """Each applyServerSideEncryptionByDefault of the bucket (inline and its configurations)."""
    inline = lookup(
        _inline(bucket, configurations, "serverSideEncryptionConfiguration"),
        "rule",
        "applyServerSideEncryptionByDefault",
    )
    defaults = [] if inline is None else [inline]
    for configuration in configurations:
        rules = lookup(plain(configuration.props), "rules")
        if rules is UNKNOWN:
            defaults.append(UNKNOWN)
        for rule in items(rules):
            defaults.append(lookup(rule, "applyServerSideEncryptionByDefault"))
    return defaults


def _sse_s3_reason(bucket: PolicyResource, config: Props) -> str | None:
    """The configured reason the bucket may use SSE-S3 ("" when its entry names none)."""
    return reason_for(config_value(config, KMS_SCHEMA, "sseS3Buckets") or {}, bucket.name)


def _kms_problems(
    bucket: PolicyResource, configurations: list[PolicyResource], config: Props
) -> list[str]:
    # A bucket with no default encryption at all is `s3-bucket-encryption`'s (S3.4) to report.
    problems: list[str] = []
    for default in _encryption_defaults(bucket, configurations):
        algorithm = lookup(default, "sseAlgorithm")
        key = lookup(default, "kmsMasterKeyId")
        if is_unknown(algorithm) or is_unknown(key):
            continue
        if algorithm in KMS_ALGORITHMS:
            if not key:
                problems.append(
                    f"its default encryption {algorithm} names no kmsMasterKeyId (the AWS "
                    "managed aws/s3 key): name the stack's customer managed key"
                )
            continue
        if algorithm == SSE_S3:
            reason = _sse_s3_reason(bucket, config)
            if reason:
                continue
            why = (
                f"its sseS3Buckets entry '{bucket.name}' in the policy config names no reason"
                if reason == ""
                else "no sseS3Buckets entry in the policy config names it"
            )
        else:
            why = "that is not a KMS algorithm"
        problems.append(
            f"its default encryption is {algorithm!r} and {why}: encrypt with aws:kms (or "
            "aws:kms:dsse) and a KMS key, or, where the writer supports only SSE-S3, add an "
            "sseS3Buckets entry with the reason (Security Hub S3.17)"
        )
    return problems


# --- S3.6: sensitive actions not granted to other accounts ------------------------------------

SENSITIVE_ACTIONS = (
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutBucketPolicy",
    "s3:PutEncryptionConfiguration",
    "s3:PutObjectAcl",
)
"""The control's `blacklistedactionpatterns` (Security Hub S3.6, AWS Config rule
s3-bucket-blacklisted-actions-prohibited)."""
OWN_ARN_TYPES = (
    "aws:kms/key:Key",
    "aws:iam/role:Role",
    "aws:sns/topic:Topic",
    "aws:sqs/queue:Queue",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:secretsmanager/secret:Secret",
    "aws:ecr/repository:Repository",
    "aws:backup/vault:Vault",
    "aws:lb/loadBalancer:LoadBalancer",
)
"""Types whose `arn` is the resource's own (an output): the account in it is the stack's."""
_ACCOUNT_ID = re.compile(r"^\d{12}$")


def _arn_account(arn: Any) -> str | None:
    parts = arn.split(":") if isinstance(arn, str) and not is_unknown(arn) else []
    return (
        parts[4] if len(parts) > 5 and parts[0] == "arn" and _ACCOUNT_ID.match(parts[4]) else None
    )


def stack_accounts(args: StackValidationArgs) -> set[str]:
    """The accounts the stack's own resources live in, read from their ARNs (outputs); empty
    when none is known yet (a first preview)."""
    found = (
        _arn_account(lookup(plain(r.props), "arn")) for r in resources_of(args, *OWN_ARN_TYPES)
    )
    return {account for account in found if account}


def _principal_account(value: str) -> str | None:
    """The account of an AWS principal (an account id or an IAM/STS ARN); None if not one."""
    return value if _ACCOUNT_ID.match(value) else _arn_account(value)


def _other_account_principals(statement: Mapping[str, Any], own: set[str]) -> list[str]:
    """The principals of an Allow statement that belong to other accounts: "*" (anyone) always,
    account ids and ARNs of accounts not in `own` (when `own` is known), canonical users (their
    account cannot be told). Conditions are not considered, as the control does not."""
    if "NotPrincipal" in statement:
        return ["NotPrincipal (everyone else)"]
    principal = lookup(statement, "Principal")
    if principal == "*":
        return ["*"]
    if not isinstance(principal, Mapping):
        return []
    found: list[str] = []
    for value in strings(principal.get("AWS")):
        account = _principal_account(value)
        if value == "*" or (own and account is not None and account not in own):
            found.append(value)
    found.extend(f"CanonicalUser {value}" for value in strings(principal.get("CanonicalUser")))
    return found


def _matches(action: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in patterns)


def sensitive_actions(statement: Mapping[str, Any]) -> list[str]:
    """The S3.6 actions a statement's Action (or NotAction) covers, wildcards included."""
    if "NotAction" in statement:
        excluded = strings(lookup(statement, "NotAction"))
        return [a for a in SENSITIVE_ACTIONS if not _matches(a, excluded)]
    actions = strings(lookup(statement, "Action"))
    return [a for a in SENSITIVE_ACTIONS if _matches(a, actions)]


def _policy_documents(
    bucket: PolicyResource, policies: list[PolicyResource]
) -> Iterator[tuple[str, Any]]:
    yield from ((p.name, json_document(lookup(plain(p.props), "policy"))) for p in policies)
    inline = _inline(bucket, policies, "policy")
    if inline is not None:
        yield bucket.name, json_document(inline)


def _check_cross_account(args: StackValidationArgs, report: ReportViolation) -> None:
    own = stack_accounts(args)
    for bucket in resources_of(args, *BUCKET_TYPES):
        policies = _companions(args, bucket, (BUCKET_POLICY,))
        for policy_name, document in _policy_documents(bucket, policies):
            if document is UNKNOWN or contains_unknown(document):
                continue
            for index, statement in enumerate(items(lookup(document, "Statement"))):
                if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
                    continue
                principals = _other_account_principals(statement, own)
                actions = sensitive_actions(statement)
                if not principals or not actions:
                    continue
                sid = statement.get("Sid") or f"#{index}"
                report(
                    f"Bucket '{bucket.name}' ({bucket.urn}): its bucket policy '{policy_name}' "
                    f"statement {sid} allows {', '.join(actions)} to "
                    f"{', '.join(principals)}, principals of other AWS accounts (Security Hub "
                    "S3.6): remove those actions from the statement, or the principals.",
                    bucket.urn,
                )


def _check_public_access_flags(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    off = [
        flag
        for flag in PUBLIC_ACCESS_FLAGS
        if lookup(props, flag) is not True and not is_unknown(lookup(props, flag))
    ]
    if off:
        report(f"Public access block '{args.name}' must set {', '.join(off)} to true.")


def _rule_retentions(rule: Any) -> list[Any]:
    """deleteAfter of a rule and of each of its copies; None means kept forever."""
    retentions = [lookup(rule, "lifecycle", "deleteAfter")]
    retentions += [
        lookup(copy, "lifecycle", "deleteAfter") for copy in items(lookup(rule, "copyActions"))
    ]
    return retentions


def _check_retention_floor(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    floor = config_value(args.get_config(), RETENTION_SCHEMA, "retentionFloorDays")
    for rule in items(lookup(props, "rules")):
        short = [r for r in _rule_retentions(rule) if isinstance(r, int | float) and r < floor]
        if short:
            report(
                f"Backup plan '{args.name}' rule '{lookup(rule, 'ruleName')}' keeps recovery "
                "points "
                f"{int(min(short))} days; set lifecycle.deleteAfter (and its copies') to at "
                f"least {floor}."
            )


def _arn_region(arn: Any) -> str | None:
    parts = arn.split(":") if isinstance(arn, str) and not is_unknown(arn) else []
    return parts[3] if len(parts) > 5 and parts[0] == "arn" else None


def _check_cross_region_copy(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    if not config_value(args.get_config(), COPY_SCHEMA, "requireCrossRegionCopy"):
        return
    home_region = lookup(plain(args.provider.props), "region") if args.provider else None
    for rule in items(lookup(props, "rules")):
        copies = lookup(rule, "copyActions")
        if copies is UNKNOWN:
            continue
        destinations = [lookup(copy, "destinationVaultArn") for copy in items(copies)]
        if any(is_unknown(destination) for destination in destinations):
            continue
        regions = [_arn_region(destination) for destination in destinations]
        if not any(region and region != home_region for region in regions):
            report(
                f"Backup plan '{args.name}' rule '{lookup(rule, 'ruleName')}' must add a "
                "copyActions entry whose destinationVaultArn is a vault in another region."
            )


_check_vault_key = property_check(
    "Backup vault", "kmsKeyArn", bool, "to a customer managed KMS key"
)


def _check_vault_locks(args: StackValidationArgs, report: ReportViolation) -> None:
    if not config_value(args.get_config(), LOCK_SCHEMA, "requireVaultLock"):
        return
    locks = list(resources_of(args, VAULT_LOCK))
    for vault in resources_of(args, BACKUP_VAULT):
        if not any(references(lock, "backupVaultName", vault) for lock in locks):
            report(
                f"Backup vault '{vault.name}' ({vault.urn}) needs an "
                "aws.backup.VaultLockConfiguration whose backupVaultName is this vault.",
                vault.urn,
            )


def _check_protected(_props: Props, args: ResourceValidationArgs, report: Report) -> None:
    stateful = config_value(args.get_config(), PROTECT_SCHEMA, "statefulTypes")
    if args.resource_type in stateful and not args.opts.protect:
        report(
            f"'{args.name}' holds state; create it with ResourceOptions(protect=True) "
            "(driven by stack config) so it cannot be deleted by an update."
        )


POLICIES = [
    _bucket_stack_policy(
        "s3-bucket-public-access-block",
        "Checks whether every S3 bucket has a public access block resource.",
        (PUBLIC_ACCESS_BLOCK,),
        _has_public_access_block,
        fix="add an aws.s3.BucketPublicAccessBlock for it with all four flags true.",
    ),
    resource_policy(
        "s3-public-access-block-all-enabled",
        "Checks whether S3 public access blocks turn on all four blocking flags.",
        (PUBLIC_ACCESS_BLOCK,),
        _check_public_access_flags,
    ),
    _bucket_stack_policy(
        "s3-bucket-encryption",
        "Checks whether every S3 bucket has a default server-side encryption configuration.",
        ENCRYPTION_TYPES,
        _is_encrypted,
        fix="add an aws.s3.BucketServerSideEncryptionConfiguration with an allowed sseAlgorithm "
        "(aws:kms with the platform key).",
        schema=ENCRYPTION_SCHEMA,
    ),
    _bucket_stack_policy(
        "s3-bucket-versioning",
        "Checks whether every S3 bucket has versioning enabled.",
        VERSIONING_TYPES,
        _is_versioned,
        fix="add an aws.s3.BucketVersioning with versioningConfiguration.status 'Enabled'.",
    ),
    _bucket_stack_policy(
        "s3-bucket-tls-only",
        "Checks whether every S3 bucket policy denies requests made without TLS.",
        (BUCKET_POLICY,),
        _is_tls_only,
        fix="add an aws.s3.BucketPolicy statement denying s3:* to '*' when "
        "aws:SecureTransport is false.",
    ),
    _bucket_problems_policy(
        "s3-bucket-kms-encryption",
        "Checks whether every S3 bucket's default encryption uses a KMS key unless the stack "
        "records why the bucket may use SSE-S3.",
        ENCRYPTION_TYPES,
        _kms_problems,
        schema=KMS_SCHEMA,
    ),
    _bucket_problems_policy(
        "s3-bucket-lifecycle-aborts-multipart",
        "Checks whether every S3 bucket has a lifecycle rule over every object that aborts "
        "incomplete multipart uploads.",
        LIFECYCLE_TYPES,
        _lifecycle_problems,
        schema=LIFECYCLE_SCHEMA,
    ),
    _bucket_problems_policy(
        "s3-bucket-owner-enforced",
        "Checks whether every S3 bucket disables ACLs with BucketOwnerEnforced object ownership.",
        (OWNERSHIP_CONTROLS, *ACL_TYPES),
        _ownership_problems,
    ),
    stack_policy(
        "s3-bucket-policy-cross-account-restricted",
        "Prohibits S3 bucket policies from allowing principals of other AWS accounts to change "
        "the bucket's policy, ACLs or encryption.",
        _check_cross_account,
    ),
    resource_policy(
        "backup-plan-retention-floor",
        "Checks whether backup rules keep recovery points at least the stack's retention floor.",
        (BACKUP_PLAN,),
        _check_retention_floor,
        RETENTION_SCHEMA,
    ),
    resource_policy(
        "backup-cross-region-copy",
        "Checks whether backup rules copy recovery points to another region where the stack asks.",
        (BACKUP_PLAN,),
        _check_cross_region_copy,
        COPY_SCHEMA,
    ),
    resource_policy(
        "backup-vault-encrypted",
        "Checks whether backup vaults are encrypted with a customer managed KMS key.",
        (BACKUP_VAULT,),
        _check_vault_key,
    ),
    stack_policy(
        "backup-vault-locked",
        "Checks whether every backup vault has a vault lock where the stack asks for one.",
        _check_vault_locks,
        LOCK_SCHEMA,
    ),
    resource_policy(
        "stateful-resources-protected",
        "Checks whether stateful resources (keys, secrets, backup vaults, buckets) are protected "
        "from deletion.",
        None,
        _check_protected,
        PROTECT_SCHEMA,
    ),
]
