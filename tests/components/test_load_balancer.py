"""The load balancer: TLS policy, redirect, certificate validation, target group, access logs."""

import json
import re

import pulumi
import pulumi_aws as aws
import pytest

from app.contract import INTERNAL_PATHS
from components.access_log_bucket import access_log_bucket_policy
from components.load_balancer import (
    FORWARD_PRIORITY,
    INTERNAL_PATH_REGEXES,
    MAX_PATTERN_LENGTH,
    MAX_RULE_VALUES,
    NAME_TAIL,
    TLS_POLICY,
    LoadBalancer,
    LoadBalancerArgs,
    accepted_origin_secrets,
    spelling_regex,
)
from components.origin_auth import (
    ORIGIN_AUTH_HEADER,
    ORIGIN_AUTH_PREVIOUS_SECRET_KEY,
    ORIGIN_AUTH_SECRET_KEY,
)
from config.sections import LoadBalancerSettings, TimingSettings
from tests.components.conftest import DUMMY_SECRETS
from tests.components.edge_alarm_fixtures import ACCOUNT_ID, RecordingMocks, render

LISTENER = "aws:lb/listener:Listener"
RULE = "aws:lb/listenerRule:ListenerRule"
CURRENT_SECRET = "Current0originSecret0for0the0tests0x"  # pragma: allowlist secret
PREVIOUS_SECRET = "Previous0originSecret0for0the0tests0"  # pragma: allowlist secret
BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
LOG_EXPIRY_DAYS = 45
TIMINGS = TimingSettings.model_validate(
    {
        "albIdleTimeoutSeconds": 930,
        "appKeepAliveSeconds": 960,
        "containerStopTimeoutSeconds": 30,
        "appShutdownGraceSeconds": 20,
        "deregistrationDelaySeconds": 30,
    }
)


def test_https_listener_uses_the_tls13_policy_and_the_validated_certificate(rendering):
    https = rendering.get(LISTENER, "load-balancer-https")
    assert https.inputs["protocol"] == "HTTPS"
    assert https.inputs["port"] == 443
    assert https.inputs["sslPolicy"] == TLS_POLICY == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    validation = rendering.get(
        "aws:acm/certificateValidation:CertificateValidation",
        "load-balancer-certificate-validation",
    )
    assert https.inputs["certificateArn"] == validation.outputs["certificateArn"]


def test_https_listener_refuses_by_default(rendering):
    """Without the origin proof and the site's Host, the load balancer answers 403 itself."""
    https = rendering.get(LISTENER, "load-balancer-https")
    assert https.inputs["defaultActions"] == [
        {
            "type": "fixed-response",
            "fixedResponse": {
                "contentType": "application/json",
                "messageBody": '{"error":"forbidden"}',
                "statusCode": "403",
            },
        }
    ]


def test_only_the_https_listener_exists(rendering):
    """No port-80 listener: the security group admits 443 only, and Cloudflare always connects
    over HTTPS (ssl=strict, Always Use HTTPS), so it could never be reached."""
    assert [listener.name for listener in rendering.of_type(LISTENER)] == ["load-balancer-https"]


def test_forwarding_needs_the_origin_secret_and_the_sites_host(rendering):
    rule = rendering.get(RULE, "load-balancer-forward-from-edge")
    https = rendering.get(LISTENER, "load-balancer-https")
    site = {"staging": "staging.mikoplasticsurgery.com", "prod": "www.mikoplasticsurgery.com"}
    assert rule.inputs["listenerArn"] == https.outputs["arn"]
    assert rule.inputs["priority"] == FORWARD_PRIORITY
    (action,) = rule.inputs["actions"]
    assert action["type"] == "forward"
    assert (
        action["targetGroupArn"]
        == rendering.get("aws:lb/targetGroup:TargetGroup", "load-balancer-app").outputs["arn"]
    )
    host, header = rule.inputs["conditions"]
    assert host == {"hostHeader": {"values": [site[rendering.stack]]}}
    # The secret values never show in a preview or the plan.
    assert header == {"httpHeader": {"httpHeaderName": ORIGIN_AUTH_HEADER, "values": "[secret]"}}
    assert "conditions[1].httpHeader.values" in rule.secret_paths
    assert not any(
        value in json.dumps(resource.inputs)
        for resource in rendering.resources
        for value in (
            DUMMY_SECRETS[ORIGIN_AUTH_SECRET_KEY],
            DUMMY_SECRETS[ORIGIN_AUTH_PREVIOUS_SECRET_KEY],
        )
    )


