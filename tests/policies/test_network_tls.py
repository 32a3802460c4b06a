import pytest

from tests.policies.conftest import REQUIRED_TAGS

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
