"""The scheduled backup jobs: a daily `backup dump` and a weekly `backup verify`, as Fargate tasks.

EventBridge Scheduler starts the app image with the backup command in the private subnets. Each
run prints one JSON result line; a metric filter counts the successful ones, and an alarm fires
when a day passes without a successful dump or a week without a successful verify, which covers
both a failing job and one that never ran.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.backup_bucket import DUMP_PREFIX
from components.containers import (
    ECS_TASKS_SERVICE,
    execution_role_policy,
    fargate_task_definition,
    hardened_container,
    serialise,
)
from components.policy_documents import allow, assume_role_policy, document

METRIC_NAMESPACE = "MiKO/Backup"
DAY_SECONDS = 86_400
JOB_STOP_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class JobSpec:
    command: str
    schedule_attribute: str
    succeeded_metric: str
    alarm_key: str
    days_without_success: int


JOBS = (
    JobSpec("dump", "dump_schedule", "DumpSucceeded", "backup-dump-failed", 1),
    JobSpec("verify", "verify_schedule", "VerifySucceeded", "backup-verify-failed", 7),
)


@dataclass
class BackupJobsArgs:
    prefix: str
    """Name prefix of the stack's AWS resources."""
    region: str
    cluster_arn: pulumi.Input[str]
    image_ref: pulumi.Input[str]
    """The app image by digest: the backup commands ship in it."""
    repository_arn: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    """Security group allowing egress to the database and to AWS APIs."""
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    bucket_key_arn: pulumi.Input[str]
    database_secret_arn: pulumi.Input[str]
    """Secret whose JSON key DATABASE_URL is the database to dump."""
    scratch_database_secret_arn: pulumi.Input[str]
    """Secret whose JSON key SCRATCH_DATABASE_URL is where `verify` restores."""
    secrets_key_arn: pulumi.Input[str]
    log_key_arn: pulumi.Input[str]
    log_retention_days: int
    alarm_topic_arn: pulumi.Input[str]
    dump_schedule: str
    """EventBridge Scheduler expression of the daily dump, e.g. cron(15 3 * * ? *)."""
    verify_schedule: str
    """EventBridge Scheduler expression of the weekly verify."""
    task_cpu: int = 512
    task_memory: int = 1024


def job_container_definitions(
    *,
    command: str,
    image: str,
    environment: Mapping[str, str],
    secrets: Mapping[str, str],
    log_group: str,
    region: str,
) -> str:
    """The hardened baseline running `python -m app backup <command>`."""
    container = hardened_container(
        name=f"backup-{command}",
        image=image,
        environment=environment,
        secrets=[{"name": name, "valueFrom": value} for name, value in secrets.items()],
        log_group=log_group,
        region=region,
        # Time for the job to kill pg_dump and abort the multipart upload on SIGTERM.
        stop_timeout_seconds=JOB_STOP_TIMEOUT_SECONDS,
    )
    container["command"] = ["python", "-m", "app", "backup", command]
    return serialise([container])


def job_policy(bucket_arn: str, bucket_key_arn: str) -> str:
    """The job writes, lists and reads dumps.

    DeleteObject only places a delete marker in the versioned bucket (the job removes a dump
    whose manifest could not be written); deleting a version or bypassing the object lock is
    not granted, so no stored dump can be destroyed by the job.
    """
    return document(
        [
            allow(["s3:ListBucket"], [bucket_arn]),
            allow(
                ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                [f"{bucket_arn}/{DUMP_PREFIX}*"],
            ),
            allow(["kms:Decrypt", "kms:GenerateDataKey"], [bucket_key_arn]),
        ]
    )


def scheduler_policy(task_definition_arns: Sequence[str], role_arns: Sequence[str]) -> str:
    return document(
        [
            allow(["ecs:RunTask"], [f"{arn}:*" for arn in task_definition_arns]),
            allow(["iam:PassRole"], list(role_arns)),
        ]
    )


def success_filter_pattern(command: str) -> str:
    return f'{{ ($.command = "{command}") && ($.ok IS TRUE) }}'


