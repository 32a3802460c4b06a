"""The MiKO platform on AWS and Cloudflare, one stack per environment (staging, prod).

Deploys:
- explicit AWS providers (stack region and us-east-1) whose default tags tag every resource;
- a customer-managed KMS key and one Secrets Manager secret per integration;
- a VPC over several zones: public subnets (load balancer, NAT), private subnets (tasks),
  NAT and/or VPC endpoints, flow logs, security groups (HTTPS from Cloudflare only);
- an ECR repository and the `app/` image, built and pushed by pulumi-docker;
- an Application Load Balancer: ACM certificate validated in Cloudflare DNS, TLS 1.3/1.2
  HTTPS listener, HTTP -> HTTPS redirect, optional access logs;
- the ECS Fargate service (hardened task, secrets by valueFrom, safe deployments, autoscaling);
- Cloudflare: proxied DNS record, strict TLS, cache rules, API rate limit, security headers;
- alarms (SNS topics, CloudWatch alarms, Route 53 health check) and a CloudWatch dashboard;
- backups: a locked dump bucket, scheduled dump and verify tasks, AWS Backup of the bucket.

Every per-environment value comes from Pulumi.<stack>.yaml; defaults are in Pulumi.yaml.
"""

import pulumi
import pulumi_aws as aws
import pulumi_cloudflare as cloudflare

from app import __version__
from components.alarms import Alarms, AlarmsArgs, alarm_names_for_rollback
from components.backups import Backups, BackupsArgs
from components.cdn import Cdn, CdnArgs
from components.dashboard import Dashboard, DashboardArgs
from components.edge_security_headers import SecurityHeaders, SecurityHeadersArgs
from components.image import AppImage, AppImageArgs
from components.load_balancer import LoadBalancer, LoadBalancerArgs
from components.network import Network, NetworkArgs
from components.providers import create_providers
from components.secrets_store import SecretsStore, SecretsStoreArgs
from components.service import AppService, AppServiceArgs
from components.settings import APP_INTEGRATIONS, APP_PORT, load_settings

settings = load_settings()
providers = create_providers(settings)
in_region = pulumi.ResourceOptions(providers=[providers.aws])
account_id = aws.get_caller_identity_output(
    opts=pulumi.InvokeOutputOptions(provider=providers.aws)
).account_id
service_config = settings.service
zone_id = cloudflare.get_zone_output(
    filter=cloudflare.GetZoneFilterArgs(name=settings.edge.zone_name, match="all")
).id

secrets = SecretsStore(
    "secrets",
    SecretsStoreArgs(
        prefix=settings.prefix,
        region=settings.aws_region,
        account_id=account_id,
        secret_values=settings.secrets,
        recovery_window_days=settings.secret_recovery_window_days,
        rotated_on=settings.rotated_on,
        protect=settings.protect_stateful,
    ),
    opts=in_region,
)
app_secrets = secrets.scope(APP_INTEGRATIONS)

network = Network(
    "network",
    NetworkArgs(
        prefix=settings.prefix,
        vpc_cidr=settings.network.vpc_cidr,
        availability_zone_count=settings.network.availability_zone_count,
        nat_mode=settings.network.nat_mode,
        vpc_endpoints=settings.network.vpc_endpoints,
        database_egress_cidrs=settings.network.database_egress_cidrs,
        flow_log_retention_days=settings.network.flow_log_retention_days,
        kms_key_arn=secrets.key_arn,
        region=settings.aws_region,
    ),
    opts=in_region,
)

image = AppImage(
    "image",
    AppImageArgs(
        repository_name=f"{settings.prefix}-app",
        context="./app",
        version=__version__,
        build_on_preview=settings.image.build_on_preview,
        kms_key_arn=secrets.key_arn,
        untagged_image_expiry_days=settings.image.untagged_image_expiry_days,
    ),
    opts=in_region,
)

load_balancer = LoadBalancer(
    "load-balancer",
    LoadBalancerArgs(
        prefix=settings.prefix,
        account_id=account_id,
        vpc_id=network.vpc_id,
        public_subnet_ids=network.public_subnet_ids,
        security_group_id=network.alb_security_group_id,
        site_domain=settings.edge.site_domain,
        cloudflare_zone_id=zone_id,
        idle_timeout_seconds=settings.load_balancer.idle_timeout_seconds,
        deregistration_delay_seconds=settings.load_balancer.deregistration_delay_seconds,
        deletion_protection=settings.load_balancer.deletion_protection,
        access_logs=settings.load_balancer.access_logs,
        access_log_expiry_days=settings.load_balancer.access_log_expiry_days,
        protect=settings.protect_stateful,
    ),
    opts=in_region,
)

