"""The Route 53 health check calling the site's /health from several regions (Alarms' child).

Its alarm is the `external-health-check` signal in components/signals.py.
"""

import pulumi
import pulumi_aws as aws

from app.contract import HEALTH_PATH

# Route 53 needs at least three checker regions when regions are given.
HEALTH_CHECK_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-1")
HEALTH_CHECK_INTERVAL_SECONDS = 30
HEALTH_CHECK_FAILURE_THRESHOLD = 3


def create_site_health_check(
    name: str, prefix: str, site_hostname: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> aws.route53.HealthCheck:
    """HTTPS HEALTH_PATH on the public hostname, with latency measured."""
    return aws.route53.HealthCheck(
        f"{name}-site-health-check",
        type="HTTPS",
        fqdn=site_hostname,
        port=443,
        enable_sni=True,
        resource_path=HEALTH_PATH,
        request_interval=HEALTH_CHECK_INTERVAL_SECONDS,
        failure_threshold=HEALTH_CHECK_FAILURE_THRESHOLD,
        regions=list(HEALTH_CHECK_REGIONS),
        measure_latency=True,
        tags={"Name": f"{prefix}-site-health"},
        opts=opts,
    )
