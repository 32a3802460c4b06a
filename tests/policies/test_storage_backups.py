import json
from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_ARRAY_VALUE, UNKNOWN_STRING_VALUE

from policies.evaluate import load_policy_config
from tests.policies.conftest import KEY_ARN, aws_provider, stack_resource

BUCKET = "aws:s3/bucket:Bucket"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
ACL = "aws:s3/bucketAclV2:BucketAclV2"
PLAN = "aws:backup/plan:Plan"
VAULT = "aws:backup/vault:Vault"
VAULT_LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"

TLS_ONLY_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::miko-dumps", "arn:aws:s3:::miko-dumps/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
)
ABORT_RULE = {
    "id": "abort-incomplete-uploads",
    "status": "Enabled",
    "filter": {"prefix": ""},
    "abortIncompleteMultipartUpload": {"daysAfterInitiation": 1},
}
ALL_BLOCKED = {
    "blockPublicAcls": True,
    "blockPublicPolicy": True,
    "ignorePublicAcls": True,
    "restrictPublicBuckets": True,
}


def bucket_with(*companions):
    """A bucket plus companion resources pointing at it (by value and by property dependency)."""
    bucket = stack_resource(BUCKET, {"bucket": "miko-dumps"}, name="dumps")
    resources = [bucket]
    for resource_type, props in companions:
        resources.append(
            stack_resource(
                resource_type,
                {"bucket": "miko-dumps", **props},
                name=f"dumps-{len(resources)}",
                depends_on={"bucket": [bucket]},
            )
        )
    return resources


COMPLETE = [
    (PAB, ALL_BLOCKED),
    (
        SSE,
        {
            "rules": [
                {
                    "applyServerSideEncryptionByDefault": {
                        "sseAlgorithm": "aws:kms",
                        "kmsMasterKeyId": KEY_ARN,
                    }
                }
            ]
        },
    ),
    (VERSIONING, {"versioningConfiguration": {"status": "Enabled"}}),
    (BUCKET_POLICY, {"policy": TLS_ONLY_POLICY}),
    (OWNERSHIP, {"rule": {"objectOwnership": "BucketOwnerEnforced"}}),
    (LIFECYCLE, {"rules": [ABORT_RULE]}),
]
BUCKET_POLICIES = [
    "s3-bucket-public-access-block",
    "s3-bucket-encryption",
    "s3-bucket-versioning",
    "s3-bucket-tls-only",
]


@pytest.mark.parametrize("policy_name", BUCKET_POLICIES)
def test_fully_configured_bucket_passes(run_stack, policy_name):
    assert run_stack(policy_name, bucket_with(*COMPLETE)) == []


@pytest.mark.parametrize(
    ("policy_name", "missing"),
    list(zip(BUCKET_POLICIES, [PAB, SSE, VERSIONING, BUCKET_POLICY], strict=True)),
)
def test_bucket_missing_its_companion_is_reported_by_urn(run_stack, policy_name, missing):
    resources = bucket_with(*[c for c in COMPLETE if c[0] != missing])
    reported = run_stack(policy_name, resources)
    assert len(reported) == 1
    message, urn = reported[0]
    assert urn == resources[0].urn
    assert resources[0].urn in message


def test_companion_found_by_value_without_dependencies(run_stack):
    bucket = stack_resource(BUCKET, {"bucket": "miko-dumps"}, name="dumps")
    block = stack_resource(PAB, {"bucket": "miko-dumps", **ALL_BLOCKED}, name="dumps-pab")
    other = stack_resource(PAB, {"bucket": "someone-else", **ALL_BLOCKED}, name="other-pab")
    assert run_stack("s3-bucket-public-access-block", [bucket, block]) == []
    assert run_stack("s3-bucket-public-access-block", [bucket, other])


