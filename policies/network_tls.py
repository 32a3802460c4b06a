"""Load balancer TLS and redirects, header hygiene, access logs, deletion protection, desync
mitigation and zones; security group ingress, default groups, subnets and VPC flow logs.

The Security Hub controls cited are those of the AWS Foundational Security Best Practices
(FSBP) standard, as the Security Hub user guide defines them (awsdocs/aws-security-hub-user-guide,
doc_source/elb-controls.md and ec2-controls.md, commit 47bfe2f, June 2023).
"""

import ipaddress
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from policies._props import (
    UNKNOWN,
    ConfigSchema,
    Props,
    Report,
    config_value,
    is_true,
    is_unknown,
    items,
    lookup,
    plain,
    property_check,
    references,
    resource_policy,
    resources_of,
    stack_policy,
    string_list_setting,
    strings,
)

LISTENER_TYPES = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
LOAD_BALANCER_TYPES = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
VPC = "aws:ec2/vpc:Vpc"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SUBNET = "aws:ec2/subnet:Subnet"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
APPLICATION_ONLY = {"loadBalancerType": (None, "application")}
DESYNC_MODES = (None, "defensive", "strictest")
"""ELB.12 passes `defensive` (the AWS default, also when the attribute is absent) and
`strictest`; `monitor` lets ambiguous requests through."""

# ELB predefined policies that only negotiate TLS 1.2 or newer:
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html
TLS12_SSL_POLICIES = [
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS-1-2-2017-01",
    "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
    "ELBSecurityPolicy-FS-1-2-2019-08",
    "ELBSecurityPolicy-FS-1-2-Res-2019-08",
    "ELBSecurityPolicy-FS-1-2-Res-2020-10",
]

TLS_SCHEMA: ConfigSchema = {
    "allowedSslPolicies": string_list_setting(
        description="ELB security policies accepted on HTTPS/TLS listeners (TLS 1.2+ only).",
        default=TLS12_SSL_POLICIES,
    )
}

INGRESS_SCHEMA: ConfigSchema = {
    "allowedIngressCidrs": {
        "type": "array",
        "description": (
            "World-open sources explicitly allowed, each with the TCP ports it may reach, e.g. "
            '{"cidr": "0.0.0.0/0", "ports": [443]}. Empty: the ALB admits only edge ranges.'
        ),
        "items": {
            "type": "object",
            "properties": {
                "cidr": {"type": "string"},
                "ports": {"type": "array", "items": {"type": "integer"}},
            },
            "required": ["cidr", "ports"],
        },
        "default": [],
    }
}


def _listener_protocol(props: Props) -> Any:
    protocol = lookup(props, "protocol")
    if isinstance(protocol, str):
        return protocol.upper()
    if protocol is None and lookup(props, "certificateArn") is None:
        return "HTTP"  # the AWS default for an application load balancer listener
    return protocol


