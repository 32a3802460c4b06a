"""What each backup job runs and may do: its spec, container, environment and IAM documents.

Pure functions over plain values, called inside `Output.apply` and tested without Pulumi.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.contract import BACKUP_DUMP_PREFIX, Env
from components.backup_bucket import DUMP_PREFIX
from components.containers import hardened_container, serialise
from components.policy_documents import allow, document
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


def scheduler_policy(task_definition_arns: Sequence[str], role_arns: Sequence[str]) -> str:
    """The scheduler may run these task definitions (any revision) and pass their roles."""
    return document(
        [
            allow(["ecs:RunTask"], [f"{arn}:*" for arn in task_definition_arns]),
            allow(["iam:PassRole"], list(role_arns)),
        ]
    )
