"""What each backup job runs and may do: its spec, container, environment, IAM documents and the
event pattern of a run that failed to start.

Pure functions over plain values, called inside `Output.apply` and tested without Pulumi.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.contract import BACKUP_DUMP_PREFIX, Env
from components.backup_bucket import DUMP_PREFIX
from components.containers import hardened_container, serialise
from components.policy_documents import allow, document, service_principal_statement
from config.secrets import BACKUP_DUMP_SECRETS, BACKUP_VERIFY_SECRETS

JOB_STOP_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class JobSpec:
    command: str
    schedule_setting: str
    """The BackupSettings field holding the job's schedule."""
    succeeded_metric: str
    alarm_key: str
    days_without_success: int
    integrations: tuple[str, ...]
    """The secrets the job reads."""

    @property
    def not_started_alarm_key(self) -> str:
        """Key of the alarm on the job's dead-letter queue: a run the scheduler could not start."""
        return f"backup-{self.command}-not-started"


JOBS = (
    JobSpec("dump", "dump_schedule", "DumpSucceeded", "backup-dump-failed", 1, BACKUP_DUMP_SECRETS),
    JobSpec(
        "verify",
        "verify_schedule",
        "VerifySucceeded",
        "backup-verify-failed",
        7,
        BACKUP_VERIFY_SECRETS,
    ),
)


def all_job_integrations() -> tuple[str, ...]:
    """Every secret some job reads: the jobs share one execution role."""
    return tuple(dict.fromkeys(name for job in JOBS for name in job.integrations))


def job_container_definitions(
    *,
    command: str,
    image: str,
    environment: Mapping[str, str],
    secrets: Sequence[Mapping[str, str]],
    log_group: str,
    region: str,
) -> str:
    """The hardened baseline running `python -m app backup <command>`."""
    container = hardened_container(
        name=f"backup-{command}",
        image=image,
        environment=environment,
        secrets=secrets,
        log_group=log_group,
        region=region,
        # Time for the job to kill pg_dump and abort the multipart upload on SIGTERM.
        stop_timeout_seconds=JOB_STOP_TIMEOUT_SECONDS,
    )
    container["command"] = ["python", "-m", "app", "backup", command]
    return serialise([container])


def job_environment(environment: str, bucket: str, bucket_key_arn: str) -> dict[str, str]:
    """The backup jobs' plain environment: the only place it is assembled."""
    return {
        Env.APP_ENV: environment,
        Env.BACKUP_BUCKET: bucket,
        Env.BACKUP_KMS_KEY_ID: bucket_key_arn,
        Env.BACKUP_PREFIX: BACKUP_DUMP_PREFIX,
    }


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


def scheduler_policy(
    task_definition_arns: Sequence[str],
    role_arns: Sequence[str],
    dead_letter_queue_arns: Sequence[str],
    queue_key_arn: str,
) -> str:
    """The scheduler may run these task definitions (any revision), pass their roles, and send
    an invocation it could not deliver to the schedules' dead-letter queues.

    The execution role sends the dead letter (sqs:SendMessage,
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html); the
    queues are encrypted with the stack's key, so the sender also needs kms:GenerateDataKey and
    kms:Decrypt on it (a producer to an SSE-KMS queue,
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html);
    the key's policy delegates to IAM. The same key encrypts the schedules themselves
    (`kms_key_arn`): with a customer managed key the execution role needs kms:Decrypt on it to
    invoke the target (https://docs.aws.amazon.com/scheduler/latest/UserGuide/encryption-rest.html).
    """
    return document(
        [
            allow(["ecs:RunTask"], [f"{arn}:*" for arn in task_definition_arns]),
            allow(["iam:PassRole"], list(role_arns)),
            allow(["sqs:SendMessage"], list(dead_letter_queue_arns)),
            allow(["kms:Decrypt", "kms:GenerateDataKey"], [queue_key_arn]),
        ]
    )


def dead_letter_queue_policy(queue_arn: str, schedule_arn: str, sender_role_arn: str) -> str:
    """Only the job's schedule puts messages on its dead-letter queue.

    EventBridge Scheduler sends a dead letter with the schedule's execution role; should it send
    as its service principal, the request carries the schedule as `aws:SourceArn`. Either is
    allowed; every other sender is denied, whatever its IAM policies say.
    """
    return document(
        [
            {
                "Sid": "ScheduleExecutionRoleSends",
                "Effect": "Allow",
                "Principal": {"AWS": sender_role_arn},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
            },
            service_principal_statement(
                "scheduler.amazonaws.com",
                "sqs:SendMessage",
                source_arn=schedule_arn,
                resource=queue_arn,
                sid="SchedulerSendsForThisSchedule",
            ),
            {
                "Sid": "NobodyElseSends",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                # Denied when both keys differ: keys in one operator are ANDed, and a negated
                # operator on an absent key is true (IAM condition operators reference).
                "Condition": {
                    "ArnNotEquals": {
                        "aws:PrincipalArn": sender_role_arn,
                        "aws:SourceArn": schedule_arn,
                    }
                },
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ]
    )


def schedule_arn(region: str, account_id: str, group: str, name: str) -> str:
    """ARN of a schedule, as EventBridge Scheduler forms it (schedule/<group>/<name>)."""
    return f"arn:aws:scheduler:{region}:{account_id}:schedule/{group}/{name}"


def task_failed_to_start_pattern(cluster_arn: str, families: Sequence[str]) -> str:
    """The backup tasks that ECS stopped before their container ran.

    ECS sends a task state change event when a task stops; `stopCode` TaskFailedToStart covers an
    image that cannot be pulled, a secret that cannot be read, no ENI in the subnets
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html). A task
    started by RunTask without a group is in the group `family:<family>`. A container that ran
    and exited non-zero is not matched here: that needs matching inside the `containers` array,
    which moto's event bus cannot evaluate, and a failed run is caught by the job's success alarm.
    """
    pattern: dict[str, Any] = {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {
            "clusterArn": [cluster_arn],
            "group": [f"family:{family}" for family in families],
            "lastStatus": ["STOPPED"],
            "stopCode": ["TaskFailedToStart"],
        },
    }
    return json.dumps(pattern, sort_keys=True)
