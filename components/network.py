"""The VPC: public subnets for the load balancer, private subnets for the tasks, flow logs on.

Private subnets reach the internet through NAT (none, one shared, or one per zone) and, where the
stack asks, AWS services through VPC endpoints. Security groups: the load balancer accepts 443
only from Cloudflare's published ranges; tasks accept only the load balancer on the app port;
egress is limited to what each side needs.
"""

import ipaddress
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_cloudflare as cloudflare

from components.policy_documents import assume_role_policy
from components.settings import APP_PORT, DATABASE_PORT, NatMode

HTTPS_PORT = 443
ANYWHERE_IPV4 = "0.0.0.0/0"
# Interface endpoints a Fargate task needs to start without NAT: image pulls (ECR API + Docker
# registry, layers from S3 through the gateway endpoint), its logs and its secrets.
INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs", "secretsmanager")


@dataclass
class NetworkArgs:
    prefix: str
    vpc_cidr: str
    availability_zone_count: int
    nat_mode: NatMode
    vpc_endpoints: bool
    database_egress_cidrs: Sequence[str]
    flow_log_retention_days: int
    kms_key_arn: pulumi.Input[str]
    region: str


def subnet_cidrs(vpc_cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """Public and private subnet blocks: /+4 slices, public from the bottom, private from slot 8."""
    network = ipaddress.IPv4Network(vpc_cidr)
    slices = [str(block) for block in network.subnets(prefixlen_diff=4)]
    return slices[:zones], slices[8 : 8 + zones]


def rule_suffix(cidr: str) -> str:
    """A logical-name-safe form of a CIDR block: `173.245.48.0/20` -> `173-245-48-0-20`."""
    return re.sub(r"[^0-9a-f]+", "-", cidr.lower()).strip("-")


def flow_log_role_policy(log_group_arn: str) -> str:
    """The flow-log service may write only to this log group."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "logs:CreateLogStream",
                        "logs:DescribeLogStreams",
                        "logs:PutLogEvents",
                    ],
                    "Resource": [log_group_arn, f"{log_group_arn}:*"],
                }
            ],
        },
        sort_keys=True,
    )


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    """One public subnet per zone, for the load balancer (and NAT gateways)."""
    private_subnet_ids: list[pulumi.Output[str]]
    """One private subnet per zone, for the tasks."""
    alb_security_group_id: pulumi.Output[str]
    task_security_group_id: pulumi.Output[str]
    availability_zones: list[str]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:network:Network", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        zones = aws.get_availability_zones(
            state="available", opts=pulumi.InvokeOptions(parent=self)
        )
        if len(zones.names) < args.availability_zone_count:
            raise ValueError(
                f"availabilityZoneCount {args.availability_zone_count} exceeds the "
                f"{len(zones.names)} zones of {args.region}"
            )
        self.availability_zones = sorted(zones.names)[: args.availability_zone_count]
        self._vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            # Interface endpoints with private DNS need both DNS attributes on.
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": f"{name}-vpc"},
            opts=self._child,
        )
        self.vpc_id = self._vpc.id
        public_cidrs, private_cidrs = subnet_cidrs(args.vpc_cidr, len(self.availability_zones))
        public = self._create_subnets("public", public_cidrs)
        private = self._create_subnets("private", private_cidrs)
        self.public_subnet_ids = [subnet.id for subnet in public]
        self.private_subnet_ids = [subnet.id for subnet in private]
        self._create_public_routes(public)
        private_route_tables = self._create_private_routes(public, private)
        self._create_flow_logs()
        self._create_security_groups()
        if args.vpc_endpoints:
            self._create_endpoints(private_route_tables)
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "alb_security_group_id": self.alb_security_group_id,
                "task_security_group_id": self.task_security_group_id,
            }
        )

    def _create_subnets(self, tier: str, cidrs: list[str]) -> list[aws.ec2.Subnet]:
        return [
            aws.ec2.Subnet(
                f"{self._name}-{tier}-{index}",
                vpc_id=self._vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                # Nothing gets a public address implicitly: the ALB and NAT have their own.
                map_public_ip_on_launch=False,
                tags={"Name": f"{self._name}-{tier}-{zone}", "tier": tier},
                opts=self._child,
            )
            for index, (zone, cidr) in enumerate(zip(self.availability_zones, cidrs, strict=True))
        ]

    def _create_public_routes(self, public: list[aws.ec2.Subnet]) -> None:
        gateway = aws.ec2.InternetGateway(
            f"{self._name}-igw", vpc_id=self._vpc.id, opts=self._child
        )
        table = aws.ec2.RouteTable(f"{self._name}-public", vpc_id=self._vpc.id, opts=self._child)
        aws.ec2.Route(
            f"{self._name}-public-default",
            route_table_id=table.id,
            destination_cidr_block=ANYWHERE_IPV4,
            gateway_id=gateway.id,
            opts=self._child,
        )
        for index, subnet in enumerate(public):
            aws.ec2.RouteTableAssociation(
                f"{self._name}-public-{index}",
                route_table_id=table.id,
                subnet_id=subnet.id,
                opts=self._child,
            )

    def _create_nat_gateways(self, public: list[aws.ec2.Subnet]) -> list[aws.ec2.NatGateway]:
        count = {"none": 0, "single": 1, "per-az": len(public)}[self._args.nat_mode]
        gateways = []
        for index, subnet in enumerate(public[:count]):
            address = aws.ec2.Eip(f"{self._name}-nat-{index}", domain="vpc", opts=self._child)
            gateways.append(
                aws.ec2.NatGateway(
                    f"{self._name}-nat-{index}",
                    allocation_id=address.id,
                    subnet_id=subnet.id,
                    opts=self._child,
                )
            )
        return gateways

    def _create_private_routes(
        self, public: list[aws.ec2.Subnet], private: list[aws.ec2.Subnet]
    ) -> list[aws.ec2.RouteTable]:
        """One route table per private subnet, so per-zone NAT keeps traffic in its zone."""
        gateways = self._create_nat_gateways(public)
        tables = []
        for index, subnet in enumerate(private):
            table = aws.ec2.RouteTable(
                f"{self._name}-private-{index}", vpc_id=self._vpc.id, opts=self._child
            )
            if gateways:
                aws.ec2.Route(
                    f"{self._name}-private-{index}-default",
                    route_table_id=table.id,
                    destination_cidr_block=ANYWHERE_IPV4,
                    nat_gateway_id=gateways[min(index, len(gateways) - 1)].id,
                    opts=self._child,
                )
            aws.ec2.RouteTableAssociation(
                f"{self._name}-private-{index}",
                route_table_id=table.id,
                subnet_id=subnet.id,
                opts=self._child,
            )
            tables.append(table)
        return tables

    def _create_flow_logs(self) -> None:
        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-flow-logs",
            name=f"/{self._args.prefix}/vpc-flow-logs",
            retention_in_days=self._args.flow_log_retention_days,
            kms_key_id=self._args.kms_key_arn,
            opts=self._child,
        )
        role = aws.iam.Role(
            f"{self._name}-flow-logs",
            assume_role_policy=assume_role_policy("vpc-flow-logs.amazonaws.com"),
            opts=self._child,
        )
        aws.iam.RolePolicy(
            f"{self._name}-flow-logs",
            role=role.id,
            policy=log_group.arn.apply(flow_log_role_policy),
            opts=self._child,
        )
        aws.ec2.FlowLog(
            f"{self._name}-flow-log",
            vpc_id=self._vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            opts=self._child,
        )

    def _security_group(self, role: str, description: str) -> aws.ec2.SecurityGroup:
        # Rules are separate resources; the provider removes AWS's default allow-all egress rule
        # from a group it creates, so a group starts closed both ways.
        return aws.ec2.SecurityGroup(
            f"{self._name}-{role}",
            vpc_id=self._vpc.id,
            description=description,
            tags={"Name": f"{self._name}-{role}"},
            opts=self._child,
        )

    def _create_security_groups(self) -> None:
        alb = self._security_group("alb", "Load balancer: HTTPS from Cloudflare only")
        tasks = self._security_group("tasks", "App tasks: app port from the load balancer only")
        ranges = cloudflare.get_ip_ranges(opts=pulumi.InvokeOptions(parent=self))
        cloudflare_ranges = [("ipv4", cidr) for cidr in sorted(ranges.ipv4_cidrs)] + [
            ("ipv6", cidr) for cidr in sorted(ranges.ipv6_cidrs)
        ]
        for family, cidr in cloudflare_ranges:
            aws.vpc.SecurityGroupIngressRule(
                f"{self._name}-alb-https-from-cloudflare-{rule_suffix(cidr)}",
                security_group_id=alb.id,
                ip_protocol="tcp",
                from_port=HTTPS_PORT,
                to_port=HTTPS_PORT,
                description="HTTPS from Cloudflare",
                cidr_ipv4=cidr if family == "ipv4" else None,
                cidr_ipv6=cidr if family == "ipv6" else None,
                opts=self._child,
            )
        self._port_rule(aws.vpc.SecurityGroupEgressRule, "alb-to-tasks", alb, APP_PORT, tasks)
        self._port_rule(aws.vpc.SecurityGroupIngressRule, "tasks-from-alb", tasks, APP_PORT, alb)
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-tasks-https-out",
            security_group_id=tasks.id,
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            cidr_ipv4=ANYWHERE_IPV4,
            description="HTTPS to integrations (Supabase, n8n, Google, Sentry) and AWS APIs",
            opts=self._child,
        )
        for cidr in self._args.database_egress_cidrs:
            aws.vpc.SecurityGroupEgressRule(
                f"{self._name}-tasks-database-out-{rule_suffix(cidr)}",
                security_group_id=tasks.id,
                ip_protocol="tcp",
                from_port=DATABASE_PORT,
                to_port=DATABASE_PORT,
                cidr_ipv4=cidr,
                description="PostgreSQL to the database",
                opts=self._child,
            )
        self._tasks = tasks
        self.alb_security_group_id = alb.id
        self.task_security_group_id = tasks.id

    def _port_rule(
        self,
        rule_type: type[aws.vpc.SecurityGroupIngressRule] | type[aws.vpc.SecurityGroupEgressRule],
        role: str,
        group: aws.ec2.SecurityGroup,
        port: int,
        peer: aws.ec2.SecurityGroup,
    ) -> None:
        rule_type(
            f"{self._name}-{role}",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            referenced_security_group_id=peer.id,
            description=role.replace("-", " "),
            opts=self._child,
        )

    def _create_endpoints(self, private_route_tables: list[aws.ec2.RouteTable]) -> None:
        endpoints = self._security_group("endpoints", "VPC endpoints: HTTPS from app tasks")
        self._port_rule(
            aws.vpc.SecurityGroupIngressRule,
            "endpoints-from-tasks",
            endpoints,
            HTTPS_PORT,
            self._tasks,
        )
        service_prefix = f"com.amazonaws.{self._args.region}"
        aws.ec2.VpcEndpoint(
            f"{self._name}-endpoint-s3",
            vpc_id=self._vpc.id,
            service_name=f"{service_prefix}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[table.id for table in private_route_tables],
            opts=self._child,
        )
        for service in INTERFACE_ENDPOINTS:
            aws.ec2.VpcEndpoint(
                f"{self._name}-endpoint-{service.replace('.', '-')}",
                vpc_id=self._vpc.id,
                service_name=f"{service_prefix}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=self.private_subnet_ids,
                security_group_ids=[endpoints.id],
                opts=self._child,
            )