@pytest.mark.parametrize(
    ("policy_name", "companion"),
    [
        (
            "s3-bucket-encryption",
            (SSE, {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}),
        ),
        (
            "s3-bucket-versioning",
            (VERSIONING, {"versioningConfiguration": {"status": "Suspended"}}),
        ),
        (
            "s3-bucket-tls-only",
            (BUCKET_POLICY, {"policy": TLS_ONLY_POLICY.replace("Deny", "Allow")}),
        ),
    ],
)
def test_weak_companion_is_reported(run_stack, policy_name, companion):
    config = {"allowedSseAlgorithms": ["aws:kms"]}
    assert run_stack(policy_name, bucket_with(companion), config)


def test_stack_without_buckets_has_nothing_to_report(run_stack):
    assert all(run_stack(name, []) == [] for name in BUCKET_POLICIES)


def test_public_access_block_flags(run_resource):
    assert run_resource("s3-public-access-block-all-enabled", PAB, ALL_BLOCKED) == []
    messages = run_resource(
        "s3-public-access-block-all-enabled", PAB, {**ALL_BLOCKED, "restrictPublicBuckets": False}
    )
    assert messages
    assert "restrictPublicBuckets" in messages[0]


def plan(
    delete_after=35,
    copy_to="arn:aws:backup:eu-central-1:123456789012:backup-vault:miko-copy",
    copy_delete_after=35,
):
    rule: dict[str, Any] = {
        "ruleName": "daily",
        "targetVaultName": "miko",
        "schedule": "cron(0 3 * * ? *)",
        "lifecycle": {"deleteAfter": delete_after},
    }
    if copy_to:
        rule["copyActions"] = [
            {"destinationVaultArn": copy_to, "lifecycle": {"deleteAfter": copy_delete_after}}
        ]
    return {"name": "miko", "rules": [rule]}


def test_plan_keeping_backups_long_enough_passes(run_resource):
    assert (
        run_resource(
            "backup-plan-retention-floor", PLAN, plan(), config={"retentionFloorDays": 35.0}
        )
        == []
    )


@pytest.mark.parametrize("props", [plan(delete_after=7), plan(copy_delete_after=14)])
def test_plan_below_retention_floor_is_reported(run_resource, props):
    messages = run_resource(
        "backup-plan-retention-floor", PLAN, props, config={"retentionFloorDays": 35}
    )
    assert messages
    assert "at least 35" in messages[0]


HOME = aws_provider({"region": "eu-west-1"})


def test_plan_copying_to_another_region_passes(run_resource):
    assert run_resource("backup-cross-region-copy", PLAN, plan(), provider=HOME) == []


@pytest.mark.parametrize(
    "copy_to", [None, "arn:aws:backup:eu-west-1:123456789012:backup-vault:same-region"]
)
def test_plan_without_cross_region_copy_is_reported(run_resource, copy_to):
    assert run_resource("backup-cross-region-copy", PLAN, plan(copy_to=copy_to), provider=HOME)


def test_cross_region_copy_only_where_the_stack_asks(run_resource):
    config = {"requireCrossRegionCopy": False}
    assert (
        run_resource(
            "backup-cross-region-copy", PLAN, plan(copy_to=None), provider=HOME, config=config
        )
        == []
    )


def test_vault_encryption(run_resource):
    assert run_resource("backup-vault-encrypted", VAULT, {"kmsKeyArn": KEY_ARN}) == []
    assert run_resource("backup-vault-encrypted", VAULT, {"name": "miko"})


def vault_and_lock(with_lock):
    vault = stack_resource(VAULT, {"name": "miko", "kmsKeyArn": KEY_ARN}, name="vault")
    if not with_lock:
        return [vault]
    lock = stack_resource(
        VAULT_LOCK,
        {"backupVaultName": "miko", "minRetentionDays": 35},
        name="vault-lock",
        depends_on={"backupVaultName": [vault]},
    )
    return [vault, lock]


