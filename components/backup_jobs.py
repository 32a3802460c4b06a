"""The scheduled backup jobs: a daily `backup dump` and a weekly `backup verify`, as Fargate tasks.

EventBridge Scheduler starts the app image with the backup command in the private subnets. Each
run prints one JSON result line; a metric filter counts the successful ones, and an alarm fires
when a day passes without a successful dump or a week without a successful verify, which covers
both a failing job and one that never ran (backup_success_alarms.py). What each job runs and may
do is built in backup_job_specs.py.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.backup_job_specs import (
    JOBS,
    JobSpec,
    all_job_integrations,
    job_container_definitions,
    job_environment,
    job_policy,
    scheduler_policy,
)
from components.backup_success_alarms import success_alarm
from components.containers import ECS_TASKS_SERVICE, execution_policy, fargate_task_definition
from components.iam_roles import service_role
from components.secrets_store import SecretsStore
from config.sections import BackupSettings


@dataclass
class BackupJobsArgs:
    prefix: str
    """Name prefix of the stack's AWS resources."""
    region: str
    environment: str
    """APP_ENV of the stack (staging | production)."""
    settings: BackupSettings
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
    secrets: SecretsStore
    """Each job reads its own integrations' secrets (JobSpec.integrations) from the store."""
    kms_key_arn: pulumi.Input[str]
    """The stack's key: it encrypts the secrets and the jobs' log group."""
    log_retention_days: int
    alarm_topic_arn: pulumi.Input[str]
    task_cpu: int = 512
    task_memory: int = 1024


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
            kms_key_id=args.kms_key_arn,
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
            alarm_names[job.alarm_key] = success_alarm(
                name,
                job,
                prefix=args.prefix,
                log_group_name=log_group.name,
                alarm_topic_arn=args.alarm_topic_arn,
                opts=self._child,
            )

        self.log_group_name = log_group.name
        self.alarm_names = pulumi.Output.all(**alarm_names)
        self.register_outputs(
            {"log_group_name": self.log_group_name, "alarm_names": self.alarm_names}
        )

    def _role(self, role: str, service: str, policy: pulumi.Input[str]) -> aws.iam.Role:
        return service_role(
            f"{self._name}-{role}", service=service, policy=policy, opts=self._child
        )

    def _create_task_roles(
        self, log_group: aws.cloudwatch.LogGroup
    ) -> tuple[aws.iam.Role, aws.iam.Role]:
        args = self._args
        execution = self._role(
            "execution",
            ECS_TASKS_SERVICE,
            execution_policy(
                repository_arn=args.repository_arn,
                log_group_arn=log_group.arn,
                secret_arns=args.secrets.scope(all_job_integrations()).secret_arns,
                kms_key_arn=args.kms_key_arn,
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
        definitions = pulumi.Output.all(
            image=args.image_ref,
            bucket=args.bucket_name,
            key=args.bucket_key_arn,
            log_group=log_group.name,
            secrets=args.secrets.scope(job.integrations).container_secrets,
        ).apply(
            lambda v: job_container_definitions(
                command=job.command,
                image=v["image"],
                environment=job_environment(args.environment, v["bucket"], v["key"]),
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
            schedule_expression=getattr(args.settings, job.schedule_setting),
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