def _check_tls_policy(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    if _listener_protocol(props) not in ("HTTPS", "TLS"):
        return
    ssl_policy = lookup(props, "sslPolicy")
    if is_unknown(ssl_policy):
        return
    allowed = config_value(args.get_config(), TLS_SCHEMA, "allowedSslPolicies")
    if ssl_policy not in allowed:
        shown = ssl_policy if isinstance(ssl_policy, str) else "the provider default"
        report(
            f"Listener '{args.name}' uses {shown}; set sslPolicy to a TLS 1.2+ policy such as "
            f"'{TLS12_SSL_POLICIES[0]}'."
        )


def _is_https_redirect(action: Any) -> bool:
    redirect = lookup(action, "redirect")
    return (
        lookup(action, "type") == "redirect"
        and str(lookup(redirect, "protocol")).upper() == "HTTPS"
        and lookup(redirect, "statusCode") == "HTTP_301"
    )


def _check_http_redirects(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    if _listener_protocol(props) != "HTTP":
        return
    actions = lookup(props, "defaultActions")
    known = [action for action in items(actions) if not is_unknown(action)]
    if actions is UNKNOWN or any(is_unknown(lookup(a, "type")) for a in known):
        return
    if not known or not all(_is_https_redirect(action) for action in known):
        report(
            f"HTTP listener '{args.name}' must only redirect: make its single default action "
            "type 'redirect' with protocol 'HTTPS' and statusCode 'HTTP_301'."
        )


_check_drop_invalid_headers = property_check(
    "Load balancer",
    "dropInvalidHeaderFields",
    is_true,
    "to true",
    only_when={"loadBalancerType": (None, "application")},
)


def _ingress_rules(resource_type: str, props: Props) -> list[dict[str, Any]]:
    """(sources, protocol, fromPort, toPort) of each ingress rule, whatever resource shape."""
    if resource_type == SECURITY_GROUP:
        return [
            {
                "sources": strings(lookup(rule, "cidrBlocks"))
                + strings(lookup(rule, "ipv6CidrBlocks")),
                "protocol": lookup(rule, "protocol"),
                "from": lookup(rule, "fromPort"),
                "to": lookup(rule, "toPort"),
            }
            for rule in items(lookup(props, "ingress"))
        ]
    if resource_type == SECURITY_GROUP_RULE:
        if lookup(props, "type") != "ingress":
            return []
        sources = strings(lookup(props, "cidrBlocks")) + strings(lookup(props, "ipv6CidrBlocks"))
        protocol = lookup(props, "protocol")
    else:
        sources = strings(lookup(props, "cidrIpv4")) + strings(lookup(props, "cidrIpv6"))
        protocol = lookup(props, "ipProtocol")
    return [
        {
            "sources": sources,
            "protocol": protocol,
            "from": lookup(props, "fromPort"),
            "to": lookup(props, "toPort"),
        }
    ]


def _is_world(cidr: str) -> bool:
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def _is_allowed(rule: dict[str, Any], cidr: str, allowances: list[Any]) -> bool:
    protocol = str(rule["protocol"]).lower()
    if protocol not in ("tcp", "6") or rule["from"] != rule["to"]:
        return False
    return any(
        isinstance(entry, dict)
        and entry.get("cidr") == cidr
        and rule["from"] in [int(port) for port in entry.get("ports", [])]
        for entry in allowances
    )


def _port_label(rule: dict[str, Any]) -> str:
    if str(rule["protocol"]) in ("-1", "all"):
        return "all protocols and ports"
    return f"{rule['protocol']} ports {rule['from']}-{rule['to']}"


def _check_public_ingress(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    allowances = config_value(args.get_config(), INGRESS_SCHEMA, "allowedIngressCidrs")
    for rule in _ingress_rules(args.resource_type, props):
        if any(is_unknown(rule[key]) for key in ("protocol", "from", "to")):
            continue
        for cidr in filter(_is_world, rule["sources"]):
            if not _is_allowed(rule, cidr, allowances):
                report(
                    f"'{args.name}' admits {cidr} on {_port_label(rule)}: restrict the source to "
                    "the edge (Cloudflare) ranges, or list the port for this CIDR in the policy's "
                    "allowedIngressCidrs."
                )


def _open_rules(group: PolicyResource) -> list[str]:
    """The rule lists ('ingress', 'egress') a default security group still has."""
    props = plain(group.props)
    open_rules = []
    for direction in ("ingress", "egress"):
        rules = lookup(props, direction)
        if not is_unknown(rules) and rules:
            open_rules.append(direction)
    return open_rules


def _check_default_groups_closed(args: StackValidationArgs, report: ReportViolation) -> None:
    groups = list(resources_of(args, DEFAULT_SECURITY_GROUP))
    for vpc in resources_of(args, VPC):
        adopted = [group for group in groups if references(group, "vpcId", vpc)]
        if not adopted:
            report(
                f"VPC '{vpc.name}' keeps its default security group's rules (all traffic from the "
                "group, all egress): adopt it with an aws.ec2.DefaultSecurityGroup with no "
                "ingress and no egress (FSBP EC2.2, CIS 5.4).",
                vpc.urn,
            )
        for group in adopted:
            for direction in _open_rules(group):
                report(
                    f"Default security group '{group.name}' of VPC '{vpc.name}' has {direction} "
                    "rules: leave it with none (FSBP EC2.2, CIS 5.4).",
                    group.urn,
                )


def _check_access_logs(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    """FSBP ELB.5 (elb-controls.md, "Application and Classic Load Balancers logging should be
    enabled"): fails when access_logs.s3.enabled is false, i.e. without an `accessLogs` block
    that is enabled and names a bucket."""
    if lookup(props, "loadBalancerType") not in APPLICATION_ONLY["loadBalancerType"]:
        return
    logs = lookup(props, "accessLogs")
    enabled, bucket = lookup(logs, "enabled"), lookup(logs, "bucket")
    if any(is_unknown(value) for value in (logs, enabled, bucket)):
        return
    if enabled is not True or not bucket:
        report(
            f"Load balancer '{args.name}' must set accessLogs with enabled true and a bucket: "
            "without access logs no request to it can be traced (FSBP ELB.5)."
        )


_check_deletion_protection = property_check(
    "Load balancer",
    "enableDeletionProtection",
    is_true,
    "to true: AWS's default is false, and one update could delete the site's entry point "
    "(FSBP ELB.6)",
    only_when=APPLICATION_ONLY,
)
_check_desync_mitigation = property_check(
    "Load balancer",
    "desyncMitigationMode",
    lambda mode: mode in DESYNC_MODES,
    "to 'defensive' (the AWS default) or 'strictest': 'monitor' forwards requests that may be "
    "smuggled (FSBP ELB.12)",
    only_when=APPLICATION_ONLY,
)


def _check_multi_az(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    """FSBP ELB.13 (elb-controls.md): an Application, Network or Gateway Load Balancer fails in
    fewer than two Availability Zones. A load balancer takes one subnet per zone, so two subnets
    (or subnet mappings) are two zones."""
    subnets, mappings = lookup(props, "subnets"), lookup(props, "subnetMappings")
    if is_unknown(subnets) or is_unknown(mappings):
        return
    count = max(len(items(subnets)), len(items(mappings)))
    if count < 2:
        report(
            f"Load balancer '{args.name}' is in {count} subnet(s): give it subnets in at least "
            "two Availability Zones, so losing one zone does not take the site down (FSBP ELB.13)."
        )


_check_subnet_public_ip = property_check(
    "Subnet",
    "mapPublicIpOnLaunch",
    lambda assign: assign is not True,
    "to false: nothing launched in it may get a public IPv4 address implicitly (FSBP EC2.15)",
)


def _records_rejects(flow_log: PolicyResource) -> bool:
    """Whether a flow log records rejected traffic (EC2.6's trafficType parameter: REJECT):
    ALL and REJECT do, ACCEPT does not."""
    traffic = lookup(plain(flow_log.props), "trafficType")
    return not (isinstance(traffic, str) and traffic.upper() == "ACCEPT")


def _check_flow_logs(args: StackValidationArgs, report: ReportViolation) -> None:
    """FSBP EC2.6 / CIS 2.9 (ec2-controls.md, "VPC flow logging should be enabled in all VPCs"):
    every VPC has a flow log (vpcId) recording at least rejected traffic."""
    flow_logs = [log for log in resources_of(args, FLOW_LOG) if _records_rejects(log)]
    for vpc in resources_of(args, VPC):
        if not any(references(log, "vpcId", vpc) for log in flow_logs):
            report(
                f"VPC '{vpc.name}' has no flow log recording rejected traffic: add an "
                "aws.ec2.FlowLog with its vpcId and trafficType ALL or REJECT "
                "(components/flow_logs.py; FSBP EC2.6, CIS 2.9).",
                vpc.urn,
            )


POLICIES = [
    resource_policy(
        "alb-https-listener-tls12",
        "Checks whether HTTPS and TLS listeners use an ELB security policy that allows only "
        "TLS 1.2 or newer.",
        LISTENER_TYPES,
        _check_tls_policy,
        TLS_SCHEMA,
    ),
    resource_policy(
        "alb-http-listener-redirects-only",
        "Checks whether plain HTTP listeners do nothing but redirect permanently to HTTPS.",
        LISTENER_TYPES,
        _check_http_redirects,
    ),
    resource_policy(
        "alb-drops-invalid-headers",
        "Checks whether application load balancers drop HTTP headers with invalid fields.",
        LOAD_BALANCER_TYPES,
        _check_drop_invalid_headers,
    ),
    resource_policy(
        "security-group-no-public-ingress",
        "Prohibits ingress from 0.0.0.0/0 or ::/0 except on the ports policy config allows.",
        (SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE),
        _check_public_ingress,
        INGRESS_SCHEMA,
    ),
    stack_policy(
        "vpc-default-security-group-closed",
        "Checks whether every VPC's default security group is adopted with no ingress and no "
        "egress rules.",
        _check_default_groups_closed,
    ),
    resource_policy(
        "alb-access-logs-enabled",
        "Checks whether load balancers write access logs to an S3 bucket (FSBP ELB.5).",
        LOAD_BALANCER_TYPES,
        _check_access_logs,
    ),
    resource_policy(
        "alb-deletion-protection",
        "Checks whether application load balancers have deletion protection on (FSBP ELB.6).",
        LOAD_BALANCER_TYPES,
        _check_deletion_protection,
    ),
    resource_policy(
        "alb-desync-mitigation",
        "Checks whether application load balancers use the defensive or strictest desync "
        "mitigation mode (FSBP ELB.12).",
        LOAD_BALANCER_TYPES,
        _check_desync_mitigation,
    ),
    resource_policy(
        "alb-multi-az",
        "Checks whether load balancers span at least two Availability Zones (FSBP ELB.13).",
        LOAD_BALANCER_TYPES,
        _check_multi_az,
    ),
    resource_policy(
        "subnet-no-auto-public-ip",
        "Prohibits subnets that give public IPv4 addresses on launch (FSBP EC2.15).",
        (SUBNET,),
        _check_subnet_public_ip,
    ),
    stack_policy(
        "vpc-flow-logs-enabled",
        "Checks whether every VPC has a flow log that records rejected traffic (FSBP EC2.6).",
        _check_flow_logs,
    ),
]
