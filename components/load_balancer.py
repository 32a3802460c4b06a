"""The Application Load Balancer in front of the tasks, with its certificate and listeners.

HTTPS terminates on the ALB with a TLS 1.3/1.2 policy and an ACM certificate validated through
DNS records in Cloudflare (certificate.py). Access logs, where the stack asks, go to a private,
encrypted, versioned, TLS-only bucket (access_log_bucket.py).

Only this zone's edge reaches the app (components/origin_auth.py). The security group admits
Cloudflare's ranges, but those are shared by every Cloudflare customer; so the HTTPS listener
answers 403 by default, and forwards only requests that carry the origin secret Cloudflare adds
(x-miko-origin-auth: the current value, or the previous one during a rotation) AND name the
site's hostname: another zone or Worker pointed at this load balancer, or an unknown Host, never
reaches the app. The internal-path rules come first, so those paths stay answered here even with
the secret. The target group's health checks go from the load balancer straight to the targets,
not through the listener, so the listener rules do not touch them.

There is no port-80 listener: the security group admits 443 only, and Cloudflare always reaches
this origin over HTTPS (SSL mode `strict`, and Always Use HTTPS redirects visitors at the edge),
so a listener on 80 could never receive a request.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from app.contract import APP_PORT, HEALTH_PATH, INTERNAL_PATHS
from components.access_log_bucket import AccessLogBucket, access_log_bucket
from components.certificate import validated_certificate
from components.origin_auth import ORIGIN_AUTH_HEADER, ORIGIN_HEADER_VALUES_PER_RULE
from config.sections import LoadBalancerSettings, TimingSettings

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
FORWARD_PRIORITY = 100
"""The origin-proof rule's priority: after every internal-path rule (1, 2, ...)."""
NO_ORIGIN_PROOF_STATUS = "403"


@dataclass
class LoadBalancerArgs:
    prefix: str
    account_id: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    public_subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    site_hostname: str
    cloudflare_zone_id: pulumi.Input[str]
    settings: LoadBalancerSettings
    timings: TimingSettings
    """The idle timeout and the deregistration delay, which nest with the app's timings."""
    protect: bool
    """Protect the access-log bucket from deletion by an update."""
    internet_gateway: pulumi.Resource
    """The VPC's internet gateway attachment (Network.internet_gateway): an internet-facing ALB
    is refused while the VPC has none, and the subnets alone do not order the two."""
    origin_secret: pulumi.Input[str]
    """The current origin secret (config originAuthSecret): the value Cloudflare sends."""
    previous_origin_secret: pulumi.Input[str]
    """The value a rotation replaced (config originAuthSecretPrevious), accepted until the edge
    sends the current one; empty outside a rotation."""


# The internal paths and everything below them are answered 404 by the load balancer itself.
INTERNAL_PATH_PATTERNS = tuple(p for path in INTERNAL_PATHS for p in (path, f"{path}/*"))
MAX_RULE_VALUES = 5
"""An ALB rule takes at most five match values (path patterns and regexes alike)."""
MAX_PATTERN_LENGTH = 128
"""The longest path pattern or regex an ALB condition accepts."""
NAME_TAIL = "([^A-Za-z0-9_-].*)?$"
"""The end of the path, or anything after a character that cannot continue the name."""


def _hex_class(digit: str) -> str:
    return f"[{digit.lower()}{digit.upper()}]" if digit.isalpha() else digit


def _escape_class(*chars: str) -> str:
    """`%XY` for each of `chars`, either hex case, as one regex (the chars differ in X only)."""
    codes = [f"{ord(char):02x}" for char in chars]
    highs = "".join(sorted({code[0] for code in codes}))
    (low,) = {code[1] for code in codes}
    high = highs if len(highs) == 1 else f"[{highs}]"
    return f"%{high}{_hex_class(low)}"


def spelling_regex(path: str) -> str:
    """An ALB path regex for the spellings of an internal path that a literal pattern misses.

    Path patterns are case-sensitive, compare the path as sent (`/%6detrics` is not
    `/metrics` to them, but is to uvicorn) and cannot even contain `%`. This matches the
    path with any letter in either case or percent-encoded (either hex case), any encoded `/`,
    more than one leading `/`, and anything after a character that cannot continue the name:
    `/METRICS`, `/%6detrics`, `//metrics`, `/metrics;x`, `/metrics%2F`, but not
    `/metrics-dashboard`. The app refuses all of these itself (app/routing.py); this answers
    them at the edge as well. Only groups, classes, alternation and anchors: what ALB regexes
    support (no lookaround, no backreferences).
    """
    pieces = ["^/+"]
    for char in path.lstrip("/"):
        if not char.isascii():
            raise ValueError(f"{path}: an internal path is ASCII")
        if char.isalpha():
            lower, upper = char.lower(), char.upper()
            pieces.append(f"([{lower}{upper}]|{_escape_class(lower, upper)})")
        elif char == "/":
            pieces.append(f"(/|{_escape_class('/')})")
        elif char.isdigit() or char in "-_~":
            pieces.append(f"({char}|{_escape_class(char)})")
        elif char == ".":
            pieces.append(f"([.]|{_escape_class(char)})")
        else:
            raise ValueError(f"{path}: an internal path is letters, digits, '/', '-._~' only")
    regex = "".join(pieces) + NAME_TAIL
    if len(regex) > MAX_PATTERN_LENGTH:
        raise ValueError(f"the ALB regex for {path} is longer than {MAX_PATTERN_LENGTH}: {regex}")
    return regex


INTERNAL_PATH_REGEXES = tuple(spelling_regex(path) for path in INTERNAL_PATHS)
if max(len(INTERNAL_PATH_PATTERNS), len(INTERNAL_PATH_REGEXES)) > MAX_RULE_VALUES:
    raise ValueError(f"an ALB rule takes at most {MAX_RULE_VALUES} values: split the rules")
if ORIGIN_HEADER_VALUES_PER_RULE + 1 > MAX_RULE_VALUES:  # the header values plus one Host
    raise ValueError(f"an ALB rule takes at most {MAX_RULE_VALUES} values: split the rules")


def accepted_origin_secrets(current: str, previous: str) -> list[str]:
    """The header values the forwarding rule accepts: the current secret, then the previous one
    while a rotation is under way (an empty or repeated previous value adds nothing)."""
    return [current] + ([previous] if previous and previous != current else [])