def test_locked_vault_passes(run_stack):
    assert run_stack("backup-vault-locked", vault_and_lock(with_lock=True)) == []


def test_vault_without_lock_is_reported_by_urn(run_stack):
    resources = vault_and_lock(with_lock=False)
    reported = run_stack("backup-vault-locked", resources)
    assert [urn for _, urn in reported] == [resources[0].urn]
    assert run_stack("backup-vault-locked", resources, {"requireVaultLock": False}) == []


@pytest.mark.parametrize(
    "resource_type", ["aws:kms/key:Key", "aws:secretsmanager/secret:Secret", VAULT, BUCKET]
)
def test_stateful_resource_must_be_protected(run_resource, resource_type):
    assert run_resource("stateful-resources-protected", resource_type, {}, protect=True) == []
    assert run_resource("stateful-resources-protected", resource_type, {}, protect=False)


def test_stateless_resource_needs_no_protection(run_resource):
    assert run_resource("stateful-resources-protected", "aws:ecs/service:Service", {}) == []


# --- Security Hub S3.6, S3.10/S3.13, S3.12, S3.17 ----------------------------------------------
# The controls as the Security Hub user guide defines them (awsdocs/aws-security-hub-user-guide,
# doc_source/s3-controls.md at 47bfe2f); S3.17 is newer than that snapshot.

SECURITY_HUB_POLICIES = [
    "s3-bucket-lifecycle-aborts-multipart",
    "s3-bucket-owner-enforced",
    "s3-bucket-kms-encryption",
    "s3-bucket-policy-cross-account-restricted",
]


def replaced(resource_type, props):
    """COMPLETE with the companion of `resource_type` replaced by `props` (None: removed)."""
    kept = [c for c in COMPLETE if c[0] != resource_type]
    return bucket_with(*kept, *([(resource_type, props)] if props is not None else []))


def only_report(reported, resources):
    """The one (message, urn) reported, checked to name the bucket by name and URN."""
    assert len(reported) == 1, reported
    message, urn = reported[0]
    assert urn == resources[0].urn
    assert "Bucket 'dumps'" in message
    assert resources[0].urn in message
    return message


@pytest.mark.parametrize("policy_name", SECURITY_HUB_POLICIES)
def test_fully_configured_bucket_passes_the_security_hub_policies(run_stack, policy_name):
    assert run_stack(policy_name, bucket_with(*COMPLETE)) == []


@pytest.mark.parametrize("policy_name", SECURITY_HUB_POLICIES)
def test_stack_without_buckets_has_nothing_to_report_to_security_hub(run_stack, policy_name):
    assert run_stack(policy_name, []) == []


# S3.10 / S3.13: a lifecycle configuration that aborts incomplete multipart uploads.


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({**ABORT_RULE, "status": "Disabled"}, "is Disabled"),
        ({**ABORT_RULE, "filter": {"prefix": "dumps/"}}, "applies only to"),
        ({**ABORT_RULE, "filter": {"and": {"tags": {"a": "b"}}}}, "not to every object"),
        ({**ABORT_RULE, "prefix": "logs/"}, "applies only to"),
        (
            {**ABORT_RULE, "abortIncompleteMultipartUpload": {"daysAfterInitiation": 30}},
            "aborts after 30 days, more than 7",
        ),
        (
            {"id": "expire", "status": "Enabled", "expiration": {"days": 30}},
            "never aborts incomplete multipart uploads",
        ),
    ],
)
def test_lifecycle_without_an_abort_rule_over_every_object_is_reported(run_stack, rule, problem):
    resources = replaced(LIFECYCLE, {"rules": [rule]})
    message = only_report(run_stack("s3-bucket-lifecycle-aborts-multipart", resources), resources)
    assert problem in message
    assert "S3.13" in message


def test_bucket_without_lifecycle_is_reported(run_stack):
    resources = replaced(LIFECYCLE, None)
    message = only_report(run_stack("s3-bucket-lifecycle-aborts-multipart", resources), resources)
    assert "has no lifecycle configuration" in message


