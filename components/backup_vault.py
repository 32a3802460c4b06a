"""AWS Backup for the dump bucket: a KMS-encrypted vault, a daily plan, copies and a vault lock.

S3 backups by AWS Backup need bucket versioning, which the dump bucket has. Failed backup, copy
and restore jobs reach the alarm topic through an EventBridge rule. Where the stack asks, restore
testing (backup_restore_testing.py) restores the latest recovery point on a schedule.
"""

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.backup_restore_testing import create_restore_testing
from components.policy_documents import (
    assume_role_policy_without_source_guard,
    iam_governed_key_policy,
)
from components.runbooks import RULE_DESCRIPTION_MAX, alarm_description
from config.sections import BackupSettings

# AWS-managed policies that let AWS Backup back up and restore S3 buckets.
BACKUP_SERVICE_POLICIES = (
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
    "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
)
FAILED_JOB_STATES = ("FAILED", "ABORTED", "EXPIRED")
BACKUP_JOB_FAILED_KEY = "backup-job-failed"
"""The failed-job event rule's `alarm` tag and its runbook section."""
JOB_EVENT_TYPES = (
    "Backup Job State Change",
    "Copy Job State Change",
    "Restore Job State Change",
)


@dataclass
class BackupVaultArgs:
    prefix: str
    """Name prefix of the stack's AWS resources (the restore-testing plan is named after it)."""
    bucket_arn: pulumi.Input[str]
    """The bucket AWS Backup protects."""
    settings: BackupSettings
    """Retention, schedule, cross-region copy, vault lock and restore testing."""
    alarm_topic_arn: pulumi.Input[str]
    """Topic that receives failed backup, copy and restore jobs."""
    protect: bool
    """Whether the keys and vaults are protected from `pulumi destroy` and replacement."""


def failed_job_event_pattern() -> str:
    """Failed backup, copy and restore jobs. Backup and copy job events carry `detail.state`,
    restore job events `detail.status` ("Some events report status: COMPLETED whereas other
    events report state: COMPLETED", https://docs.aws.amazon.com/aws-backup/latest/devguide/eventbridge.html),
    so the pattern matches either field."""
    failed = list(FAILED_JOB_STATES)
    return json.dumps(
        {
            "source": ["aws.backup"],
            "detail-type": list(JOB_EVENT_TYPES),
            "detail": {"$or": [{"state": failed}, {"status": failed}]},
        },
        sort_keys=True,
    )


