"""The Application Load Balancer in front of the tasks, with its certificate and listeners.

HTTPS terminates on the ALB with a TLS 1.3/1.2 policy and an ACM certificate validated through
DNS records in Cloudflare; plain HTTP only redirects to HTTPS. Access logs, where the stack asks,
go to a private, encrypted, versioned, TLS-only bucket (protected when the stack asks).
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_cloudflare as cloudflare

from components.policy_documents import deny_insecure_transport, document
from components.settings import APP_PORT

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
HEALTH_PATH = "/health"
ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"


@dataclass
class LoadBalancerArgs:
    prefix: str
    account_id: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    public_subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    site_domain: str
    cloudflare_zone_id: pulumi.Input[str]
    idle_timeout_seconds: int
    deregistration_delay_seconds: int
    deletion_protection: bool
    access_logs: bool
    access_log_expiry_days: int
    protect: bool
    """Protect the access-log bucket from deletion by an update."""


INTERNAL_PATHS = ("/metrics", "/metrics/*")


def access_log_bucket_policy(bucket_arn: str, account_id: str, elb_account_arn: str) -> str:
    """ELB may write this account's log prefix; nobody may use the bucket without TLS.

    Regions launched before August 2022 deliver as the regional ELB account, newer ones as the
    log-delivery service principal; granting both works everywhere.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
    """
    log_objects = f"{bucket_arn}/AWSLogs/{account_id}/*"
    return document(
        [
            deny_insecure_transport(bucket_arn),
            {
                "Sid": "ElbAccountDeliversLogs",
                "Effect": "Allow",
                "Principal": {"AWS": elb_account_arn},
                "Action": "s3:PutObject",
                "Resource": log_objects,
            },
            {
                "Sid": "ElbServiceDeliversLogs",
                "Effect": "Allow",
                "Principal": {"Service": ELB_LOG_DELIVERY_SERVICE},
                "Action": "s3:PutObject",
                "Resource": log_objects,
            },
        ]
    )


def _validation_option(
    options: Sequence[aws.acm.outputs.CertificateDomainValidationOption], domain: str
) -> aws.acm.outputs.CertificateDomainValidationOption:
    return next(option for option in options if option.domain_name == domain)


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
        certificate_arn = self._create_certificate()
        access_logs, log_dependencies = self._create_access_logs()
        alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            name=args.prefix,
            load_balancer_type="application",
            internal=False,
            security_groups=[args.security_group_id],
            subnets=list(args.public_subnet_ids),
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.deletion_protection,
            # Below the app's keep-alive, so the ALB never reuses a connection the app closed.
            idle_timeout=args.idle_timeout_seconds,
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
            deregistration_delay=args.deregistration_delay_seconds,
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
                        values=list(INTERNAL_PATHS)
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

    def _create_certificate(self) -> pulumi.Output[str]:
        """ACM certificate for the site, validated by CNAME records created in Cloudflare."""
        certificate = aws.acm.Certificate(
            f"{self._name}-certificate",
            domain_name=self._args.site_domain,
            validation_method="DNS",
            opts=self._child,
        )
        # One validation option per certificate domain. The domains are known now, so the loop
        # runs over them (resources are never created inside apply, where previews miss them).
        fqdns = []
        for index, domain in enumerate([self._args.site_domain]):
            option = certificate.domain_validation_options.apply(
                functools.partial(_validation_option, domain=domain)
            )
            record = cloudflare.DnsRecord(
                f"{self._name}-certificate-validation-{index}",
                zone_id=self._args.cloudflare_zone_id,
                name=option.apply(lambda o: (o.resource_record_name or "").rstrip(".")),
                type=option.apply(lambda o: o.resource_record_type or "CNAME"),
                content=option.apply(lambda o: (o.resource_record_value or "").rstrip(".")),
                ttl=60,
                # ACM must see the record itself, not a Cloudflare proxy address.
                proxied=False,
                comment=f"ACM validation for {domain}",
                opts=self._child,
            )
            fqdns.append(record.name)
        validation = aws.acm.CertificateValidation(
            f"{self._name}-certificate-validation",
            certificate_arn=certificate.arn,
            validation_record_fqdns=fqdns,
            opts=self._child,
        )
        return validation.certificate_arn

    def _create_access_logs(
        self,
    ) -> tuple[aws.lb.LoadBalancerAccessLogsArgs | None, list[pulumi.Resource]]:
        if not self._args.access_logs:
            return None, []
        name = f"{self._name}-access-logs"
        bucket = aws.s3.Bucket(
            name,
            bucket=pulumi.Output.from_input(self._args.account_id).apply(
                lambda account: f"{self._args.prefix}-alb-logs-{account}"
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=self._args.protect),
        )
        versioning = aws.s3.BucketVersioning(
            name,
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=self._child,
        )
        aws.s3.BucketOwnershipControls(
            name,
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=self._child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            name,
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self._child,
        )
        # ALB access logs support only SSE-S3 (AES256), not SSE-KMS.
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
            opts=self._child,
        )
        aws.s3.BucketLifecycleConfiguration(
            name,
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-access-logs",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=self._args.access_log_expiry_days
                    ),
                    # Versioning keeps an expired or overwritten log as a noncurrent version;
                    # it goes after the same number of days, so retention stays as configured.
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=self._args.access_log_expiry_days
                    ),
                )
            ],
            # Noncurrent-version rules rely on versioning; S3 applies them once it is enabled.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        elb_account = aws.elb.get_service_account_output(opts=pulumi.InvokeOptions(parent=self))
        policy = aws.s3.BucketPolicy(
            name,
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, self._args.account_id, elb_account.arn).apply(
                lambda values: access_log_bucket_policy(values[0], values[1], values[2])
            ),
            # S3 rejects a bucket policy while the public access block is being applied.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        access_logs = aws.lb.LoadBalancerAccessLogsArgs(bucket=bucket.id, enabled=True)
        # The ALB checks at creation that it can write to the bucket.
        return access_logs, [policy, encryption]
