"""The bucket that holds the database dumps: versioned, KMS-encrypted, private, TLS-only, locked.

Object lock keeps every dump for the retention period: in GOVERNANCE mode a principal with
s3:BypassGovernanceRetention can still delete (staging), in COMPLIANCE mode nobody can, not even
the account root (prod). Lifecycle moves dumps to colder storage where the stack asks (when
the class's minimum storage duration ends before the expiry), then expires them.
"""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from app.contract import BACKUP_DUMP_PREFIX
from components.policy_documents import iam_governed_key_policy, tls_only_bucket_policy
from components.s3_buckets import BucketSettings, abort_incomplete_uploads_rule, suffixed_names
from config.sections import BackupSettings

DUMP_PREFIX = f"{BACKUP_DUMP_PREFIX}/"
COLD_STORAGE_CLASS = BackupSettings.COLD_STORAGE_CLASS


@dataclass
class BackupBucketArgs:
    settings: BackupSettings
    """Object lock mode and days, cold storage and expiry of the dumps."""
    protect: bool
    """Whether the key and the bucket are protected from `pulumi destroy` and replacement."""


def lifecycle_rules(
    args: BackupBucketArgs,
) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
    dumps: aws.s3.BucketLifecycleConfigurationRuleArgsDict = {
        "id": "dumps",
        "status": "Enabled",
        "filter": {"prefix": DUMP_PREFIX},
        "expiration": {"days": args.settings.expire_after_days},
        "noncurrent_version_expiration": {"noncurrent_days": args.settings.object_lock_days},
    }
    # No transition where the stack asks for none: the settings refuse one whose minimum
    # storage duration would outlast the expiry (config/sections.py, cold_storage_problem).
    if args.settings.cold_storage_days is not None:
        dumps["transitions"] = [
            {"days": args.settings.cold_storage_days, "storage_class": COLD_STORAGE_CLASS}
        ]
    return [
        dumps,
        # A dump that failed half-way is aborted by the job; this catches a killed task.
        abort_incomplete_uploads_rule(),
    ]


class BackupBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    """Name of the dump bucket."""
    bucket_arn: pulumi.Output[str]
    """ARN of the dump bucket."""
    key_arn: pulumi.Output[str]
    """ARN of the KMS key that encrypts the dumps."""

    def __init__(
        self, name: str, args: BackupBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:backup:BackupBucket", name, None, opts)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)

        account_id = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id
        key = aws.kms.Key(
            f"{name}-key",
            description="Encrypts the database dumps",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            # Only IAM grants use it: the backup jobs' role (backup_job_specs.job_policy) and
            # the AWS Backup role; S3 uses it on their behalf (kms:ViaService), no grant of its own.
            policy=account_id.apply(iam_governed_key_policy),
            opts=stateful,
        )
        bucket = aws.s3.Bucket(
            f"{name}-bucket", bucket_prefix=f"{name}-", object_lock_enabled=True, opts=stateful
        )
        # One setting at a time (S3 answers OperationAborted to overlapping writes); object
        # lock and the noncurrent-version rule of the lifecycle need versioning first.
        settings = BucketSettings(bucket, parent=self)
        settings.private_baseline(
            suffixed_names(name),
            policy=bucket.arn.apply(tls_only_bucket_policy),
            kms_key_arn=key.arn,
        )
        settings.default_retention(
            f"{name}-object-lock",
            mode=args.settings.object_lock_mode,
            days=args.settings.object_lock_days,
        )
        settings.then(
            lambda opts: aws.s3.BucketLifecycleConfiguration(
                f"{name}-lifecycle", bucket=bucket.id, rules=lifecycle_rules(args), opts=opts
            )
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "key_arn": self.key_arn,
            }
        )