class BackupVault(pulumi.ComponentResource):
    vault_arn: pulumi.Output[str]
    """ARN of the primary backup vault."""
    copy_vault_arn: pulumi.Output[str] | None
    """ARN of the vault in the copy region, when the stack asks for copies."""
    plan_id: pulumi.Output[str]
    """ID of the backup plan."""
    role_arn: pulumi.Output[str]
    """Role AWS Backup assumes to back up and restore the bucket (for restore jobs)."""

    def __init__(
        self, name: str, args: BackupVaultArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:backup:BackupVault", name, None, opts)
        self._args = args
        self._account_id = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id
        vault = self._create_vault(name, region=None)
        copy_vault = (
            self._create_vault(f"{name}-copy", args.settings.copy_to_region)
            if args.settings.copy_to_region
            else None
        )
        role = self._create_role(name)
        plan = self._create_plan(name, vault, copy_vault)
        aws.backup.Selection(
            f"{name}-selection",
            plan_id=plan.id,
            iam_role_arn=role.arn,
            resources=[args.bucket_arn],
            opts=pulumi.ResourceOptions(parent=self),
        )
        if args.settings.restore_testing_cron:
            create_restore_testing(
                name,
                plan_name=args.prefix,
                vault_arn=vault.arn,
                role_arn=role.arn,
                bucket_arn=args.bucket_arn,
                schedule=args.settings.restore_testing_cron,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self._create_failure_rule(name)

        self.vault_arn = vault.arn
        self.copy_vault_arn = copy_vault.arn if copy_vault else None
        self.plan_id = plan.id
        self.role_arn = role.arn
        self.register_outputs(
            {
                "vault_arn": self.vault_arn,
                "copy_vault_arn": self.copy_vault_arn,
                "plan_id": plan.id,
                "role_arn": self.role_arn,
            }
        )

    def _create_vault(self, name: str, region: str | None) -> aws.backup.Vault:
        """A vault with its own rotating key; in another region when `region` is given."""
        stateful = pulumi.ResourceOptions(parent=self, protect=self._args.protect)
        key = aws.kms.Key(
            f"{name}-vault-key",
            description="Encrypts AWS Backup recovery points of the database dumps",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            # AWS Backup encrypts and copies with the role it assumes, whose IAM policies (the
            # AWS-managed BACKUP_SERVICE_POLICIES) must agree with the key policy
            # (https://docs.aws.amazon.com/aws-backup/latest/devguide/encryption.html): the
            # key policy delegates to IAM and grants no service principal of its own.
            policy=self._account_id.apply(iam_governed_key_policy),
            region=region,
            opts=stateful,
        )
        vault = aws.backup.Vault(f"{name}-vault", kms_key_arn=key.arn, region=region, opts=stateful)
        cooling_off = self._args.settings.vault_lock_days
        if cooling_off is not None:
            aws.backup.VaultLockConfiguration(
                f"{name}-vault-lock",
                backup_vault_name=vault.name,
                changeable_for_days=cooling_off,
                min_retention_days=self._args.settings.retention_days,
                region=region,
                opts=stateful,
            )
        return vault

    def _create_role(self, name: str) -> aws.iam.Role:
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            # No aws:SourceAccount/aws:SourceArn: AWS Backup documents the confused-deputy keys
            # for its resource policies (vault notification topics), not for assuming the
            # backup role, whose documented trust (AWSBackupDefaultServiceRole) has no
            # condition; a guard the service does not set would stop every backup. Recorded
            # as an exception in policies/config/*.json.
            assume_role_policy=assume_role_policy_without_source_guard("backup.amazonaws.com"),
            opts=child,
        )
        for policy_arn in BACKUP_SERVICE_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{name}-role-{policy_arn.rsplit('/', 1)[1]}",
                role=role.name,
                policy_arn=policy_arn,
                opts=child,
            )
        return role

    def _create_plan(
        self, name: str, vault: aws.backup.Vault, copy_vault: aws.backup.Vault | None
    ) -> aws.backup.Plan:
        lifecycle = aws.backup.PlanRuleLifecycleArgs(
            delete_after=self._args.settings.retention_days
        )
        copy_actions = []
        if copy_vault:
            copy_actions.append(
                aws.backup.PlanRuleCopyActionArgs(
                    destination_vault_arn=copy_vault.arn,
                    lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(
                        delete_after=self._args.settings.retention_days
                    ),
                )
            )
        daily = aws.backup.PlanRuleArgs(
            rule_name="daily",
            target_vault_name=vault.name,
            schedule=self._args.settings.plan_schedule,
            start_window=60,
            completion_window=360,
            lifecycle=lifecycle,
            copy_actions=copy_actions,
        )
        return aws.backup.Plan(
            f"{name}-plan", rules=[daily], opts=pulumi.ResourceOptions(parent=self)
        )

    def _create_failure_rule(self, name: str) -> None:
        child = pulumi.ResourceOptions(parent=self)
        rule = aws.cloudwatch.EventRule(
            f"{name}-job-failed",
            description=alarm_description(
                "AWS Backup backup, copy or restore job failed",
                BACKUP_JOB_FAILED_KEY,
                limit=RULE_DESCRIPTION_MAX,
            ),
            event_pattern=failed_job_event_pattern(),
            tags={"alarm": BACKUP_JOB_FAILED_KEY},
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-job-failed-topic", rule=rule.name, arn=self._args.alarm_topic_arn, opts=child
        )
