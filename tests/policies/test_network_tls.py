import pytest

from tests.policies.conftest import REQUIRED_TAGS, stack_resource

LISTENER = "aws:lb/listener:Listener"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"

HTTPS_LISTENER = {
    "protocol": "HTTPS",
    "port": 443,
    "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
    "defaultActions": [{"type": "forward", "targetGroupArn": "arn:aws:elasticloadbalancing:tg"}],
}
HTTP_REDIRECT = {
    "protocol": "HTTP",
    "port": 80,
    "defaultActions": [
        {
            "type": "redirect",
            "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"},
        }
    ],
}


def test_https_listener_with_tls12_policy_passes(run_resource):
    assert run_resource("alb-https-listener-tls12", LISTENER, HTTPS_LISTENER) == []


@pytest.mark.parametrize("ssl_policy", ["ELBSecurityPolicy-2016-08", None])
def test_https_listener_with_old_or_default_policy_is_reported(run_resource, ssl_policy):
    props = {**HTTPS_LISTENER, "sslPolicy": ssl_policy}
    messages = run_resource("alb-https-listener-tls12", LISTENER, props)
    assert len(messages) == 1
    assert "ELBSecurityPolicy-TLS13-1-2-2021-06" in messages[0]


def test_tls_policy_list_comes_from_config(run_resource):
    config = {"allowedSslPolicies": ["ELBSecurityPolicy-TLS13-1-3-2021-06"]}
    assert run_resource("alb-https-listener-tls12", LISTENER, HTTPS_LISTENER, config=config)


def test_http_listener_that_redirects_passes(run_resource):
    assert run_resource("alb-http-listener-redirects-only", LISTENER, HTTP_REDIRECT) == []
    assert run_resource("alb-http-listener-redirects-only", LISTENER, HTTPS_LISTENER) == []


@pytest.mark.parametrize(
    "actions",
    [
        [{"type": "forward", "targetGroupArn": "arn:tg"}],
        [{"type": "redirect", "redirect": {"protocol": "HTTP", "statusCode": "HTTP_301"}}],
        [],
    ],
)
def test_http_listener_that_serves_is_reported(run_resource, actions):
    props = {"port": 80, "defaultActions": actions}  # protocol absent: HTTP is AWS's default
    assert run_resource("alb-http-listener-redirects-only", LISTENER, props)


def test_alb_dropping_invalid_headers_passes(run_resource):
    props = {
        "loadBalancerType": "application",
        "dropInvalidHeaderFields": True,
        "tags": REQUIRED_TAGS,
    }
    assert run_resource("alb-drops-invalid-headers", LOAD_BALANCER, props) == []
    network_lb = {"loadBalancerType": "network"}
    assert run_resource("alb-drops-invalid-headers", LOAD_BALANCER, network_lb) == []


def test_alb_keeping_invalid_headers_is_reported(run_resource):
    assert run_resource("alb-drops-invalid-headers", LOAD_BALANCER, {"internal": False})


CLOUDFLARE_INGRESS = {
    "ingress": [
        {
            "protocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "cidrBlocks": ["173.245.48.0/20"],
            "ipv6CidrBlocks": ["2400:cb00::/32"],
        }
    ]
}


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        (SECURITY_GROUP, CLOUDFLARE_INGRESS),
        (
            SG_RULE,
            {
                "type": "egress",
                "protocol": "-1",
                "fromPort": 0,
                "toPort": 0,
                "cidrBlocks": ["0.0.0.0/0"],
            },
        ),
        (
            INGRESS_RULE,
            {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "103.21.244.0/22"},
        ),
    ],
)
def test_ingress_limited_to_edge_ranges_passes(run_resource, resource_type, props):
    assert run_resource("security-group-no-public-ingress", resource_type, props) == []


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        (
            SECURITY_GROUP,
            {
                "ingress": [
                    {
                        "protocol": "tcp",
                        "fromPort": 8080,
                        "toPort": 8080,
                        "cidrBlocks": ["0.0.0.0/0"],
                    }
                ]
            },
        ),
        (
            SECURITY_GROUP,
            {
                "ingress": [
                    {"protocol": "-1", "fromPort": 0, "toPort": 0, "ipv6CidrBlocks": ["::/0"]}
                ]
            },
        ),
        (
            SG_RULE,
            {
                "type": "ingress",
                "protocol": "tcp",
                "fromPort": 443,
                "toPort": 443,
                "cidrBlocks": ["0.0.0.0/0"],
            },
        ),
        (INGRESS_RULE, {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv6": "::/0"}),
    ],
)
def test_world_open_ingress_is_reported(run_resource, resource_type, props):
    messages = run_resource("security-group-no-public-ingress", resource_type, props)
    assert len(messages) == 1
    assert "allowedIngressCidrs" in messages[0]


def test_world_open_port_allowed_only_when_config_lists_it(run_resource):
    props = {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "0.0.0.0/0"}
    allow_443 = {"allowedIngressCidrs": [{"cidr": "0.0.0.0/0", "ports": [80.0, 443.0]}]}
    assert (
        run_resource("security-group-no-public-ingress", INGRESS_RULE, props, config=allow_443)
        == []
    )
    wide = {**props, "fromPort": 0, "toPort": 65535}
    assert run_resource("security-group-no-public-ingress", INGRESS_RULE, wide, config=allow_443)


