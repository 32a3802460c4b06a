"""The Application Load Balancer in front of the tasks, with its certificate and listeners.

HTTPS terminates on the ALB with a TLS 1.3/1.2 policy and an ACM certificate validated through
DNS records in Cloudflare (certificate.py); plain HTTP only redirects to HTTPS. Access logs, where
the stack asks, go to a private, encrypted, versioned, TLS-only bucket (access_log_bucket.py).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from app.contract import APP_PORT, HEALTH_PATH, INTERNAL_PATHS
from components.access_log_bucket import access_log_bucket
from components.certificate import validated_certificate
from config.sections import LoadBalancerSettings, TimingSettings

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


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


# The internal paths and everything below them are answered 404 by the load balancer itself.
INTERNAL_PATH_PATTERNS = tuple(p for path in INTERNAL_PATHS for p in (path, f"{path}/*"))


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
    https_listener: aws.lb.Listener
    """The ECS service depends on it: a target group must be attached before a service uses it."""

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
        access_logs, log_dependencies = self._create_access_logs()
        alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            name=args.prefix,
            load_balancer_type="application",
            internal=False,
            security_groups=[args.security_group_id],
            subnets=list(args.public_subnet_ids),
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.settings.deletion_protection,
            # Below the app's keep-alive, so the ALB never reuses a connection the app closed.
            idle_timeout=args.timings.alb_idle_timeout_seconds,
            access_logs=access_logs,
            opts=pulumi.ResourceOptions(parent=self, depends_on=log_dependencies),
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
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)
            ],
            opts=self._child,
        )
        # The app's Prometheus metrics are for the platform, not the internet: the load balancer
        # answers /metrics itself, so only in-VPC scrapers reach the tasks' /metrics.
        aws.lb.ListenerRule(
            f"{name}-hide-metrics",
            listener_arn=self.https_listener.arn,
            priority=1,
            conditions=[
                aws.lb.ListenerRuleConditionArgs(
                    path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(
                        values=list(INTERNAL_PATH_PATTERNS)
                    )
                )
            ],
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
        aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="redirect",
                    redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                        protocol="HTTPS", port="443", status_code="HTTP_301"
                    ),
                )
            ],
            opts=self._child,
        )
        self.arn = alb.arn
        self.arn_suffix = alb.arn_suffix
        self.dns_name = alb.dns_name
        self.zone_id = alb.zone_id
        self.target_group_arn = target_group.arn
        self.target_group_arn_suffix = target_group.arn_suffix
        self.certificate_arn = certificate_arn
        self.register_outputs(
            {
                "arn": self.arn,
                "arn_suffix": self.arn_suffix,
                "dns_name": self.dns_name,
                "target_group_arn_suffix": self.target_group_arn_suffix,
                "certificate_arn": self.certificate_arn,
            }
        )

    def _create_access_logs(
        self,
    ) -> tuple[aws.lb.LoadBalancerAccessLogsArgs | None, list[pulumi.Resource]]:
        if not self._args.settings.access_logs:
            return None, []
        return access_log_bucket(
            f"{self._name}-access-logs",
            prefix=self._args.prefix,
            account_id=self._args.account_id,
            expiry_days=self._args.settings.access_log_expiry_days,
            protect=self._args.protect,
            parent=self,
        )
