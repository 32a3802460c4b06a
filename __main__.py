"""The MiKO platform on AWS and Cloudflare, one stack per environment (staging, prod).

Deploys:
- explicit AWS providers (stack region and us-east-1) whose default tags tag every resource;
- a customer-managed KMS key and one Secrets Manager secret per integration;
- a VPC over several zones: public subnets (load balancer, NAT), private subnets (tasks),
  NAT and/or VPC endpoints, flow logs, security groups (HTTPS from Cloudflare only);
- the image: built and pushed by pulumi-docker (ECR repository, the service and the front end),
  or promoted by digest from the stack that built it, or pinned (rollback);
- the release-asset archive: earlier releases' fingerprinted files (skew protection);
- an Application Load Balancer: ACM certificate validated in Cloudflare DNS, TLS 1.3/1.2
  HTTPS listener forwarding only requests with the origin secret and the site's Host (no port
  80 listener), optional access logs;
- the ECS Fargate service (hardened task, secrets by valueFrom, safe deployments, autoscaling);
- Cloudflare: the hostname's proxied DNS record, and the `edge` output from which the edge
  stack (edge/) builds this hostname's rules in the shared zone (cache, rate limit, security
  headers, origin proof, SSL strict, WAF);
- alarms (SNS topics, CloudWatch alarms, Route 53 health check) and a CloudWatch dashboard;
- backups: a locked dump bucket, scheduled dump and verify tasks, AWS Backup of the bucket;
- the audit trail: a multi-region CloudTrail trail into a locked bucket recording every bucket's
  object events, with the account's management events and CIS alarms where the stack's trail is
  the account's (none where an organization trail covers the account).

Every per-environment value comes from Pulumi.<stack>.yaml; defaults are in Pulumi.yaml.
"""

from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_cloudflare as cloudflare

from app import __version__
from components.alarms import Alarms, AlarmsArgs, alarm_names_for_rollback
from components.asset_archive import AssetArchive, AssetArchiveArgs
from components.audit_trail import AuditTrail, AuditTrailArgs, bucket_arn
from components.backups import Backups, BackupsArgs
from components.cdn import Cdn, CdnArgs
from components.dashboard import Dashboard, DashboardArgs
from components.edge_export import edge_export
from components.edge_security_headers import edge_headers
from components.image import AppImage, AppImageArgs
from components.load_balancer import LoadBalancer, LoadBalancerArgs
from components.network import Network, NetworkArgs
from components.origin_auth import ORIGIN_AUTH_PREVIOUS_SECRET_KEY, ORIGIN_AUTH_SECRET_KEY
from components.providers import create_providers
from components.secrets_store import SecretsStore, SecretsStoreArgs
from components.service import AppService, AppServiceArgs
from components.signals import SignalSources
from components.synthetics_canary import SyntheticsCanary, SyntheticsCanaryArgs
from config.secrets import APP_INTEGRATIONS
from config.stack import load_stack_settings

settings = load_stack_settings()
prefix, region = settings.prefix, settings.identity.aws_region
protect = settings.identity.protect_stateful_resources
providers = create_providers(settings)
in_region = pulumi.ResourceOptions(providers=[providers.aws])
account_id = aws.get_caller_identity_output(
    opts=pulumi.InvokeOutputOptions(provider=providers.aws)
).account_id
zone_id = cloudflare.get_zone_output(
    filter=cloudflare.GetZoneFilterArgs(name=settings.edge.zone_name, match="all")
).id

secrets = SecretsStore(
    "secrets",
    SecretsStoreArgs(
        prefix=prefix,
        region=region,
        account_id=account_id,
        secret_values=settings.secrets,
        recovery_window_days=settings.identity.secret_recovery_window_days,
        rotated_on=settings.rotated_on,
        protect=protect,
    ),
    opts=in_region,
)

network = Network(
    "network",
    NetworkArgs(
        prefix=prefix, region=region, settings=settings.network, kms_key_arn=secrets.key_arn
    ),
    opts=in_region,
)