def test_internal_paths_are_refused_before_anything_is_forwarded(rendering):
    """Internal paths stay answered by the load balancer even with the origin secret."""
    rules = {rule.name: rule.inputs["priority"] for rule in rendering.of_type(RULE)}
    forward = rules.pop("load-balancer-forward-from-edge")
    assert set(rules) == {"load-balancer-hide-metrics", "load-balancer-hide-metrics-spellings"}
    assert all(priority < forward for priority in rules.values())


def test_the_service_waits_for_the_rule_that_attaches_its_target_group(rendering):
    service = rendering.get("aws:ecs/service:Service", "app-service")
    rule = rendering.get(RULE, "load-balancer-forward-from-edge")
    assert rule.urn in service.dependencies


@pytest.mark.parametrize(
    ("previous", "accepted"),
    [
        ("", ["current"]),
        ("previous", ["current", "previous"]),
        ("current", ["current"]),
    ],
)
def test_the_previous_secret_is_accepted_only_during_a_rotation(previous, accepted):
    assert accepted_origin_secrets("current", previous) == accepted


@pytest.mark.parametrize("previous", ["", PREVIOUS_SECRET])
def test_the_rule_carries_the_secrets_as_a_secret(previous):
    mocks = _render_load_balancer(previous_secret=previous)

    rule = mocks.named("load-balancer-forward-from-edge")
    assert "conditions" in rule.secret_inputs
    host, header = rule.inputs["conditions"]
    assert host["hostHeader"]["values"] == ["www.example.com"]
    assert header["httpHeader"]["httpHeaderName"] == "x-miko-origin-auth"
    assert header["httpHeader"]["values"] == [CURRENT_SECRET, *([previous] if previous else [])]
    # At most five condition values per rule (one Host, two header values).
    assert 1 + len(header["httpHeader"]["values"]) <= MAX_RULE_VALUES


def test_certificate_is_validated_by_unproxied_cloudflare_records(rendering):
    certificate = rendering.get("aws:acm/certificate:Certificate", "load-balancer-certificate")
    site = {"staging": "staging.mikoplasticsurgery.com", "prod": "www.mikoplasticsurgery.com"}
    assert certificate.inputs["domainName"] == site[rendering.stack]
    assert certificate.inputs["validationMethod"] == "DNS"
    (option,) = certificate.outputs["domainValidationOptions"]
    record = rendering.get(
        "cloudflare:index/dnsRecord:DnsRecord", "load-balancer-certificate-validation-0"
    )
    assert record.inputs["name"] == option["resourceRecordName"].rstrip(".")
    assert record.inputs["content"] == option["resourceRecordValue"].rstrip(".")
    assert record.inputs["type"] == "CNAME"
    assert record.inputs["proxied"] is False
    validation = rendering.get(
        "aws:acm/certificateValidation:CertificateValidation",
        "load-balancer-certificate-validation",
    )
    assert validation.inputs["validationRecordFqdns"] == [record.inputs["name"]]


def test_alb_settings_per_stack(staging, prod):
    for rendering, deletion_protection in ((staging, False), (prod, True)):
        alb = rendering.get("aws:lb/loadBalancer:LoadBalancer", "load-balancer-alb")
        assert alb.inputs["dropInvalidHeaderFields"] is True
        # Above Cloudflare's 900 s origin keep-alive, below the app's keep-alive.
        assert alb.inputs["idleTimeout"] == 930
        assert alb.inputs["internal"] is False
        assert alb.inputs["enableDeletionProtection"] is deletion_protection
        assert alb.inputs["subnets"] == [
            s.outputs["id"]
            for s in rendering.of_type("aws:ec2/subnet:Subnet")
            if s.inputs["tags"]["tier"] == "public"
        ]
        assert alb.inputs["securityGroups"] == ["network-alb-id"]


def test_target_group_checks_health_and_drains(staging, prod):
    for rendering, delay in ((staging, 15), (prod, 30)):
        group = rendering.get("aws:lb/targetGroup:TargetGroup", "load-balancer-app")
        assert group.inputs["targetType"] == "ip"
        assert group.inputs["port"] == 8080
        assert group.inputs["deregistrationDelay"] == delay
        assert group.inputs["healthCheck"]["path"] == "/health"
        assert group.inputs["healthCheck"]["matcher"] == "200"


