"""The scheduled backup jobs: a daily `backup dump` and a weekly `backup verify`, as Fargate tasks.

EventBridge Scheduler starts the app image with the backup command in the private subnets. Each
run prints one JSON result line; a metric filter counts the successful ones, and an alarm fires
when a UTC day passes without a successful dump or seven without a successful verify, which
covers both a failing job and one that never ran (backup_success_alarms.py). A run that cannot
start alarms within minutes: the scheduler's dead letters (backup_dead_letter_queue.py), ECS
tasks that failed to start and invocations the scheduler lost (backup_start_failures.py). What
each job runs and may do is built in backup_job_specs.py.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.backup_dead_letter_queue import BackupDeadLetterQueue, BackupDeadLetterQueueArgs
from components.backup_job_specs import (
    JOBS,
    JobSpec,
    all_job_integrations,
    job_container_definitions,
    job_environment,
    job_policy,
    schedule_arn,
    scheduler_policy,
)
from components.backup_start_failures import BackupStartFailures, BackupStartFailuresArgs
from components.backup_success_alarms import EVALUATION_TIMEZONE, success_alarm
from components.containers import ECS_TASKS_SERVICE, execution_policy, fargate_task_definition
from components.iam_roles import service_role
from components.secrets_store import SecretsStore
from config.sections import BACKUP_START_DEADLINE_SECONDS, BackupSettings

SCHEDULER_SERVICE = "scheduler.amazonaws.com"
SCHEDULE_RETRY_ATTEMPTS = 2


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
    """Alarm (or event rule) name by alarm key: backup-dump-failed, backup-verify-failed, the
    dead-letter alarms (backup-<command>-not-started) and the start failures."""
    dead_letter_queue_arns: pulumi.Output[dict[str, str]]
    """Dead-letter queue ARN by backup command."""

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
        # One group per stack: the scheduler's metrics are per group, not per schedule.
        group = aws.scheduler.ScheduleGroup(
            f"{name}-schedules", name=f"{args.prefix}-backup", opts=self._child
        )
        scheduler = self._role("scheduler", SCHEDULER_SERVICE, None)
        dead_letters = {
            job.command: self._create_dead_letter_queue(job, group, scheduler) for job in JOBS
        }
        scheduler_policy_ = self._create_scheduler_policy(
            scheduler, list(definitions.values()), [execution, task], list(dead_letters.values())
        )
        alarm_names: dict[str, pulumi.Output[str]] = {}
        for job in JOBS:
            self._create_schedule(
                job,
                definition=definitions[job.command],
                group=group,
                role=scheduler,
                dead_letters=dead_letters[job.command],
                role_policy=scheduler_policy_,
            )
            alarm_names[job.alarm_key] = success_alarm(
                name,
                job,
                prefix=args.prefix,
                log_group_name=log_group.name,
                alarm_topic_arn=args.alarm_topic_arn,
                opts=self._child,
            )
            alarm_names[job.not_started_alarm_key] = dead_letters[job.command].alarm_name
        start_failures = BackupStartFailures(
            f"{name}-start-failures",
            BackupStartFailuresArgs(
                prefix=args.prefix,
                cluster_arn=args.cluster_arn,
                task_families=[self._family(job) for job in JOBS],
                schedule_group_name=group.name,
                alarm_topic_arn=args.alarm_topic_arn,
            ),
            opts=self._child,
        )

        self.log_group_name = log_group.name
        self.alarm_names = pulumi.Output.all(
            pulumi.Output.all(**alarm_names), start_failures.alarm_names
        ).apply(lambda names: dict(sorted({**names[0], **names[1]}.items())))
        self.dead_letter_queue_arns = pulumi.Output.all(
            **{command: queue.queue_arn for command, queue in dead_letters.items()}
        )
        self.register_outputs(
            {
                "log_group_name": self.log_group_name,
                "alarm_names": self.alarm_names,
                "dead_letter_queue_arns": self.dead_letter_queue_arns,
            }
        )

    def _family(self, job: JobSpec) -> str:
        return f"{self._args.prefix}-backup-{job.command}"

    def _schedule_name(self, job: JobSpec) -> str:
        return f"{self._args.prefix}-backup-{job.command}"

    def _role(self, role: str, service: str, policy: pulumi.Input[str] | None) -> aws.iam.Role:
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
            family=self._family(job),
            cpu=args.task_cpu,
            memory=args.task_memory,
            execution_role_arn=execution.arn,
            task_role_arn=task.arn,
            container_definitions=definitions,
            opts=self._child,
        )

    def _create_dead_letter_queue(
        self, job: JobSpec, group: aws.scheduler.ScheduleGroup, scheduler: aws.iam.Role
    ) -> BackupDeadLetterQueue:
        args = self._args
        account_id = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id
        arn = pulumi.Output.all(account_id, group.name).apply(
            lambda values: schedule_arn(args.region, values[0], values[1], self._schedule_name(job))
        )
        return BackupDeadLetterQueue(
            f"{self._name}-{job.command}-dead-letters",
            BackupDeadLetterQueueArgs(
                prefix=args.prefix,
                command=job.command,
                alarm_key=job.not_started_alarm_key,
                schedule_arn=arn,
                sender_role_arn=scheduler.arn,
                kms_key_arn=args.kms_key_arn,
                alarm_topic_arn=args.alarm_topic_arn,
            ),
            opts=self._child,
        )

    def _create_scheduler_policy(
        self,
        scheduler: aws.iam.Role,
        definitions: Sequence[aws.ecs.TaskDefinition],
        passed_roles: Sequence[aws.iam.Role],
        dead_letters: Sequence[BackupDeadLetterQueue],
    ) -> aws.iam.RolePolicy:
        """The scheduler role's inline policy (named like the role, as service_role names it)."""
        policy = pulumi.Output.all(
            [definition.arn_without_revision for definition in definitions],
            [role.arn for role in passed_roles],
            [queue.queue_arn for queue in dead_letters],
            self._args.kms_key_arn,
        ).apply(lambda v: scheduler_policy(v[0], v[1], v[2], v[3]))
        return aws.iam.RolePolicy(
            f"{self._name}-scheduler", role=scheduler.id, policy=policy, opts=self._child
        )

    def _create_schedule(
        self,
        job: JobSpec,
        *,
        definition: aws.ecs.TaskDefinition,
        group: aws.scheduler.ScheduleGroup,
        role: aws.iam.Role,
        dead_letters: BackupDeadLetterQueue,
        role_policy: aws.iam.RolePolicy,
    ) -> None:
        args = self._args
        aws.scheduler.Schedule(
            f"{self._name}-{job.command}",
            name=self._schedule_name(job),
            group_name=group.name,
            description=f"Runs `python -m app backup {job.command}`",
            schedule_expression=getattr(args.settings, job.schedule_setting),
            # The days the success alarms evaluate are cut on the same clock.
            schedule_expression_timezone=EVALUATION_TIMEZONE,
            flexible_time_window={"mode": "OFF"},
            # The schedule's target and payload at rest, under the stack's key (the key policy
            # delegates to IAM; the scheduler role may decrypt with it: scheduler_policy).
            kms_key_arn=args.kms_key_arn,
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
                # Retries end within the start deadline, so a run still starts (and finishes)
                # inside its UTC day; what cannot start goes to the dead-letter queue.
                "retry_policy": {
                    "maximum_retry_attempts": SCHEDULE_RETRY_ATTEMPTS,
                    "maximum_event_age_in_seconds": BACKUP_START_DEADLINE_SECONDS,
                },
                "dead_letter_config": {"arn": dead_letters.queue_arn},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )
