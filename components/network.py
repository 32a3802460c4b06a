"""The VPC: public subnets for the load balancer, private subnets for the tasks, flow logs on.

Private subnets reach the internet through NAT (none, one shared, or one per zone) and, where the
stack asks, AWS services through VPC endpoints (vpc_endpoints.py). Security groups
(security_groups.py): the load balancer accepts 443 only from Cloudflare's published ranges;
tasks accept only the load balancer on the app port; egress is limited to what each side needs.

A little over 200 lines: routing stays beside the VPC and subnets it routes, and the two rules
between the load balancer and the tasks stay here, where tests/plan/test_cli.py rewrites one of
them to show a blocked change in the plan.
"""

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from app.contract import APP_PORT
from components.flow_logs import create_flow_logs
from components.security_groups import (
    ANYWHERE_IPV4,
    RuleType,
    allow_https_from_cloudflare,
    allow_task_egress,
    port_rule,
    security_group,
)
from components.vpc_endpoints import create_vpc_endpoints
from config.sections import NetworkSettings


@dataclass
class NetworkArgs:
    prefix: str
    region: str
    settings: NetworkSettings
    kms_key_arn: pulumi.Input[str]
    """The stack's key: it encrypts the flow-log group."""


def subnet_cidrs(vpc_cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """Public and private subnet blocks: /+4 slices, public from the bottom, private from slot 8."""
    network = ipaddress.IPv4Network(vpc_cidr)
    slices = [str(block) for block in network.subnets(prefixlen_diff=4)]
    return slices[:zones], slices[8 : 8 + zones]


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    """One public subnet per zone, for the load balancer (and NAT gateways)."""
    private_subnet_ids: list[pulumi.Output[str]]
    """One private subnet per zone, for the tasks."""
    alb_security_group_id: pulumi.Output[str]
    task_security_group_id: pulumi.Output[str]
    availability_zones: list[str]
    internet_gateway: aws.ec2.InternetGateway
    """The VPC's internet gateway, attached on creation. What reaches the internet from the
    public subnets (NAT gateways, an internet-facing load balancer) depends on it: AWS refuses
    them while the VPC has no internet gateway, and nothing in their inputs orders them."""

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:network:Network", name, None, opts)
        self._name = name
        self._settings = settings = args.settings
        self._child = pulumi.ResourceOptions(parent=self)
        zones = aws.get_availability_zones(
            state="available", opts=pulumi.InvokeOptions(parent=self)
        )
        if len(zones.names) < settings.availability_zone_count:
            raise ValueError(
                f"availabilityZoneCount {settings.availability_zone_count} exceeds the "
                f"{len(zones.names)} zones of {args.region}"
            )
        self.availability_zones = sorted(zones.names)[: settings.availability_zone_count]
        self._vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=settings.vpc_cidr,
            # Interface endpoints with private DNS need both DNS attributes on.
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": f"{name}-vpc"},
            opts=self._child,
        )
        self.vpc_id = self._vpc.id
        # FSBP EC2.2 / CIS 5.4: the VPC's default group admits and sends nothing. Adopting it
        # with no rules makes the provider remove AWS's defaults (all from itself, all out);
        # nothing here uses it, so anything placed in it by mistake is cut off.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=self._vpc.id,
            ingress=[],
            egress=[],
            tags={"Name": f"{name}-default-closed"},
            opts=self._child,
        )
        public_cidrs, private_cidrs = subnet_cidrs(settings.vpc_cidr, len(self.availability_zones))
        public = self._create_subnets("public", public_cidrs)
        private = self._create_subnets("private", private_cidrs)
        self.public_subnet_ids = [subnet.id for subnet in public]
        self.private_subnet_ids = [subnet.id for subnet in private]
        self._create_public_routes(public)
        private_route_tables = self._create_private_routes(public, private)
        create_flow_logs(
            name,
            prefix=args.prefix,
            vpc_id=self._vpc.id,
            retention_days=settings.flow_log_retention_days,
            kms_key_arn=args.kms_key_arn,
            opts=self._child,
        )
        tasks = self._create_security_groups()
        if settings.vpc_endpoints:
            create_vpc_endpoints(
                name,
                region=args.region,
                vpc_id=self._vpc.id,
                route_table_ids=[table.id for table in private_route_tables],
                subnet_ids=self.private_subnet_ids,
                tasks=tasks,
                opts=self._child,
            )
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

    def _route_table(
        self,
        name: str,
        subnet: aws.ec2.Subnet | None = None,
        *,
        gateway_id: pulumi.Input[str] | None = None,
        nat_gateway_id: pulumi.Input[str] | None = None,
    ) -> aws.ec2.RouteTable:
        """Route table `name`: a default route where a gateway is given, `subnet` associated."""
        table = aws.ec2.RouteTable(name, vpc_id=self._vpc.id, opts=self._child)
        if gateway_id is not None or nat_gateway_id is not None:
            aws.ec2.Route(
                f"{name}-default",
                route_table_id=table.id,
                destination_cidr_block=ANYWHERE_IPV4,
                gateway_id=gateway_id,
                nat_gateway_id=nat_gateway_id,
                opts=self._child,
            )
        if subnet is not None:
            self._associate(name, table, subnet)
        return table

    def _associate(self, name: str, table: aws.ec2.RouteTable, subnet: aws.ec2.Subnet) -> None:
        aws.ec2.RouteTableAssociation(
            name, route_table_id=table.id, subnet_id=subnet.id, opts=self._child
        )

    def _create_public_routes(self, public: list[aws.ec2.Subnet]) -> None:
        # Created with vpc_id, the gateway is attached to the VPC before it counts as created:
        # this resource is the attachment (no separate InternetGatewayAttachment).
        gateway = aws.ec2.InternetGateway(
            f"{self._name}-igw", vpc_id=self._vpc.id, opts=self._child
        )
        self.internet_gateway = gateway
        table = self._route_table(f"{self._name}-public", gateway_id=gateway.id)
        for index, subnet in enumerate(public):
            self._associate(f"{self._name}-public-{index}", table, subnet)

    def _create_nat_gateways(self, public: list[aws.ec2.Subnet]) -> list[aws.ec2.NatGateway]:
        count = {"none": 0, "single": 1, "per-az": len(public)}[self._settings.nat_mode]
        gateways = []
        # A public NAT gateway (and its address) needs the VPC's internet gateway attached
        # first: nothing in their inputs says so, hence the explicit dependency.
        after_gateway = pulumi.ResourceOptions(parent=self, depends_on=[self.internet_gateway])
        for index, subnet in enumerate(public[:count]):
            address = aws.ec2.Eip(f"{self._name}-nat-{index}", domain="vpc", opts=after_gateway)
            gateways.append(
                aws.ec2.NatGateway(
                    f"{self._name}-nat-{index}",
                    allocation_id=address.id,
                    subnet_id=subnet.id,
                    opts=after_gateway,
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
            # Per-zone NAT: zone i's gateway; a single NAT serves every zone.
            nat = gateways[min(index, len(gateways) - 1)].id if gateways else None
            tables.append(
                self._route_table(f"{self._name}-private-{index}", subnet, nat_gateway_id=nat)
            )
        return tables

    def _create_security_groups(self) -> aws.ec2.SecurityGroup:
        """The load balancer's and the tasks' groups; returns the tasks' (endpoints admit it)."""
        name = self._name
        alb = security_group(name, "alb", self._vpc.id, self._child)
        tasks = security_group(name, "tasks", self._vpc.id, self._child)
        allow_https_from_cloudflare(name, alb, self._child)
        self._port_rule(aws.vpc.SecurityGroupEgressRule, "alb-to-tasks", alb, APP_PORT, tasks)
        self._port_rule(aws.vpc.SecurityGroupIngressRule, "tasks-from-alb", tasks, APP_PORT, alb)
        allow_task_egress(name, tasks, self._settings.database_egress_cidrs, self._child)
        self.alb_security_group_id = alb.id
        self.task_security_group_id = tasks.id
        return tasks

    def _port_rule(
        self,
        rule_type: RuleType,
        role: str,
        group: aws.ec2.SecurityGroup,
        port: int,
        peer: aws.ec2.SecurityGroup,
    ) -> None:
        port_rule(self._name, rule_type, role, group, port, peer=peer, opts=self._child)
