"""VPC flow logs: every flow of the VPC, to a KMS-encrypted log group with the stack's retention."""

import pulumi
import pulumi_aws as aws

from components.iam_roles import service_role
from components.policy_documents import allow, document


def flow_log_role_policy(log_group_arn: str) -> str:
    """The flow-log service may write only to this log group."""
    return document(
        [
            allow(
                ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                [log_group_arn, f"{log_group_arn}:*"],
            )
        ]
    )


def create_flow_logs(
    name: str,
    *,
    prefix: str,
    vpc_id: pulumi.Input[str],
    retention_days: int,
    kms_key_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> None:
    """The log group, the role the flow-log service writes with, and the VPC's flow log."""
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-flow-logs",
        name=f"/{prefix}/vpc-flow-logs",
        retention_in_days=retention_days,
        kms_key_id=kms_key_arn,
        opts=opts,
    )
    role = service_role(
        f"{name}-flow-logs",
        service="vpc-flow-logs.amazonaws.com",
        policy=log_group.arn.apply(flow_log_role_policy),
        opts=opts,
    )
    aws.ec2.FlowLog(
        f"{name}-flow-log",
        vpc_id=vpc_id,
        traffic_type="ALL",
        log_destination_type="cloud-watch-logs",
        log_destination=log_group.arn,
        iam_role_arn=role.arn,
        max_aggregation_interval=60,
        opts=opts,
    )