def test_one_qualifying_rule_among_others_passes(run_stack):
    expire = {"id": "expire", "status": "Enabled", "expiration": {"days": 30}}
    resources = replaced(LIFECYCLE, {"rules": [expire, ABORT_RULE]})
    assert run_stack("s3-bucket-lifecycle-aborts-multipart", resources) == []


def test_lifecycle_maximum_days_come_from_the_config(run_stack):
    rule = {**ABORT_RULE, "abortIncompleteMultipartUpload": {"daysAfterInitiation": 10}}
    resources = replaced(LIFECYCLE, {"rules": [rule]})
    policy = "s3-bucket-lifecycle-aborts-multipart"
    assert run_stack(policy, resources)
    assert run_stack(policy, resources, {"maxDaysAfterInitiation": 14.0}) == []


def test_unknown_lifecycle_rules_are_skipped(run_stack):
    resources = replaced(LIFECYCLE, {"rules": UNKNOWN_ARRAY_VALUE})
    assert run_stack("s3-bucket-lifecycle-aborts-multipart", resources) == []


def test_inline_lifecycle_rules_of_a_bucket_count(run_stack):
    inline = {"enabled": True, "prefix": "", "abortIncompleteMultipartUploadDays": 3}
    bucket = stack_resource(BUCKET, {"bucket": "b", "lifecycleRules": [inline]}, name="b")
    assert run_stack("s3-bucket-lifecycle-aborts-multipart", [bucket]) == []
    disabled = stack_resource(
        BUCKET, {"bucket": "b", "lifecycleRules": [{**inline, "enabled": False}]}, name="b"
    )
    assert run_stack("s3-bucket-lifecycle-aborts-multipart", [disabled])


# S3.12: ACLs disabled (BucketOwnerEnforced).


@pytest.mark.parametrize(
    ("companion", "problem"),
    [
        (None, "has no aws.s3.BucketOwnershipControls"),
        ({"rule": {"objectOwnership": "ObjectWriter"}}, "object ownership is 'ObjectWriter'"),
        (
            {"rule": {"objectOwnership": "BucketOwnerPreferred"}},
            "object ownership is 'BucketOwnerPreferred'",
        ),
    ],
)
def test_bucket_with_acls_enabled_is_reported(run_stack, companion, problem):
    resources = replaced(OWNERSHIP, companion)
    message = only_report(run_stack("s3-bucket-owner-enforced", resources), resources)
    assert problem in message
    assert "BucketOwnerEnforced" in message
    assert "S3.12" in message


def test_bucket_acl_resource_is_reported(run_stack):
    resources = bucket_with(*COMPLETE, (ACL, {"acl": "public-read"}))
    message = only_report(run_stack("s3-bucket-owner-enforced", resources), resources)
    assert "ACL resource" in message


def test_inline_canned_acl_is_reported(run_stack):
    bucket = stack_resource(BUCKET, {"bucket": "miko-dumps", "acl": "public-read"}, name="dumps")
    resources = [bucket, *bucket_with(*COMPLETE)[1:]]
    reported = run_stack("s3-bucket-owner-enforced", resources)
    assert "canned ACL 'public-read'" in only_report(reported, resources)


# S3.17: encrypted at rest with a KMS key, SSE-S3 only with a reason.

SSE_S3 = {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}


def test_sse_s3_bucket_without_an_exception_is_reported(run_stack):
    resources = replaced(SSE, SSE_S3)
    message = only_report(run_stack("s3-bucket-kms-encryption", resources), resources)
    assert "'AES256'" in message
    assert "no sseS3Buckets entry" in message
    assert "S3.17" in message


