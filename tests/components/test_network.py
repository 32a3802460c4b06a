"""The VPC, its subnets, egress paths, flow logs and security groups, for both stacks.

The dependency tests stand on AWS's "When a DependsOn attribute is required"
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-dependson.html#gatewayattachment):
Elastic IPs, NAT gateways and load balancers with public addresses must wait for the VPC's
internet gateway attachment, which nothing in their inputs implies; the Terraform provider's
own EIP and NAT gateway documentation asks the same (`depends_on` the internet gateway).
"""

import ipaddress

import pytest

from components.network import subnet_cidrs
from components.security_groups import rule_suffix
from plan.mocks import CLOUDFLARE_IPV4, CLOUDFLARE_IPV6

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


def rules_of(rendering, type_token, group_name):
    group_id = f"{group_name}-id"
    return [r for r in rendering.of_type(type_token) if r.inputs["securityGroupId"] == group_id]


def test_subnet_cidrs_are_disjoint_slices_of_the_vpc():
    public, private = subnet_cidrs("10.40.0.0/16", 3)
    assert public == ["10.40.0.0/20", "10.40.16.0/20", "10.40.32.0/20"]
    assert private == ["10.40.128.0/20", "10.40.144.0/20", "10.40.160.0/20"]
    blocks = [ipaddress.IPv4Network(block) for block in public + private]
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])


def test_rule_suffix_is_name_safe():
    assert rule_suffix("173.245.48.0/20") == "173-245-48-0-20"
    assert rule_suffix("2400:CB00::/32") == "2400-cb00-32"


@pytest.mark.parametrize(("stack", "zones"), [("staging", 2), ("prod", 3)])
def test_one_public_and_one_private_subnet_per_zone(stack, zones, staging, prod):
    rendering = {"staging": staging, "prod": prod}[stack]
    subnets = rendering.of_type("aws:ec2/subnet:Subnet")
    public = [s for s in subnets if s.inputs["tags"]["tier"] == "public"]
    private = [s for s in subnets if s.inputs["tags"]["tier"] == "private"]
    assert len(public) == len(private) == zones
    assert len({s.inputs["availabilityZone"] for s in private}) == zones >= 2
    assert not any(s.inputs["mapPublicIpOnLaunch"] for s in subnets)


def test_nat_per_stack(staging, prod):
    assert len(staging.of_type("aws:ec2/natGateway:NatGateway")) == 1
    assert len(prod.of_type("aws:ec2/natGateway:NatGateway")) == 3
    # Per-zone NAT: each private route table uses the NAT of its own zone.
    nat_routes = [r for r in prod.of_type("aws:ec2/route:Route") if "natGatewayId" in r.inputs]
    assert sorted(r.inputs["natGatewayId"] for r in nat_routes) == [
        f"network-nat-{index}-id" for index in range(3)
    ]


IGW = "aws:ec2/internetGateway:InternetGateway"


def test_the_internet_gateway_is_attached_on_creation(rendering):
    """Created with vpc_id, the gateway resource is the attachment: there is no other one."""
    (gateway,) = rendering.of_type(IGW)
    assert gateway.inputs["vpcId"] == rendering.get("aws:ec2/vpc:Vpc", "network-vpc").outputs["id"]
    assert rendering.of_type("aws:ec2/internetGatewayAttachment:InternetGatewayAttachment") == []


def test_nat_gateways_and_their_addresses_wait_for_the_internet_gateway(rendering):
    gateway = rendering.get(IGW, "network-igw")
    nat = rendering.of_type("aws:ec2/natGateway:NatGateway")
    addresses = rendering.of_type("aws:ec2/eip:Eip")
    assert len(nat) == len(addresses) == {"staging": 1, "prod": 3}[rendering.stack]
    for resource in nat + addresses:
        # Explicit, not through other resources: no input of theirs leads to the gateway.
        assert gateway.urn in resource.dependencies, resource.name