def test_access_logs_only_where_the_stack_asks(staging, prod):
    assert [
        bucket for bucket in staging.of_type(BUCKET) if bucket.name == "load-balancer-access-logs"
    ] == []
    assert (
        "accessLogs"
        not in staging.get("aws:lb/loadBalancer:LoadBalancer", "load-balancer-alb").inputs
    )
    alb = prod.get("aws:lb/loadBalancer:LoadBalancer", "load-balancer-alb")
    bucket = prod.get(BUCKET, "load-balancer-access-logs")
    # The prod stack protects stateful resources (protectStatefulResources: true).
    assert bucket.protect is True
    versioning = prod.get(VERSIONING, "load-balancer-access-logs")
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    assert alb.inputs["accessLogs"] == {"bucket": bucket.outputs["id"], "enabled": True}
    block = prod.get(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "load-balancer-access-logs"
    )
    assert all(
        block.inputs[flag]
        for flag in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    encryption = prod.get(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "load-balancer-access-logs",
    )
    assert (
        encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"]
        == "AES256"
    )
    policy = json.loads(
        prod.get("aws:s3/bucketPolicy:BucketPolicy", "load-balancer-access-logs").inputs["policy"]
    )
    deny = next(s for s in policy["Statement"] if s["Effect"] == "Deny")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # The load balancer is created only once ELB may write to the bucket.
    assert prod.waits_for(
        alb, prod.get("aws:s3/bucketPolicy:BucketPolicy", "load-balancer-access-logs")
    )


def test_the_internet_facing_load_balancer_waits_for_the_internet_gateway(rendering):
    """AWS refuses an internet-facing ALB while its VPC has no internet gateway attached
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-dependson.html#gatewayattachment);
    its subnets do not lead to the gateway, so the dependency is explicit."""
    alb = rendering.get("aws:lb/loadBalancer:LoadBalancer", "load-balancer-alb")
    gateway = rendering.get("aws:ec2/internetGateway:InternetGateway", "network-igw")
    assert alb.inputs["internal"] is False
    assert gateway.urn in alb.dependencies


def test_access_log_policy_lets_elb_write_only_this_accounts_prefix():
    policy = json.loads(
        access_log_bucket_policy(
            "arn:aws:s3:::logs", "111122223333", "arn:aws:iam::797873946194:root"
        )
    )
    writers = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert {json.dumps(s["Principal"], sort_keys=True) for s in writers} == {
        '{"AWS": "arn:aws:iam::797873946194:root"}',
        '{"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}',
    }
    assert {s["Resource"] for s in writers} == {"arn:aws:s3:::logs/AWSLogs/111122223333/*"}
    assert {s["Action"] for s in writers} == {"s3:PutObject"}


def _render_load_balancer(
    *, access_logs: bool = True, protect: bool = True, previous_secret: str = ""
) -> RecordingMocks:
    """The component alone under mocks, independent of how __main__ wires it."""

    def build() -> LoadBalancer:
        gateway = aws.ec2.InternetGateway("igw", vpc_id="vpc-1")
        return LoadBalancer(
            "load-balancer",
            LoadBalancerArgs(
                prefix="miko-prod",
                account_id=ACCOUNT_ID,
                vpc_id="vpc-1",
                public_subnet_ids=["subnet-a", "subnet-b"],
                security_group_id="sg-alb",
                site_hostname="www.example.com",
                cloudflare_zone_id="zone-1",
                settings=LoadBalancerSettings.model_validate(
                    {
                        "albDeletionProtection": True,
                        "albAccessLogs": access_logs,
                        "albAccessLogExpiryDays": LOG_EXPIRY_DAYS,
                    }
                ),
                timings=TIMINGS,
                protect=protect,
                internet_gateway=gateway,
                origin_secret=pulumi.Output.secret(CURRENT_SECRET),
                previous_origin_secret=pulumi.Output.secret(previous_secret),
            ),
        )

    return render(build)


def test_access_log_bucket_is_versioned():
    mocks = _render_load_balancer()

    (bucket,) = mocks.of_type(BUCKET)
    (versioning,) = mocks.of_type(VERSIONING)
    assert bucket.inputs["bucket"] == f"miko-prod-alb-logs-{ACCOUNT_ID}"
    assert versioning.inputs["bucket"] == "load-balancer-access-logs-id"
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}


def test_noncurrent_log_versions_expire_with_the_current_ones():
    mocks = _render_load_balancer()

    (lifecycle,) = mocks.of_type(LIFECYCLE)
    (rule,) = [r for r in lifecycle.inputs["rules"] if r["id"] == "expire-access-logs"]
    assert rule["status"] == "Enabled"
    assert rule["expiration"]["days"] == LOG_EXPIRY_DAYS
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": LOG_EXPIRY_DAYS}


