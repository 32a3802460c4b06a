"""The platform's own backups of the application database, proven by restoring them.

Three parts: the locked dump bucket, the scheduled dump and verify tasks, and AWS Backup
protecting the bucket (daily recovery points, optional cross-region copy and vault lock).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.backup_bucket import BackupBucket, BackupBucketArgs
from components.backup_jobs import BackupJobs, BackupJobsArgs
from components.backup_vault import BackupVault, BackupVaultArgs
from components.secrets_store import SecretsStore
from config.sections import BackupSettings


@dataclass
class BackupsArgs:
    prefix: str
    region: str
    environment: str
    """APP_ENV of the stack, which the backup jobs run under."""
    settings: BackupSettings
    protect: bool
    cluster_arn: pulumi.Input[str]
    image_ref: pulumi.Input[str]
    repository_arn: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    """Security group of the tasks: egress to the database and to AWS APIs."""
    secrets: SecretsStore
    """Where the jobs' database URLs are kept."""
    kms_key_arn: pulumi.Input[str]
    """The stack's key: it encrypts the secrets and the jobs' log group."""
    log_retention_days: int
    alarm_topic_arn: pulumi.Input[str]


class Backups(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    """Name of the dump bucket."""
    bucket_key_arn: pulumi.Output[str]
    """KMS key of the dump bucket (a restored bucket is encrypted with it too)."""
    vault_arn: pulumi.Output[str]
    """ARN of the AWS Backup vault."""
    restore_role_arn: pulumi.Output[str]
    """Role to pass to `aws backup start-restore-job`."""
    alarm_names: pulumi.Output[dict[str, str]]
    """Alarm name by key (backup-dump-failed, backup-verify-failed)."""

    def __init__(
        self, name: str, args: BackupsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:backup:Backups", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = BackupBucket(
            f"{name}-dumps",
            BackupBucketArgs(settings=args.settings, protect=args.protect),
            opts=child,
        )
        jobs = BackupJobs(
            f"{name}-jobs",
            BackupJobsArgs(
                prefix=args.prefix,
                region=args.region,
                environment=args.environment,
                settings=args.settings,
                cluster_arn=args.cluster_arn,
                image_ref=args.image_ref,
                repository_arn=args.repository_arn,
                private_subnet_ids=args.private_subnet_ids,
                security_group_id=args.security_group_id,
                bucket_name=bucket.bucket_name,
                bucket_arn=bucket.bucket_arn,
                bucket_key_arn=bucket.key_arn,
                secrets=args.secrets,
                kms_key_arn=args.kms_key_arn,
                log_retention_days=args.log_retention_days,
                alarm_topic_arn=args.alarm_topic_arn,
            ),
            opts=child,
        )
        vault = BackupVault(
            f"{name}-vault",
            BackupVaultArgs(
                prefix=args.prefix,
                bucket_arn=bucket.bucket_arn,
                settings=args.settings,
                alarm_topic_arn=args.alarm_topic_arn,
                protect=args.protect,
            ),
            opts=child,
        )
        self.bucket_name = bucket.bucket_name
        self.bucket_key_arn = bucket.key_arn
        self.vault_arn = vault.vault_arn
        self.restore_role_arn = vault.role_arn
        self.alarm_names = jobs.alarm_names
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_key_arn": self.bucket_key_arn,
                "vault_arn": self.vault_arn,
                "restore_role_arn": self.restore_role_arn,
                "alarm_names": self.alarm_names,
            }
        )
