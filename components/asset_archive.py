"""The release-asset archive: earlier releases' fingerprinted files, for skew protection.

During a rolling deploy a tab opened on release N asks for N's lazy chunks and may reach a task
of release N+1; each task publishes its release's files under `assets/` and looks up the ones it
misses here (app/asset_archive.py). The bucket is private, SSE-KMS with the stack's key (bucket
key on, so one data key per bucket rather than a KMS call per object), TLS-only, versioned (as
every bucket of the platform), and short-lived: the lifecycle expires an object
`lifecycle_days(retention_hours)` days after its last write, its noncurrent versions (the
previous writes of the same bytes) a day after they were replaced, then the delete markers left
behind, and aborts multipart uploads that never completed.

S3 answers OperationAborted ("A conflicting conditional operation is currently in progress")
when configuration writes to one bucket overlap, so each setting waits for the previous one
(components/s3_buckets.py, BucketSettings).
"""

import math
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from app.contract import (
    ASSET_ARCHIVE_REFRESH_LIMIT_SECONDS,
    ASSETS_PREFIX,
    MIN_ASSET_RETENTION_HOURS,
)
from components.policy_documents import allow, tls_only_bucket_policy
from components.s3_buckets import BucketSettings, expiring_objects_rules, suffixed_names

KEY_PREFIX = ASSETS_PREFIX.removeprefix("/")
"""`assets/`: where tasks publish (the url path without its leading slash)."""
MIN_RETENTION_HOURS = MIN_ASSET_RETENTION_HOURS
REFRESH_MARGIN_DAYS = math.ceil(ASSET_ARCHIVE_REFRESH_LIMIT_SECONDS / 86_400)
"""Running tasks re-publish their files at least this often (app/contract.py), so a file's last
write is at most that old when its release's last task stops: added to the retention window."""


@dataclass
class AssetArchiveArgs:
    prefix: str
    """Prefix of physical names, e.g. `miko-staging`."""
    kms_key_arn: pulumi.Input[str]
    """The stack's key (SecretsStore.key_arn): default encryption of every object."""
    retention_hours: int
    """How long a tab opened on an earlier release keeps loading its chunks (>= 24)."""
    protect: bool
    """Whether the bucket is protected from deletion (as every stateful resource in prod)."""

    def __post_init__(self) -> None:
        lifecycle_days(self.retention_hours)


def lifecycle_days(retention_hours: int) -> int:
    """Days after its last write that S3 expires an object: ceil(hours / 24) + 1.

    Rounded up so the window is never shortened; one more day because the window counts from
    the moment the release's last task stops, and that task last wrote its files up to one
    refresh interval (at most a day) earlier. S3 itself rounds an expiry up to the next
    midnight UTC, never down, so the margin is kept.
    """
    if isinstance(retention_hours, bool) or retention_hours < MIN_RETENTION_HOURS:
        raise ValueError(
            f"the asset retention must be at least {MIN_RETENTION_HOURS} hours, "
            f"not {retention_hours}"
        )
    return math.ceil(retention_hours / 24) + REFRESH_MARGIN_DAYS


def lifecycle_rules(retention_hours: int) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
    # A re-publish writes the same bytes again; the version it replaced goes next (noncurrent).
    return expiring_objects_rules("expire-release-assets", lifecycle_days(retention_hours))


def task_access_statements(bucket_arn: str, kms_key_arn: str) -> list[dict[str, Any]]:
    """What the service's task role needs: read and write `assets/*` objects, nothing else.

    With SSE-KMS, PutObject needs kms:GenerateDataKey and GetObject kms:Decrypt on the key; the
    stack key's policy leaves its use to IAM, so the grant is here, limited to this bucket by
    the encryption context S3 sends: the bucket's ARN with a bucket key (this bucket), an
    object's ARN without one. No ListBucket: a missing key then reads as 403, which the app
    treats as a miss.
    """
    return [
        allow(["s3:GetObject", "s3:PutObject"], [f"{bucket_arn}/{KEY_PREFIX}*"]),
        {
            **allow(["kms:Decrypt", "kms:GenerateDataKey"], [kms_key_arn]),
            "Condition": {
                "StringLike": {
                    "kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/{KEY_PREFIX}*"]
                }
            },
        },
    ]


class AssetArchive(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    """Name of the archive bucket (the service's ASSET_ARCHIVE_BUCKET)."""
    bucket_arn: pulumi.Output[str]
    """ARN of the archive bucket (for `task_access_statements`)."""

    def __init__(
        self, name: str, args: AssetArchiveArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:assets:AssetArchive", name, None, opts)

        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=f"{args.prefix}-release-assets",
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        settings = BucketSettings(bucket, parent=self)
        # One setting at a time; S3 also rejects a policy while the public access block applies.
        settings.private_baseline(
            suffixed_names(name),
            policy=bucket.arn.apply(tls_only_bucket_policy),
            kms_key_arn=args.kms_key_arn,
        )
        # Noncurrent-version rules rely on versioning; S3 applies them once it is enabled.
        settings.then(
            lambda opts: aws.s3.BucketLifecycleConfiguration(
                f"{name}-lifecycle",
                bucket=bucket.id,
                rules=lifecycle_rules(args.retention_hours),
                opts=opts,
            )
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})
