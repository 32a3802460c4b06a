import json
from typing import Any

import pytest

from tests.policies.conftest import KEY_ARN, aws_provider, stack_resource

BUCKET = "aws:s3/bucket:Bucket"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
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