def test_sse_s3_bucket_with_a_reasoned_exception_passes(run_stack):
    config = {"sseS3Buckets": {"dumps": "The writer supports only SSE-S3."}}
    assert run_stack("s3-bucket-kms-encryption", replaced(SSE, SSE_S3), config) == []


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_exception_without_a_reason_does_not_count(run_stack, reason):
    resources = replaced(SSE, SSE_S3)
    reported = run_stack("s3-bucket-kms-encryption", resources, {"sseS3Buckets": {"dumps": reason}})
    assert "its sseS3Buckets entry 'dumps' in the policy config names no reason" in only_report(
        reported, resources
    )


def test_an_exception_for_another_bucket_does_not_count(run_stack):
    config = {"sseS3Buckets": {"load-balancer-access-logs": "ALB access logs need SSE-S3."}}
    assert run_stack("s3-bucket-kms-encryption", replaced(SSE, SSE_S3), config)


def test_kms_without_a_key_is_reported(run_stack):
    resources = replaced(
        SSE, {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]}
    )
    message = only_report(run_stack("s3-bucket-kms-encryption", resources), resources)
    assert "names no kmsMasterKeyId" in message


def test_dsse_kms_with_a_key_passes(run_stack):
    dsse = {"sseAlgorithm": "aws:kms:dsse", "kmsMasterKeyId": KEY_ARN}
    resources = replaced(SSE, {"rules": [{"applyServerSideEncryptionByDefault": dsse}]})
    assert run_stack("s3-bucket-kms-encryption", resources) == []


def test_a_bucket_without_default_encryption_is_left_to_s3_bucket_encryption(run_stack):
    """S3.4 and S3.17 together: one report, by the policy holding S3.4."""
    resources = replaced(SSE, None)
    assert run_stack("s3-bucket-kms-encryption", resources) == []
    assert len(run_stack("s3-bucket-encryption", resources)) == 1


def test_an_sse_s3_bucket_passes_s3_bucket_encryption_and_not_the_kms_policy(run_stack):
    resources = replaced(SSE, SSE_S3)
    assert run_stack("s3-bucket-encryption", resources) == []
    assert run_stack("s3-bucket-kms-encryption", resources)


def test_the_stale_inline_encryption_of_a_bucket_with_a_configuration_is_ignored(run_stack):
    """The provider computes the bucket's own copy; the configuration resource decides."""
    inline = {"rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}}
    bucket = stack_resource(
        BUCKET, {"bucket": "miko-dumps", "serverSideEncryptionConfiguration": inline}, name="dumps"
    )
    resources = [bucket, *bucket_with(*COMPLETE)[1:]]
    assert run_stack("s3-bucket-kms-encryption", resources) == []
    assert run_stack("s3-bucket-kms-encryption", [bucket])


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_sse_s3_exception_of_the_stacks_has_a_reason(stack):
    exceptions = load_policy_config(stack)["s3-bucket-kms-encryption"]["sseS3Buckets"]
    assert all(isinstance(reason, str) and reason.strip() for reason in exceptions.values())


def test_prod_excepts_the_alb_access_log_bucket_for_elb():
    exceptions = load_policy_config("prod")["s3-bucket-kms-encryption"]["sseS3Buckets"]
    assert exceptions["load-balancer-access-logs"] == (
        "ALB access logs support only SSE-S3 (Elastic Load Balancing guide, enable access logging)"
    )


# S3.6: no sensitive action granted to other AWS accounts.

OWN_KEY = (
    "aws:kms/key:Key",
    {"arn": "arn:aws:kms:eu-west-1:123456789012:key/1234"},
)


def with_policy(*statements, own_account_known=True):
    """The complete bucket whose policy is TLS-only plus `statements`, and a key of the stack's
    account (how the policy learns the account) unless `own_account_known` is False."""
    document = json.loads(TLS_ONLY_POLICY)
    document["Statement"] += list(statements)
    resources = replaced(BUCKET_POLICY, {"policy": json.dumps(document)})
    if own_account_known:
        resources.append(stack_resource(OWN_KEY[0], OWN_KEY[1], name="key"))
    return resources


def allow(principal, action, sid="Grant"):
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal,
        "Action": action,
        "Resource": ["arn:aws:s3:::miko-dumps", "arn:aws:s3:::miko-dumps/*"],
    }