def test_no_nat_means_no_default_route_from_private_subnets(render_with):
    rendering = render_with(
        "staging", {"natMode": "none", "vpcEndpoints": True, "tracingEnabled": False}
    )
    assert rendering.of_type("aws:ec2/natGateway:NatGateway") == []
    routes = rendering.of_type("aws:ec2/route:Route")
    assert [r.name for r in routes] == ["network-public-default"]


def test_vpc_endpoints_where_the_stack_asks(staging, prod):
    assert staging.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") == []
    endpoints = {
        r.inputs["serviceName"]: r.inputs for r in prod.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    }
    prefix = "com.amazonaws.us-west-2."
    assert sorted(endpoints) == [
        prefix + s for s in ("ecr.api", "ecr.dkr", "logs", "s3", "secretsmanager")
    ]
    assert endpoints[prefix + "s3"]["vpcEndpointType"] == "Gateway"
    assert all(e["privateDnsEnabled"] for name, e in endpoints.items() if not name.endswith("s3"))
    endpoint_ingress = rules_of(prod, INGRESS, "network-endpoints")
    assert [
        (r.inputs["fromPort"], r.inputs["referencedSecurityGroupId"]) for r in endpoint_ingress
    ] == [(443, "network-tasks-id")]


def test_alb_accepts_https_only_from_cloudflare(rendering):
    ingress = rules_of(rendering, INGRESS, "network-alb")
    sources = sorted(r.inputs.get("cidrIpv4") or r.inputs["cidrIpv6"] for r in ingress)
    assert sources == sorted(CLOUDFLARE_IPV4 + CLOUDFLARE_IPV6)
    assert {
        (r.inputs["fromPort"], r.inputs["toPort"], r.inputs["ipProtocol"]) for r in ingress
    } == {(443, 443, "tcp")}


def test_nothing_is_open_to_the_whole_internet(rendering):
    for rule in rendering.of_type(INGRESS):
        assert rule.inputs.get("cidrIpv4") != "0.0.0.0/0", rule.urn
        assert rule.inputs.get("cidrIpv6") != "::/0", rule.urn
    for group in rendering.of_type("aws:ec2/securityGroup:SecurityGroup"):
        assert "ingress" not in group.inputs, group.urn
        assert "egress" not in group.inputs, group.urn


def test_tasks_accept_only_the_load_balancer(rendering):
    ingress = rules_of(rendering, INGRESS, "network-tasks")
    assert [(r.inputs["fromPort"], r.inputs["referencedSecurityGroupId"]) for r in ingress] == [
        (8080, "network-alb-id")
    ]
    alb_egress = rules_of(rendering, EGRESS, "network-alb")
    assert [(r.inputs["fromPort"], r.inputs["referencedSecurityGroupId"]) for r in alb_egress] == [
        (8080, "network-tasks-id")
    ]


def test_task_egress_is_https_and_the_database_port_only(render_with):
    rendering = render_with("prod", {"databaseEgressCidrs": ["198.51.100.0/24"]})
    egress = {
        (r.inputs["fromPort"], r.inputs["toPort"], r.inputs.get("cidrIpv4"))
        for r in rules_of(rendering, EGRESS, "network-tasks")
    }
    assert egress == {(443, 443, "0.0.0.0/0"), (5432, 5432, "198.51.100.0/24")}


def test_flow_logs_go_to_an_encrypted_log_group_with_retention(rendering):
    (flow_log,) = rendering.of_type("aws:ec2/flowLog:FlowLog")
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["vpcId"] == "network-vpc-id"
    group = rendering.get("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")
    assert flow_log.inputs["logDestination"] == group.outputs["arn"]
    assert group.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    assert group.inputs["retentionInDays"] == 365


def test_the_vpcs_default_security_group_is_adopted_with_no_rules(rendering):
    (group,) = rendering.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert group.inputs["vpcId"] == "network-vpc-id"
    assert group.inputs.get("ingress", []) == []
    assert group.inputs.get("egress", []) == []
