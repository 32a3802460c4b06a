"""S3 buckets, AWS Backup plans and vaults, and protection of stateful resources."""

from collections.abc import Callable
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
    integer_setting,
    is_unknown,
    items,
    json_document,
    lookup,
    plain,
    property_check,
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

BucketTest = Callable[[PolicyResource, list[PolicyResource], Props], bool]


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