def test_elb_account_delivering_access_logs_passes_without_an_exception(run_stack):
    resources = with_policy(
        allow({"AWS": "arn:aws:iam::797873946194:root"}, "s3:PutObject"),
        allow({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}, "s3:PutObject"),
    )
    assert run_stack("s3-bucket-policy-cross-account-restricted", resources) == []


@pytest.mark.parametrize(
    "statement",
    [
        allow({"AWS": "arn:aws:iam::123456789012:root"}, "s3:*"),
        allow({"AWS": "123456789012"}, ["s3:PutBucketPolicy", "s3:PutBucketAcl"]),
        allow({"Service": "cloudtrail.amazonaws.com"}, "s3:PutObjectAcl"),
        allow({"AWS": "arn:aws:iam::999999999999:root"}, ["s3:GetObject", "s3:PutObject"]),
        {**allow("*", "s3:PutBucketPolicy"), "Effect": "Deny"},
    ],
)
def test_own_account_service_and_harmless_grants_pass(run_stack, statement):
    resources = with_policy(statement)
    assert run_stack("s3-bucket-policy-cross-account-restricted", resources) == []


@pytest.mark.parametrize(
    ("statement", "actions", "principal"),
    [
        (
            allow({"AWS": "arn:aws:iam::999999999999:root"}, "s3:PutBucketPolicy"),
            "s3:PutBucketPolicy",
            "arn:aws:iam::999999999999:root",
        ),
        (
            allow({"AWS": ["999999999999"]}, "s3:Put*"),
            "s3:PutBucketAcl, s3:PutBucketPolicy, s3:PutEncryptionConfiguration, s3:PutObjectAcl",
            "999999999999",
        ),
        (allow("*", "s3:DeleteBucketPolicy"), "s3:DeleteBucketPolicy", "*"),
        (allow({"AWS": "*"}, "*"), "s3:DeleteBucketPolicy, s3:PutBucketAcl", "*"),
        (
            {
                "Sid": "Grant",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999999999999:role/r"},
                "NotAction": ["s3:Get*"],
                "Resource": "*",
            },
            "s3:PutObjectAcl",
            "arn:aws:iam::999999999999:role/r",
        ),
        (
            {
                "Sid": "Grant",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                "Action": "S3:PUTOBJECTACL",
                # The control does not look at conditions.
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}},
            },
            "s3:PutObjectAcl",
            "arn:aws:iam::999999999999:root",
        ),
    ],
)
def test_sensitive_actions_granted_to_other_accounts_are_reported(
    run_stack, statement, actions, principal
):
    resources = with_policy(statement)
    message = only_report(
        run_stack("s3-bucket-policy-cross-account-restricted", resources), resources
    )
    assert "statement Grant" in message
    assert actions in message
    assert principal in message
    assert "S3.6" in message


def test_without_a_known_account_only_anyone_is_another_account(run_stack):
    """During a first preview no ARN of the stack is known: account principals are skipped."""
    policy = "s3-bucket-policy-cross-account-restricted"
    other = allow({"AWS": "arn:aws:iam::999999999999:root"}, "s3:PutBucketPolicy")
    assert run_stack(policy, with_policy(other, own_account_known=False)) == []
    anyone = allow("*", "s3:PutBucketPolicy")
    assert run_stack(policy, with_policy(anyone, own_account_known=False))


def test_unknown_bucket_policy_is_skipped(run_stack):
    resources = replaced(BUCKET_POLICY, {"policy": UNKNOWN_STRING_VALUE})
    assert run_stack("s3-bucket-policy-cross-account-restricted", resources) == []