# FSBP ELB.5, ELB.6, ELB.12, ELB.13, EC2.15, EC2.6 (Security Hub user guide, June 2023).
SUBNET = "aws:ec2/subnet:Subnet"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
HARDENED_ALB = {
    "loadBalancerType": "application",
    "subnets": ["subnet-a", "subnet-b"],
    "accessLogs": {"bucket": "miko-prod-alb-logs", "enabled": True},
    "enableDeletionProtection": True,
    "dropInvalidHeaderFields": True,
}


@pytest.mark.parametrize(
    "policy",
    ["alb-access-logs-enabled", "alb-deletion-protection", "alb-desync-mitigation", "alb-multi-az"],
)
def test_hardened_alb_passes(run_resource, policy):
    assert run_resource(policy, LOAD_BALANCER, HARDENED_ALB) == []
    for mode in ("defensive", "strictest"):
        props = {**HARDENED_ALB, "desyncMitigationMode": mode}
        assert run_resource(policy, LOAD_BALANCER, props) == []


@pytest.mark.parametrize(
    "access_logs",
    [None, {"bucket": "miko-prod-alb-logs", "enabled": False}, {"enabled": True}],
)
def test_alb_without_access_logs_is_reported(run_resource, access_logs):
    props = {**HARDENED_ALB, "accessLogs": access_logs}
    [message] = run_resource("alb-access-logs-enabled", LOAD_BALANCER, props, name="alb")
    assert "'alb'" in message
    assert "accessLogs" in message
    assert "ELB.5" in message


@pytest.mark.parametrize("protection", [None, False])
def test_alb_without_deletion_protection_is_reported(run_resource, protection):
    props = {**HARDENED_ALB, "enableDeletionProtection": protection}
    [message] = run_resource("alb-deletion-protection", LOAD_BALANCER, props, name="alb")
    assert message.startswith("Load balancer 'alb' must set enableDeletionProtection to true")
    assert "ELB.6" in message


def test_alb_in_monitor_desync_mode_is_reported(run_resource):
    props = {**HARDENED_ALB, "desyncMitigationMode": "monitor"}
    [message] = run_resource("alb-desync-mitigation", LOAD_BALANCER, props, name="alb")
    assert message.startswith("Load balancer 'alb' must set desyncMitigationMode to 'defensive'")
    assert "ELB.12" in message


@pytest.mark.parametrize(
    "placement",
    [{"subnets": ["subnet-a"]}, {"subnetMappings": [{"subnetId": "subnet-a"}]}, {}],
)
def test_alb_in_one_zone_is_reported(run_resource, placement):
    props = {**{k: v for k, v in HARDENED_ALB.items() if k != "subnets"}, **placement}
    [message] = run_resource("alb-multi-az", LOAD_BALANCER, props, name="alb")
    assert "Load balancer 'alb'" in message
    assert "two Availability Zones" in message
    assert "ELB.13" in message


def test_alb_placed_by_subnet_mappings_passes(run_resource):
    mappings = [{"subnetId": "subnet-a"}, {"subnetId": "subnet-b"}]
    props = {"loadBalancerType": "network", "subnetMappings": mappings}
    assert run_resource("alb-multi-az", LOAD_BALANCER, props) == []


@pytest.mark.parametrize("assign", [False, None])
def test_subnet_without_public_ips_passes(run_resource, assign):
    props = {"cidrBlock": "10.40.0.0/20", "mapPublicIpOnLaunch": assign}
    assert run_resource("subnet-no-auto-public-ip", SUBNET, props) == []


def test_subnet_assigning_public_ips_is_reported(run_resource):
    props = {"cidrBlock": "10.40.0.0/20", "mapPublicIpOnLaunch": True}
    [message] = run_resource("subnet-no-auto-public-ip", SUBNET, props, name="public-0")
    assert message.startswith("Subnet 'public-0' must set mapPublicIpOnLaunch to false")
    assert "EC2.15" in message


def _vpc_and_flow_log(traffic_type):
    vpc = stack_resource(VPC, {"id": "vpc-1", "cidrBlock": "10.40.0.0/16"}, name="vpc")
    flow_log = stack_resource(
        FLOW_LOG,
        {"vpcId": "vpc-1", "trafficType": traffic_type, "logDestinationType": "cloud-watch-logs"},
        name="flow-log",
        depends_on={"vpcId": [vpc]},
    )
    return vpc, flow_log


@pytest.mark.parametrize("traffic_type", ["ALL", "REJECT"])
def test_vpc_with_flow_log_passes(run_stack, traffic_type):
    assert run_stack("vpc-flow-logs-enabled", list(_vpc_and_flow_log(traffic_type))) == []


def test_vpc_without_flow_log_is_reported(run_stack):
    vpc, accept_only = _vpc_and_flow_log("ACCEPT")
    for resources in ([vpc], [vpc, accept_only]):
        [(message, urn)] = run_stack("vpc-flow-logs-enabled", resources)
        assert urn == vpc.urn
        assert "VPC 'vpc' has no flow log recording rejected traffic" in message
        assert "EC2.6" in message
