"""The load balancer: TLS policy, redirect, certificate validation, target group, access logs."""

import json

from components.load_balancer import TLS_POLICY, access_log_bucket_policy

LISTENER = "aws:lb/listener:Listener"


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
    (action,) = https.inputs["defaultActions"]
    assert action["type"] == "forward"
    assert (
        action["targetGroupArn"]
        == rendering.get("aws:lb/targetGroup:TargetGroup", "load-balancer-app").outputs["arn"]
    )


def test_http_listener_only_redirects_to_https(rendering):
    http = rendering.get(LISTENER, "load-balancer-http")
    assert http.inputs["port"] == 80
    assert http.inputs["defaultActions"] == [
        {
            "type": "redirect",
            "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"},
        }
    ]


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
        assert alb.inputs["idleTimeout"] == 60
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
    assert staging.of_type("aws:s3/bucket:Bucket") == []
    assert (
        "accessLogs"
        not in staging.get("aws:lb/loadBalancer:LoadBalancer", "load-balancer-alb").inputs
    )
    alb = prod.get("aws:lb/loadBalancer:LoadBalancer", "load-balancer-alb")
    bucket = prod.get("aws:s3/bucket:Bucket", "load-balancer-access-logs")
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
    assert (
        prod.get("aws:s3/bucketPolicy:BucketPolicy", "load-balancer-access-logs").urn
        in alb.dependencies
    )


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