image = AppImage(
    "image",
    AppImageArgs(
        repository_name=f"{prefix}-app",
        version=__version__,
        settings=settings.image,
        frontend_source=settings.frontend.source,
        kms_key_arn=secrets.key_arn,
        project_dir=Path(__file__).resolve().parent,
    ),
    opts=in_region,
)

asset_archive = AssetArchive(
    "release-assets",
    AssetArchiveArgs(
        prefix=prefix,
        kms_key_arn=secrets.key_arn,
        retention_hours=settings.frontend.asset_retention_hours,
        protect=protect,
    ),
    opts=in_region,
)

load_balancer = LoadBalancer(
    "load-balancer",
    LoadBalancerArgs(
        prefix=prefix,
        account_id=account_id,
        vpc_id=network.vpc_id,
        public_subnet_ids=network.public_subnet_ids,
        security_group_id=network.alb_security_group_id,
        site_hostname=settings.edge.site_domain,
        cloudflare_zone_id=zone_id,
        settings=settings.load_balancer,
        timings=settings.timings,
        protect=protect,
        internet_gateway=network.internet_gateway,
        origin_secret=settings.secrets[ORIGIN_AUTH_SECRET_KEY],
        previous_origin_secret=settings.secrets[ORIGIN_AUTH_PREVIOUS_SECRET_KEY],
    ),
    opts=in_region,
)

service = AppService(
    "app",
    AppServiceArgs(
        prefix=prefix,
        region=region,
        environment=settings.environment,
        version=__version__,
        settings=settings.service,
        timings=settings.timings,
        frontend=settings.frontend,
        asset_archive_bucket_name=asset_archive.bucket_name,
        asset_archive_bucket_arn=asset_archive.bucket_arn,
        image_ref=image.image_ref,
        repository_arn=image.repository_arn,
        kms_key_arn=secrets.key_arn,
        secrets=secrets.scope(APP_INTEGRATIONS),
        private_subnet_ids=network.private_subnet_ids,
        security_group_id=network.task_security_group_id,
        target_group_arn=load_balancer.target_group_arn,
        listener=load_balancer.forwarding_rule,
        alb_arn_suffix=load_balancer.arn_suffix,
        target_group_arn_suffix=load_balancer.target_group_arn_suffix,
        # Names, not resources: the alarms watch this service, so they are created after it.
        rollback_alarm_names=alarm_names_for_rollback(prefix),
        tracing=settings.tracing,
    ),
    opts=in_region,
)

cdn = Cdn(
    "cdn",
    CdnArgs(
        zone_id=zone_id,
        site_hostname=settings.edge.site_domain,
        origin_dns_name=load_balancer.dns_name,
    ),
)

signal_sources = SignalSources(
    load_balancer=load_balancer.arn_suffix,
    target_group=load_balancer.target_group_arn_suffix,
    cluster_name=service.cluster_name,
    service_name=service.service_name,
    environment=settings.environment,
)

alarms = Alarms(
    "alarms",
    AlarmsArgs(
        prefix=prefix,
        settings=settings.alarms,
        sources=signal_sources,
        app_log_group_name=service.log_group_name,
        site_hostname=settings.edge.site_domain,
        pager_url=settings.secrets["alarmPagerUrl"],
        us_east_1_provider=providers.aws_us_east_1,
        protect=protect,
    ),
    opts=in_region,
)

# The synthetic patient journey through the public URL; pages on-call when it keeps failing.
journey = (
    SyntheticsCanary(
        "synthetic-journey",
        SyntheticsCanaryArgs(
            prefix=prefix,
            region=region,
            account_id=account_id,
            settings=settings.canary,
            site_url=f"https://{settings.edge.site_domain}",
            csp_mode=settings.frontend.csp_mode,
            critical_topic_arn=alarms.topic_arn,
            protect=protect,
        ),
        opts=in_region,
    )
    if settings.canary.enabled
    else None
)

