"""The load balancer's access-log bucket: private, SSE-S3, versioned, TLS-only, expiring logs.

Only the bucket itself is protected (when the stack asks): its settings can be recreated freely,
the logs cannot.
"""

import pulumi
import pulumi_aws as aws

from components.policy_documents import deny_insecure_transport, document
from components.s3_buckets import block_public_access

ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"


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
            *(
                {
                    "Sid": sid,
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": "s3:PutObject",
                    "Resource": log_objects,
                }
                for sid, principal in (
                    ("ElbAccountDeliversLogs", {"AWS": elb_account_arn}),
                    ("ElbServiceDeliversLogs", {"Service": ELB_LOG_DELIVERY_SERVICE}),
                )
            ),
        ]
    )


def _expiry_rule(days: int) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    return aws.s3.BucketLifecycleConfigurationRuleArgs(
        id="expire-access-logs",
        status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=days),
        # Versioning keeps an expired or overwritten log as a noncurrent version; it goes after
        # the same number of days, so retention stays as configured.
        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
            noncurrent_days=days
        ),
    )


def access_log_bucket(
    name: str,
    *,
    prefix: str,
    account_id: pulumi.Input[str],
    expiry_days: int,
    protect: bool,
    parent: pulumi.Resource,
) -> tuple[aws.lb.LoadBalancerAccessLogsArgs, list[pulumi.Resource]]:
    """The bucket and its settings; the ALB's access-log setting and what the ALB must await."""
    child = pulumi.ResourceOptions(parent=parent)
    bucket = aws.s3.Bucket(
        name,
        bucket=pulumi.Output.from_input(account_id).apply(
            lambda account: f"{prefix}-alb-logs-{account}"
        ),
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
    versioning = aws.s3.BucketVersioning(
        name,
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
            status="Enabled"
        ),
        opts=child,
    )
    aws.s3.BucketOwnershipControls(
        name,
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=child,
    )
    public_access = block_public_access(name, bucket.id, child)
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
        opts=child,
    )
    aws.s3.BucketLifecycleConfiguration(
        name,
        bucket=bucket.id,
        rules=[_expiry_rule(expiry_days)],
        # Noncurrent-version rules rely on versioning; S3 applies them once it is enabled.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[versioning]),
    )
    elb_account = aws.elb.get_service_account_output(opts=pulumi.InvokeOptions(parent=parent))
    policy = aws.s3.BucketPolicy(
        name,
        bucket=bucket.id,
        policy=pulumi.Output.all(bucket.arn, account_id, elb_account.arn).apply(
            lambda values: access_log_bucket_policy(values[0], values[1], values[2])
        ),
        # S3 rejects a bucket policy while the public access block is being applied.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[public_access]),
    )
    access_logs = aws.lb.LoadBalancerAccessLogsArgs(bucket=bucket.id, enabled=True)
    # The ALB checks at creation that it can write to the bucket.
    return access_logs, [policy, encryption]
