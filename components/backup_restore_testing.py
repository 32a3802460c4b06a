"""AWS Backup restore testing: on a schedule, the latest recovery point of the dump bucket is
restored and validated, so a backup is known to restore before it is needed."""

import pulumi
import pulumi_aws as aws


def create_restore_testing(
    name: str,
    *,
    plan_name: str,
    vault_arn: pulumi.Input[str],
    role_arn: pulumi.Input[str],
    bucket_arn: pulumi.Input[str],
    schedule: str,
    opts: pulumi.ResourceOptions,
) -> None:
    """A testing plan over the vault's last week of snapshots, selecting the dump bucket.

    Plan names are unique per account and region: `plan_name` is the stack's prefix, so
    staging and prod in one account never claim the same one.
    """
    # Restore-testing plan names allow letters, digits and underscores only.
    plan_name = f"{plan_name}_restore_testing".replace("-", "_")
    testing_plan = aws.backup.RestoreTestingPlan(
        f"{name}-restore-testing",
        name=plan_name,
        schedule_expression=schedule,
        recovery_point_selection={
            "algorithm": "LATEST_WITHIN_WINDOW",
            "include_vaults": [vault_arn],
            "recovery_point_types": ["SNAPSHOT"],
            "selection_window_days": 7,
        },
        opts=opts,
    )
    aws.backup.RestoreTestingSelection(
        f"{name}-restore-testing-bucket",
        name=f"{plan_name}_bucket",
        restore_testing_plan_name=testing_plan.name,
        protected_resource_type="S3",
        protected_resource_arns=[bucket_arn],
        iam_role_arn=role_arn,
        validation_window_hours=24,
        opts=opts,
    )