@pytest.mark.parametrize("protect", [True, False])
def test_access_log_bucket_is_protected_as_asked(protect):
    mocks = _render_load_balancer(protect=protect)

    (bucket,) = mocks.of_type(BUCKET)
    assert bucket.protect is protect
    # Only the bucket holds the logs; its settings can be recreated freely.
    assert not any(resource.protect for resource in mocks.registered if resource.typ != BUCKET)


def test_access_log_bucket_keeps_encryption_public_block_and_tls_policy():
    mocks = _render_load_balancer()

    (encryption,) = mocks.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    rule = encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert rule["sseAlgorithm"] == "AES256"
    block = mocks.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[0]
    assert block.inputs["restrictPublicBuckets"] is True
    policy = json.loads(mocks.of_type("aws:s3/bucketPolicy:BucketPolicy")[0].inputs["policy"])
    (deny,) = [statement for statement in policy["Statement"] if statement["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_no_access_logs_means_no_bucket_to_version_or_protect():
    mocks = _render_load_balancer(access_logs=False)

    assert mocks.of_type(BUCKET) == []
    assert mocks.of_type(VERSIONING) == []


def hide_rule(rendering, name):
    rule = rendering.get("aws:lb/listenerRule:ListenerRule", name)
    https = rendering.get("aws:lb/listener:Listener", "load-balancer-https")
    assert rule.inputs["listenerArn"] == https.outputs["arn"]
    [action] = rule.inputs["actions"]
    assert action["type"] == "fixed-response"
    assert action["fixedResponse"]["statusCode"] == "404"
    [condition] = rule.inputs["conditions"]
    return rule, condition["pathPattern"]


def test_metrics_are_not_served_to_the_internet(rendering):
    rule, paths = hide_rule(rendering, "load-balancer-hide-metrics")
    assert rule.inputs["priority"] == 1
    assert paths == {"values": ["/metrics", "/metrics/*"]}


def test_other_spellings_of_metrics_are_not_served_either(rendering):
    rule, paths = hide_rule(rendering, "load-balancer-hide-metrics-spellings")
    assert rule.inputs["priority"] == 2
    assert paths == {"regexValues": list(INTERNAL_PATH_REGEXES)}
    assert len(INTERNAL_PATH_REGEXES) == len(INTERNAL_PATHS)


HIDDEN_SPELLINGS = [
    "/metrics",
    "/METRICS",
    "/Metrics/",
    "/mEtRiCs",
    "/%6detrics",
    "/%6Detrics",
    "/%4Detrics",
    "/m%65trics",
    "/%6D%65%74%72%69%63%73",
    "//metrics",
    "/metrics;x",
    "/metrics%2F",
    "/metrics%2fx",
    "/metrics/x",
    "/metrics.txt",
]
PASSED_PATHS = ["/", "/health", "/api/metrics", "/metrics-dashboard", "/metricsx", "/x/metrics"]


@pytest.mark.parametrize("path", HIDDEN_SPELLINGS)
def test_the_spellings_regex_matches_what_uvicorn_would_decode_to_metrics(path):
    # ALB regexes: RE2-like; this subset (classes, groups, alternation, anchors) means the same
    # in Python's re. Searched, not fully matched: the anchors must do that work.
    [regex] = INTERNAL_PATH_REGEXES
    assert re.search(regex, path)


@pytest.mark.parametrize("path", PASSED_PATHS)
def test_the_spellings_regex_leaves_other_paths_alone(path):
    [regex] = INTERNAL_PATH_REGEXES
    assert not re.search(regex, path)


def test_spelling_regexes_fit_an_alb_condition():
    for regex in INTERNAL_PATH_REGEXES:
        assert len(regex) <= MAX_PATTERN_LENGTH
        # No lookaround, backreference or Unicode class: ALB regexes have none.
        assert not re.search(r"\(\?[=!<]|\\[1-9pP]", regex)
    assert spelling_regex("/a-b/c") == (
        "^/+([aA]|%[46]1)(-|%2[dD])([bB]|%[46]2)(/|%2[fF])([cC]|%[46]3)" + NAME_TAIL
    )
    with pytest.raises(ValueError, match="longer than 128"):
        spelling_regex("/" + "x" * 20)


def test_alb_appends_to_forwarded_for(staging, prod):
    # The app reads the client from the right end of X-Forwarded-For (TRUSTED_PROXY_HOPS).
    for rendering in (staging, prod):
        alb = rendering.get("aws:lb/loadBalancer:LoadBalancer", "load-balancer-alb")
        assert alb.inputs["xffHeaderProcessingMode"] == "append"
