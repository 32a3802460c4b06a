"""The hardened Fargate container baseline shared by the app service and the backup jobs.

Every container runs read-only as the image's non-root user (uid 10001) with every Linux
capability dropped, writes only to a task-local /tmp, logs through awslogs and gets secrets
through `valueFrom`. Definitions are serialised with sorted keys and lists, so an unchanged task
definition never shows as a replacement in a preview.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

CONTAINER_USER = "10001:10001"  # the `app` user and group of app/Dockerfile
TMP_VOLUME = "tmp"
TMP_PATH = "/tmp"  # noqa: S108 - mount point of the task-local volume, private to the task
ECS_TASKS_SERVICE = "ecs-tasks.amazonaws.com"
ECR_PULL_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
)


def hardened_container(
    *,
    name: str,
    image: str,
    environment: Mapping[str, str],
    secrets: Sequence[Mapping[str, str]],
    log_group: str,
    region: str,
    stop_timeout_seconds: int,
) -> dict[str, Any]:
    """One container definition with the baseline; callers add ports, commands, health checks."""
    return {
        "name": name,
        "image": image,
        "essential": True,
        "user": CONTAINER_USER,
        "readonlyRootFilesystem": True,
        "privileged": False,
        # Fargate accepts no `dockerSecurityOptions` (no-new-privileges); with every capability
        # dropped and a non-root user there is no privilege left to gain.
        "linuxParameters": {"capabilities": {"drop": ["ALL"]}, "initProcessEnabled": True},
        "mountPoints": [{"sourceVolume": TMP_VOLUME, "containerPath": TMP_PATH, "readOnly": False}],
        "environment": [{"name": key, "value": environment[key]} for key in sorted(environment)],
        "secrets": sorted(
            ({"name": s["name"], "valueFrom": s["valueFrom"]} for s in secrets),
            key=lambda entry: entry["name"],
        ),
        "stopTimeout": stop_timeout_seconds,
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": region,
                "awslogs-stream-prefix": name,
            },
        },
    }


def serialise(containers: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(list(containers), sort_keys=True)


def execution_role_policy(
    *, repository_arn: str, log_group_arn: str, secret_arns: Sequence[str], kms_key_arn: str
) -> str:
    """What ECS needs to start a task: pull this image, write this log group, read these
    secrets, decrypt with this key. `ecr:GetAuthorizationToken` has no resource-level scope."""
    statements = [
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": sorted(ECR_PULL_ACTIONS), "Resource": repository_arn},
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:*",
        },
        {
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": sorted(secret_arns),
        },
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": kms_key_arn},
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def execution_policy(
    *,
    repository_arn: pulumi.Input[str],
    log_group_arn: pulumi.Input[str],
    secret_arns: pulumi.Input[Mapping[str, str]],
    kms_key_arn: pulumi.Input[str],
) -> pulumi.Output[str]:
    """`execution_role_policy` once its ARNs are known; `secret_arns` maps name to ARN."""
    return pulumi.Output.all(repository_arn, log_group_arn, secret_arns, kms_key_arn).apply(
        lambda values: execution_role_policy(
            repository_arn=values[0],
            log_group_arn=values[1],
            secret_arns=list(values[2].values()),
            kms_key_arn=values[3],
        )
    )


def fargate_task_definition(
    name: str,
    *,
    family: str,
    cpu: int,
    memory: int,
    execution_role_arn: pulumi.Input[str],
    task_role_arn: pulumi.Input[str],
    container_definitions: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> aws.ecs.TaskDefinition:
    """A Fargate task definition (x86-64, awsvpc) with the task-local /tmp volume."""
    return aws.ecs.TaskDefinition(
        name,
        family=family,
        cpu=str(cpu),
        memory=str(memory),
        network_mode="awsvpc",
        requires_compatibilities=["FARGATE"],
        runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
            operating_system_family="LINUX", cpu_architecture="X86_64"
        ),
        execution_role_arn=execution_role_arn,
        task_role_arn=task_role_arn,
        # A task-local volume: the only writable path (/tmp) under a read-only root.
        volumes=[aws.ecs.TaskDefinitionVolumeArgs(name=TMP_VOLUME)],
        container_definitions=container_definitions,
        opts=opts,
    )