class BackupJobs(pulumi.ComponentResource):
    log_group_name: pulumi.Output[str]
    """Log group of the backup runs."""
    alarm_names: pulumi.Output[dict[str, str]]
    """Alarm name by alarm key (backup-dump-failed, backup-verify-failed)."""

    def __init__(
        self, name: str, args: BackupJobsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:backup:BackupJobs", name, None, opts)
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/{args.prefix}/backup",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_key_arn,
            opts=self._child,
        )
        execution, task = self._create_task_roles(log_group)
        definitions = {
            job.command: self._create_task_definition(job, log_group, execution, task)
            for job in JOBS
        }
        scheduler = self._create_scheduler_role(list(definitions.values()), [execution, task])
        alarm_names: dict[str, pulumi.Output[str]] = {}
        for job in JOBS:
            self._create_schedule(job, definitions[job.command], scheduler)
            alarm_names[job.alarm_key] = self._create_success_alarm(job, log_group)

        self.log_group_name = log_group.name
        self.alarm_names = pulumi.Output.all(**alarm_names)
        self.register_outputs(
            {"log_group_name": self.log_group_name, "alarm_names": self.alarm_names}
        )

    def _role(self, role: str, service: str, policy: pulumi.Input[str]) -> aws.iam.Role:
        created = aws.iam.Role(
            f"{self._name}-{role}",
            assume_role_policy=assume_role_policy(service),
            opts=self._child,
        )
        aws.iam.RolePolicy(f"{self._name}-{role}", role=created.id, policy=policy, opts=self._child)
        return created

    def _create_task_roles(
        self, log_group: aws.cloudwatch.LogGroup
    ) -> tuple[aws.iam.Role, aws.iam.Role]:
        args = self._args
        execution = self._role(
            "execution",
            ECS_TASKS_SERVICE,
            pulumi.Output.all(
                args.repository_arn,
                log_group.arn,
                args.database_secret_arn,
                args.scratch_database_secret_arn,
                args.secrets_key_arn,
            ).apply(
                lambda v: execution_role_policy(
                    repository_arn=v[0],
                    log_group_arn=v[1],
                    secret_arns=[v[2], v[3]],
                    kms_key_arn=v[4],
                )
            ),
        )
        task = self._role(
            "task",
            ECS_TASKS_SERVICE,
            pulumi.Output.all(args.bucket_arn, args.bucket_key_arn).apply(
                lambda v: job_policy(v[0], v[1])
            ),
        )
        return execution, task

    def _create_task_definition(
        self,
        job: JobSpec,
        log_group: aws.cloudwatch.LogGroup,
        execution: aws.iam.Role,
        task: aws.iam.Role,
    ) -> aws.ecs.TaskDefinition:
        args = self._args
        secrets: dict[str, pulumi.Input[str]] = {
            "DATABASE_URL": pulumi.Output.concat(args.database_secret_arn, ":DATABASE_URL::")
        }
        if job.command == "verify":
            secrets["SCRATCH_DATABASE_URL"] = pulumi.Output.concat(
                args.scratch_database_secret_arn, ":SCRATCH_DATABASE_URL::"
            )
        definitions = pulumi.Output.all(
            image=args.image_ref,
            bucket=args.bucket_name,
            key=args.bucket_key_arn,
            log_group=log_group.name,
            secrets=pulumi.Output.all(**secrets),
        ).apply(
            lambda v: job_container_definitions(
                command=job.command,
                image=v["image"],
                environment={
                    "APP_ENV": "production",
                    "BACKUP_BUCKET": v["bucket"],
                    "BACKUP_KMS_KEY_ID": v["key"],
                    "BACKUP_PREFIX": DUMP_PREFIX.rstrip("/"),
                },
                secrets=v["secrets"],
                log_group=v["log_group"],
                region=args.region,
            )
        )
        return fargate_task_definition(
            f"{self._name}-{job.command}",
            family=f"{args.prefix}-backup-{job.command}",
            cpu=args.task_cpu,
            memory=args.task_memory,
            execution_role_arn=execution.arn,
            task_role_arn=task.arn,
            container_definitions=definitions,
            opts=self._child,
        )

    def _create_scheduler_role(
        self, definitions: Sequence[aws.ecs.TaskDefinition], passed_roles: Sequence[aws.iam.Role]
    ) -> aws.iam.Role:
        policy = pulumi.Output.all(
            [definition.arn_without_revision for definition in definitions],
            [role.arn for role in passed_roles],
        ).apply(lambda v: scheduler_policy(v[0], v[1]))
        return self._role("scheduler", "scheduler.amazonaws.com", policy)

    def _create_schedule(
        self, job: JobSpec, definition: aws.ecs.TaskDefinition, role: aws.iam.Role
    ) -> None:
        args = self._args
        aws.scheduler.Schedule(
            f"{self._name}-{job.command}",
            name=f"{args.prefix}-backup-{job.command}",
            description=f"Runs `python -m app backup {job.command}`",
            schedule_expression=getattr(args, job.schedule_attribute),
            schedule_expression_timezone="UTC",
            flexible_time_window={"mode": "OFF"},
            target={
                "arn": args.cluster_arn,
                "role_arn": role.arn,
                "ecs_parameters": {
                    "task_definition_arn": definition.arn_without_revision,
                    "launch_type": "FARGATE",
                    "task_count": 1,
                    "network_configuration": {
                        "subnets": list(args.private_subnet_ids),
                        "security_groups": [args.security_group_id],
                        "assign_public_ip": False,
                    },
                },
                "retry_policy": {"maximum_retry_attempts": 2},
            },
            opts=self._child,
        )

    def _create_success_alarm(
        self, job: JobSpec, log_group: aws.cloudwatch.LogGroup
    ) -> pulumi.Output[str]:
        args = self._args
        metric_name = f"{args.prefix}-{job.succeeded_metric}"
        aws.cloudwatch.LogMetricFilter(
            f"{self._name}-{job.command}-succeeded",
            log_group_name=log_group.name,
            pattern=success_filter_pattern(job.command),
            metric_transformation={
                "name": metric_name,
                "namespace": METRIC_NAMESPACE,
                "value": "1",
                "default_value": "0",
            },
            opts=self._child,
        )
        alarm = aws.cloudwatch.MetricAlarm(
            f"{self._name}-{job.alarm_key}",
            name=f"{args.prefix}-{job.alarm_key}",
            alarm_description=(
                f"No successful `backup {job.command}` in {job.days_without_success} day(s): "
                "see docs/runbooks/restore.md"
            ),
            namespace=METRIC_NAMESPACE,
            metric_name=metric_name,
            statistic="Sum",
            period=DAY_SECONDS,
            evaluation_periods=job.days_without_success,
            datapoints_to_alarm=job.days_without_success,
            comparison_operator="LessThanThreshold",
            threshold=1,
            # No data means the job did not run at all: that is a failure too.
            treat_missing_data="breaching",
            alarm_actions=[args.alarm_topic_arn],
            ok_actions=[args.alarm_topic_arn],
            tags={"alarm": job.alarm_key},
            opts=self._child,
        )
        return alarm.name