class LoadBalancer(pulumi.ComponentResource):
    arn: pulumi.Output[str]
    arn_suffix: pulumi.Output[str]
    """`app/<name>/<id>`: the LoadBalancer dimension of CloudWatch metrics."""
    dns_name: pulumi.Output[str]
    zone_id: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]
    target_group_arn_suffix: pulumi.Output[str]
    """`targetgroup/<name>/<id>`: the TargetGroup dimension of CloudWatch metrics."""
    certificate_arn: pulumi.Output[str]
    access_log_bucket_arn: pulumi.Output[str] | None
    """The access-log bucket's ARN; None when the stack keeps no access logs."""
    https_listener: aws.lb.Listener
    forwarding_rule: aws.lb.ListenerRule
    """The rule that attaches the target group to the listener: the ECS service depends on it
    (a target group must be attached to a load balancer before a service uses it)."""

    def __init__(
        self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:loadbalancer:LoadBalancer", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        certificate_arn = validated_certificate(
            name,
            site_hostname=args.site_hostname,
            zone_id=args.cloudflare_zone_id,
            opts=self._child,
        )
        log_bucket = self._create_access_logs()
        alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            name=args.prefix,
            load_balancer_type="application",
            internal=False,
            security_groups=[args.security_group_id],
            subnets=list(args.public_subnet_ids),
            drop_invalid_header_fields=True,
            # The ALB appends the address it saw to X-Forwarded-For (the default, pinned): the
            # app reads the client from the right end (TRUSTED_PROXY_HOPS), and with `preserve`
            # a client would write that end itself.
            xff_header_processing_mode="append",
            enable_deletion_protection=args.settings.deletion_protection,
            # Below the app's keep-alive, so the ALB never reuses a connection the app closed.
            idle_timeout=args.timings.alb_idle_timeout_seconds,
            access_logs=log_bucket.access_logs if log_bucket else None,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[args.internet_gateway, *(log_bucket.awaited if log_bucket else [])],
            ),
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-app",
            port=APP_PORT,
            protocol="HTTP",
            target_type="ip",
            vpc_id=args.vpc_id,
            # ECS waits this long for in-flight requests to finish before it sends SIGTERM.
            deregistration_delay=args.timings.deregistration_delay_seconds,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                path=HEALTH_PATH,
                matcher="200",
                protocol="HTTP",
                interval=15,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
            opts=self._child,
        )
        self.https_listener = aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=alb.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=certificate_arn,
            # Without the origin proof and the site's Host, nothing reaches the app.
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="fixed-response",
                    fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(
                        content_type="application/json",
                        message_body='{"error":"forbidden"}',
                        status_code=NO_ORIGIN_PROOF_STATUS,
                    ),
                )
            ],
            opts=self._child,
        )
        # The app's Prometheus metrics are for the platform, not the internet: the load balancer
        # answers /metrics itself, however it is spelled; the app refuses it too whenever a
        # request came through a proxy, and refuses every non-canonical path (app/routing.py).
        self._hide_internal_paths(
            "hide-metrics",
            1,
            aws.lb.ListenerRuleConditionPathPatternArgs(values=list(INTERNAL_PATH_PATTERNS)),
        )
        self._hide_internal_paths(
            "hide-metrics-spellings",
            2,
            aws.lb.ListenerRuleConditionPathPatternArgs(regex_values=list(INTERNAL_PATH_REGEXES)),
        )
        self.forwarding_rule = self._forward_from_the_edge(target_group.arn)
        # No listener on port 80 (see the module docstring): it could never be reached.
        self.arn = alb.arn
        self.arn_suffix = alb.arn_suffix
        self.dns_name = alb.dns_name
        self.zone_id = alb.zone_id
        self.target_group_arn = target_group.arn
        self.target_group_arn_suffix = target_group.arn_suffix
        self.certificate_arn = certificate_arn
        self.access_log_bucket_arn = log_bucket.arn if log_bucket else None
        self.register_outputs(
            {
                "arn": self.arn,
                "arn_suffix": self.arn_suffix,
                "dns_name": self.dns_name,
                "target_group_arn_suffix": self.target_group_arn_suffix,
                "certificate_arn": self.certificate_arn,
            }
        )

    def _forward_from_the_edge(self, target_group_arn: pulumi.Input[str]) -> aws.lb.ListenerRule:
        """The one rule that forwards: the origin secret and the site's Host, both required.

        The Route 53 external health check calls the site's hostname, so it goes through
        Cloudflare, which adds the header like on every other request: it passes this rule.
        """
        args = self._args
        # Secret where it enters the rule: previews and the plan show `[secret]`, never a value.
        secrets: pulumi.Output[list[str]] = pulumi.Output.all(
            args.origin_secret, args.previous_origin_secret
        ).apply(
            lambda values: pulumi.Output.secret(
                accepted_origin_secrets(str(values[0]), str(values[1]))
            )
        )
        return aws.lb.ListenerRule(
            f"{self._name}-forward-from-edge",
            listener_arn=self.https_listener.arn,
            priority=FORWARD_PRIORITY,
            conditions=[
                aws.lb.ListenerRuleConditionArgs(
                    host_header=aws.lb.ListenerRuleConditionHostHeaderArgs(
                        values=[args.site_hostname]
                    )
                ),
                aws.lb.ListenerRuleConditionArgs(
                    http_header=aws.lb.ListenerRuleConditionHttpHeaderArgs(
                        http_header_name=ORIGIN_AUTH_HEADER, values=secrets
                    )
                ),
            ],
            actions=[
                aws.lb.ListenerRuleActionArgs(type="forward", target_group_arn=target_group_arn)
            ],
            opts=self._child,
        )

    def _hide_internal_paths(
        self, role: str, priority: int, paths: aws.lb.ListenerRuleConditionPathPatternArgs
    ) -> None:
        """A rule of the HTTPS listener answering 404 itself for the paths matched."""
        aws.lb.ListenerRule(
            f"{self._name}-{role}",
            listener_arn=self.https_listener.arn,
            priority=priority,
            conditions=[aws.lb.ListenerRuleConditionArgs(path_pattern=paths)],
            actions=[
                aws.lb.ListenerRuleActionArgs(
                    type="fixed-response",
                    fixed_response=aws.lb.ListenerRuleActionFixedResponseArgs(
                        content_type="application/json",
                        message_body='{"error":"not_found"}',
                        status_code="404",
                    ),
                )
            ],
            opts=self._child,
        )

    def _create_access_logs(self) -> AccessLogBucket | None:
        if not self._args.settings.access_logs:
            return None
        return access_log_bucket(
            f"{self._name}-access-logs",
            prefix=self._args.prefix,
            account_id=self._args.account_id,
            expiry_days=self._args.settings.access_log_expiry_days,
            protect=self._args.protect,
            parent=self,
        )