service = AppService(
    "app",
    AppServiceArgs(
        prefix=settings.prefix,
        region=settings.aws_region,
        image_ref=image.image_ref,
        repository_arn=image.repository_arn,
        kms_key_arn=secrets.key_arn,
        container_secrets=app_secrets.container_secrets,
        secret_arns=app_secrets.secret_arns,
        secret_version_ids=app_secrets.version_ids,
        environment={
            "APP_ENV": settings.environment,
            "APP_VERSION": __version__,
            "ALLOWED_ORIGINS": ",".join(service_config.allowed_origins),
            "HOST": "0.0.0.0",  # noqa: S104 - inside the task's network namespace
            "PORT": str(APP_PORT),
            "LOG_LEVEL": service_config.log_level,
            "KEEPALIVE_TIMEOUT_SECONDS": str(service_config.app_keepalive_seconds),
            "SHUTDOWN_GRACE_SECONDS": str(service_config.app_shutdown_grace_seconds),
            # One worker per task: the service scales out by tasks.
            "WEB_CONCURRENCY": "1",
            # Cloudflare, then the load balancer, append to X-Forwarded-For.
            "TRUSTED_PROXY_HOPS": "2",
        },
        private_subnet_ids=network.private_subnet_ids,
        security_group_id=network.task_security_group_id,
        target_group_arn=load_balancer.target_group_arn,
        listener=load_balancer.https_listener,
        alb_arn_suffix=load_balancer.arn_suffix,
        target_group_arn_suffix=load_balancer.target_group_arn_suffix,
        settings=service_config,
        # Names, not resources: the alarms watch this service, so they are created after it.
        rollback_alarm_names=alarm_names_for_rollback(settings.prefix),
    ),
    opts=in_region,
)

cdn = Cdn(
    "cdn",
    CdnArgs(
        zone_id=zone_id,
        hostname=settings.edge.site_domain,
        origin_dns_name=load_balancer.dns_name,
        api_requests_per_period=settings.edge.api_rate_limit_requests,
        api_rate_limit_period_seconds=settings.edge.api_rate_limit_period_seconds,
        api_rate_limit_block_seconds=settings.edge.api_rate_limit_block_seconds,
    ),
)

SecurityHeaders(
    "security-headers",
    SecurityHeadersArgs(zone_id=zone_id, connect_origins=settings.edge.connect_origins),
)

alarms = Alarms(
    "alarms",
    AlarmsArgs(
        name_prefix=settings.prefix,
        alb_arn_suffix=load_balancer.arn_suffix,
        target_group_arn_suffix=load_balancer.target_group_arn_suffix,
        cluster_name=service.cluster_name,
        service_name=service.service_name,
        app_log_group_name=service.log_group_name,
        site_hostname=settings.edge.site_domain,
        app_environment=settings.environment,
        thresholds=settings.alarms.thresholds,
        alarm_emails=settings.alarms.emails,
        pager_url=settings.secrets["alarmPagerUrl"],
        us_east_1_provider=providers.aws_us_east_1,
        protect=settings.protect_stateful,
    ),
    opts=in_region,
)

dashboard = Dashboard(
    "dashboard",
    DashboardArgs(
        name_prefix=settings.prefix,
        region=settings.aws_region,
        alb_arn_suffix=load_balancer.arn_suffix,
        target_group_arn_suffix=load_balancer.target_group_arn_suffix,
        cluster_name=service.cluster_name,
        service_name=service.service_name,
        health_check_id=alarms.health_check_id,
        app_environment=settings.environment,
        thresholds=settings.alarms.thresholds,
    ),
    opts=in_region,
)

backups = Backups(
    "backups",
    BackupsArgs(
        prefix=settings.prefix,
        region=settings.aws_region,
        settings=settings.backup,
        protect=settings.protect_stateful,
        cluster_arn=service.cluster_arn,
        image_ref=image.image_ref,
        repository_arn=image.repository_arn,
        private_subnet_ids=network.private_subnet_ids,
        security_group_id=network.task_security_group_id,
        database_secret_arn=secrets.secret_arns.apply(lambda arns: arns["database"]),
        scratch_database_secret_arn=secrets.secret_arns.apply(lambda arns: arns["backup-scratch"]),
        secrets_key_arn=secrets.key_arn,
        log_retention_days=service_config.log_retention_days,
        # A failed or missed backup is worked on in office hours: email, not the pager.
        alarm_topic_arn=alarms.warning_topic_arn,
    ),
    opts=in_region,
)

pulumi.export("site_url", cdn.site_url)
pulumi.export("load_balancer_dns_name", load_balancer.dns_name)
pulumi.export("cluster_name", service.cluster_name)
pulumi.export("service_name", service.service_name)
pulumi.export("alarm_topic_arn", alarms.topic_arn)
pulumi.export("dashboard_url", dashboard.dashboard_url)
pulumi.export("secret_arns", secrets.secret_arns)
pulumi.export("image_ref", image.image_ref)
pulumi.export("backup_bucket_name", backups.bucket_name)
pulumi.export("backup_vault_arn", backups.vault_arn)
pulumi.export("backup_kms_key_arn", backups.bucket_key_arn)
pulumi.export("backup_restore_role_arn", backups.restore_role_arn)
# Where one-off tasks (a manual backup run, a restore drill) run: docs/runbooks/restore.md.
pulumi.export("private_subnet_ids", network.private_subnet_ids)
pulumi.export("task_security_group_id", network.task_security_group_id)
