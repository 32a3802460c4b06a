"""VPC endpoints: tasks in private subnets reach S3, ECR, CloudWatch Logs and Secrets Manager
without NAT, through a gateway endpoint for S3 and interface endpoints for the rest."""

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.security_groups import HTTPS_PORT, port_rule, security_group

# Interface endpoints a Fargate task needs to start without NAT: image pulls (ECR API + Docker
# registry, layers from S3 through the gateway endpoint), its logs and its secrets.
INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs", "secretsmanager")


def create_vpc_endpoints(
    name: str,
    *,
    region: str,
    vpc_id: pulumi.Input[str],
    route_table_ids: Sequence[pulumi.Input[str]],
    subnet_ids: Sequence[pulumi.Input[str]],
    tasks: aws.ec2.SecurityGroup,
    opts: pulumi.ResourceOptions,
) -> None:
    """The S3 gateway on the private route tables, interface endpoints open to the tasks only."""
    endpoints = security_group(name, "endpoints", vpc_id, opts)
    port_rule(
        name,
        aws.vpc.SecurityGroupIngressRule,
        "endpoints-from-tasks",
        endpoints,
        HTTPS_PORT,
        peer=tasks,
        opts=opts,
    )
    service_prefix = f"com.amazonaws.{region}"
    aws.ec2.VpcEndpoint(
        f"{name}-endpoint-s3",
        vpc_id=vpc_id,
        service_name=f"{service_prefix}.s3",
        vpc_endpoint_type="Gateway",
        route_table_ids=list(route_table_ids),
        opts=opts,
    )
    for service in INTERFACE_ENDPOINTS:
        aws.ec2.VpcEndpoint(
            f"{name}-endpoint-{service.replace('.', '-')}",
            vpc_id=vpc_id,
            service_name=f"{service_prefix}.{service}",
            vpc_endpoint_type="Interface",
            private_dns_enabled=True,
            subnet_ids=list(subnet_ids),
            security_group_ids=[endpoints.id],
            opts=opts,
        )
