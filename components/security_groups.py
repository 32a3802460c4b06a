"""The network's security groups and their rules, each rule a resource of its own.

The load balancer accepts 443 only from Cloudflare's published ranges (no port 80: Cloudflare
reaches the origin over HTTPS only, and the load balancer has no listener there; and since those
ranges are shared by every Cloudflare customer, the listener also requires the origin secret,
load_balancer.py); tasks accept only the load balancer on the app port and reach out only over
HTTPS and to the database blocks. Separate rule resources let a preview show one rule added or
removed instead of a whole group replaced.
"""

import re
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
import pulumi_cloudflare as cloudflare

from app.contract import DATABASE_PORT

HTTPS_PORT = 443
ANYWHERE_IPV4 = "0.0.0.0/0"

GROUP_DESCRIPTIONS = {
    "alb": "Load balancer: HTTPS from Cloudflare only",
    "tasks": "App tasks: app port from the load balancer only",
    "endpoints": "VPC endpoints: HTTPS from app tasks",
}

RuleType = type[aws.vpc.SecurityGroupIngressRule] | type[aws.vpc.SecurityGroupEgressRule]


def rule_suffix(cidr: str) -> str:
    """A logical-name-safe form of a CIDR block: `173.245.48.0/20` -> `173-245-48-0-20`."""
    return re.sub(r"[^0-9a-f]+", "-", cidr.lower()).strip("-")


def security_group(
    name: str, role: str, vpc_id: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> aws.ec2.SecurityGroup:
    """The group of `role` (a key of GROUP_DESCRIPTIONS), with no rules of its own."""
    # Rules are separate resources; the provider removes AWS's default allow-all egress rule
    # from a group it creates, so a group starts closed both ways.
    return aws.ec2.SecurityGroup(
        f"{name}-{role}",
        vpc_id=vpc_id,
        description=GROUP_DESCRIPTIONS[role],
        tags={"Name": f"{name}-{role}"},
        opts=opts,
    )


def tcp_rule(
    rule_type: RuleType,
    logical_name: str,
    group: aws.ec2.SecurityGroup,
    port: int,
    *,
    description: str,
    opts: pulumi.ResourceOptions,
    cidr_ipv4: str | None = None,
    cidr_ipv6: str | None = None,
    peer: aws.ec2.SecurityGroup | None = None,
) -> None:
    """One TCP port of `group`, to or from a CIDR block or another group (`peer`)."""
    rule_type(
        logical_name,
        security_group_id=group.id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        cidr_ipv4=cidr_ipv4,
        cidr_ipv6=cidr_ipv6,
        referenced_security_group_id=peer.id if peer else None,
        description=description,
        opts=opts,
    )


def port_rule(
    name: str,
    rule_type: RuleType,
    role: str,
    group: aws.ec2.SecurityGroup,
    port: int,
    *,
    peer: aws.ec2.SecurityGroup,
    opts: pulumi.ResourceOptions,
) -> None:
    """`port` of `group`, to or from the members of `peer`; `role` names and describes it."""
    tcp_rule(
        rule_type,
        f"{name}-{role}",
        group,
        port,
        description=role.replace("-", " "),
        peer=peer,
        opts=opts,
    )


def allow_https_from_cloudflare(
    name: str, alb: aws.ec2.SecurityGroup, opts: pulumi.ResourceOptions
) -> None:
    """One ingress rule per published Cloudflare range, IPv4 and IPv6."""
    ranges = cloudflare.get_ip_ranges(opts=pulumi.InvokeOptions(parent=opts.parent))
    for cidr in [*sorted(ranges.ipv4_cidrs), *sorted(ranges.ipv6_cidrs)]:
        ipv6 = ":" in cidr
        tcp_rule(
            aws.vpc.SecurityGroupIngressRule,
            f"{name}-alb-https-from-cloudflare-{rule_suffix(cidr)}",
            alb,
            HTTPS_PORT,
            description="HTTPS from Cloudflare",
            cidr_ipv4=None if ipv6 else cidr,
            cidr_ipv6=cidr if ipv6 else None,
            opts=opts,
        )


def allow_task_egress(
    name: str,
    tasks: aws.ec2.SecurityGroup,
    database_cidrs: Sequence[str],
    opts: pulumi.ResourceOptions,
) -> None:
    """HTTPS anywhere (integrations and AWS APIs) and PostgreSQL to the database blocks only."""
    tcp_rule(
        aws.vpc.SecurityGroupEgressRule,
        f"{name}-tasks-https-out",
        tasks,
        HTTPS_PORT,
        description="HTTPS to integrations (Supabase, n8n, Google, Sentry) and AWS APIs",
        cidr_ipv4=ANYWHERE_IPV4,
        opts=opts,
    )
    for cidr in database_cidrs:
        tcp_rule(
            aws.vpc.SecurityGroupEgressRule,
            f"{name}-tasks-database-out-{rule_suffix(cidr)}",
            tasks,
            DATABASE_PORT,
            description="PostgreSQL to the database",
            cidr_ipv4=cidr,
            opts=opts,
        )