dashboard = Dashboard(
    "dashboard",
    DashboardArgs(
        prefix=prefix,
        region=region,
        settings=settings.alarms,
        sources=signal_sources,
        health_check_id=alarms.health_check_id,
    ),
    opts=in_region,
)

backups = Backups(
    "backups",
    BackupsArgs(
        prefix=prefix,
        region=region,
        environment=settings.environment,
        settings=settings.backup,
        protect=protect,
        cluster_arn=service.cluster_arn,
        image_ref=image.image_ref,
        repository_arn=image.repository_arn,
        private_subnet_ids=network.private_subnet_ids,
        security_group_id=network.task_security_group_id,
        secrets=secrets,
        kms_key_arn=secrets.key_arn,
        log_retention_days=settings.service.log_retention_days,
        # A failed or missed backup is worked on in office hours: email, not the pager.
        alarm_topic_arn=alarms.warning_topic_arn,
    ),
    opts=in_region,
)

# The audit trail, unless an organization trail already covers the account (config says so):
# the account's management events and CIS alarms where auditAccountTrail says this stack's trail
# is the account's (prod), and in every stack the object events of every bucket it creates.
audited_bucket_arns: list[pulumi.Input[str]] = [
    backups.bucket_name.apply(bucket_arn),
    asset_archive.bucket_arn,
]
if load_balancer.access_log_bucket_arn is not None:
    audited_bucket_arns.append(load_balancer.access_log_bucket_arn)
if journey is not None:
    audited_bucket_arns.append(journey.artifact_bucket_name.apply(bucket_arn))
audit_trail = (
    None
    if settings.audit.organization_trail
    else AuditTrail(
        "audit",
        AuditTrailArgs(
            prefix=prefix,
            region=region,
            account_id=account_id,
            settings=settings.audit,
            bucket_arns=audited_bucket_arns,
            log_retention_days=settings.service.log_retention_days,
            log_kms_key_arn=secrets.key_arn,
            critical_topic_arn=alarms.topic_arn,
            warning_topic_arn=alarms.warning_topic_arn,
            protect=protect,
        ),
        opts=in_region,
    )
)

pulumi.export("site_url", cdn.site_url)
# Read by the edge stack (edge/), which owns the zone's rulesets: deploy it after this stack.
pulumi.export(
    "edge",
    edge_export(
        settings.edge,
        edge_headers(settings.frontend, settings.secrets),
        settings.secrets[ORIGIN_AUTH_SECRET_KEY],
    ),
)
pulumi.export("load_balancer_dns_name", load_balancer.dns_name)
pulumi.export("cluster_name", service.cluster_name)
pulumi.export("service_name", service.service_name)
pulumi.export("alarm_topic_arn", alarms.topic_arn)
pulumi.export("dashboard_url", dashboard.dashboard_url)
if journey is not None:
    pulumi.export("synthetic_journey_canary", journey.canary_name)
pulumi.export("secret_arns", secrets.secret_arns)
# What a promoting stack (imagePromoteFrom) runs, and what a rollback pins (imageRef).
pulumi.export("image_ref", image.image_ref)
# The release this stack runs (shown by the offline plan; /health reports the same per task).
pulumi.export(
    "release",
    pulumi.Output.all(image.image_ref, image.release).apply(
        lambda values: {**values[1], "version": __version__, "image": values[0]}
    ),
)
pulumi.export("backup_bucket_name", backups.bucket_name)
pulumi.export("backup_vault_arn", backups.vault_arn)
pulumi.export("backup_kms_key_arn", backups.bucket_key_arn)
pulumi.export("backup_restore_role_arn", backups.restore_role_arn)
if audit_trail is not None:
    pulumi.export("audit_trail_arn", audit_trail.trail_arn)
    pulumi.export("audit_bucket_name", audit_trail.bucket_name)
# Where one-off tasks (a manual backup run, a restore drill) run: docs/runbooks/restore.md.
pulumi.export("private_subnet_ids", network.private_subnet_ids)
pulumi.export("task_security_group_id", network.task_security_group_id)
