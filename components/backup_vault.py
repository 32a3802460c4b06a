"""AWS Backup for the dump bucket: a KMS-encrypted vault, a daily plan, copies and a vault lock.

S3 backups by AWS Backup need bucket versioning, which the dump bucket has. Failed backup, copy
and restore jobs reach the alarm topic through an EventBridge rule.
"""

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.policy_documents import assume_role_policy

# AWS-managed policies that let AWS Backup back up and restore S3 buckets.
BACKUP_SERVICE_POLICIES = (
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
    "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
)
FAILED_JOB_STATES = ("FAILED", "ABORTED", "EXPIRED")
JOB_EVENT_TYPES = (
    "Backup Job State Change",
    "Copy Job State Change",
    "Restore Job State Change",
)
# AWS's floor for the vault lock's grace period: before it ends the lock can still be removed.
MIN_LOCK_COOLING_OFF_DAYS = 3


@dataclass
class BackupVaultArgs:
    bucket_arn: pulumi.Input[str]
    """The bucket AWS Backup protects."""
    retention_days: int
    """Days each recovery point is kept."""
    schedule: str
    """When the daily backup runs (an EventBridge cron expression, UTC)."""
    copy_region: str | None
    """Region of the vault that receives a copy of each recovery point; None for no copy."""
    vault_lock_cooling_off_days: int | None
    """Days before the vault lock becomes immutable (at least 3); None for no vault lock."""
    restore_testing_schedule: str | None
    """When AWS Backup restore-tests the latest recovery point; None for no restore testing."""
    alarm_topic_arn: pulumi.Input[str]
    """Topic that receives failed backup, copy and restore jobs."""
    protect: bool
    """Whether the keys and vaults are protected from `pulumi destroy` and replacement."""

    def __post_init__(self) -> None:
        cooling_off = self.vault_lock_cooling_off_days
        if cooling_off is not None and cooling_off < MIN_LOCK_COOLING_OFF_DAYS:
            raise ValueError(
                f"vault lock cooling-off period {cooling_off} days is below AWS's minimum of "
                f"{MIN_LOCK_COOLING_OFF_DAYS}"
            )


def failed_job_event_pattern() -> str:
    return json.dumps(
        {
            "source": ["aws.backup"],
            "detail-type": list(JOB_EVENT_TYPES),
            "detail": {"state": list(FAILED_JOB_STATES)},
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
        vault = self._create_vault(name, region=None)
        copy_vault = (
            self._create_vault(f"{name}-copy", args.copy_region) if args.copy_region else None
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
        if args.restore_testing_schedule:
            self._create_restore_testing(name, vault, role, args.restore_testing_schedule)
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
            region=region,
            opts=stateful,
        )
        vault = aws.backup.Vault(f"{name}-vault", kms_key_arn=key.arn, region=region, opts=stateful)
        cooling_off = self._args.vault_lock_cooling_off_days
        if cooling_off is not None:
            aws.backup.VaultLockConfiguration(
                f"{name}-vault-lock",
                backup_vault_name=vault.name,
                changeable_for_days=cooling_off,
                min_retention_days=self._args.retention_days,
                region=region,
                opts=stateful,
            )
        return vault

    def _create_role(self, name: str) -> aws.iam.Role:
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=assume_role_policy("backup.amazonaws.com"),
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
        lifecycle = aws.backup.PlanRuleLifecycleArgs(delete_after=self._args.retention_days)
        copy_actions = []
        if copy_vault:
            copy_actions.append(
                aws.backup.PlanRuleCopyActionArgs(
                    destination_vault_arn=copy_vault.arn,
                    lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(
                        delete_after=self._args.retention_days
                    ),
                )
            )
        daily = aws.backup.PlanRuleArgs(
            rule_name="daily",
            target_vault_name=vault.name,
            schedule=self._args.schedule,
            start_window=60,
            completion_window=360,
            lifecycle=lifecycle,
            copy_actions=copy_actions,
        )
        return aws.backup.Plan(
            f"{name}-plan", rules=[daily], opts=pulumi.ResourceOptions(parent=self)
        )

    def _create_restore_testing(
        self, name: str, vault: aws.backup.Vault, role: aws.iam.Role, schedule: str
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        # Restore-testing plan names allow letters, digits and underscores only.
        plan_name = f"{name}_restore_testing".replace("-", "_")
        testing_plan = aws.backup.RestoreTestingPlan(
            f"{name}-restore-testing",
            name=plan_name,
            schedule_expression=schedule,
            recovery_point_selection={
                "algorithm": "LATEST_WITHIN_WINDOW",
                "include_vaults": [vault.arn],
                "recovery_point_types": ["SNAPSHOT"],
                "selection_window_days": 7,
            },
            opts=child,
        )
        aws.backup.RestoreTestingSelection(
            f"{name}-restore-testing-bucket",
            name=f"{plan_name}_bucket",
            restore_testing_plan_name=testing_plan.name,
            protected_resource_type="S3",
            protected_resource_arns=[self._args.bucket_arn],
            iam_role_arn=role.arn,
            validation_window_hours=24,
            opts=child,
        )

    def _create_failure_rule(self, name: str) -> None:
        child = pulumi.ResourceOptions(parent=self)
        rule = aws.cloudwatch.EventRule(
            f"{name}-job-failed",
            description="AWS Backup backup, copy or restore job failed",
            event_pattern=failed_job_event_pattern(),
            tags={"alarm": "backup-job-failed"},
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-job-failed-topic", rule=rule.name, arn=self._args.alarm_topic_arn, opts=child
        )
