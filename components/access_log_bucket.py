"""The load balancer's access-log bucket: private, SSE-S3, versioned, TLS-only, expiring logs,
incomplete multipart uploads aborted (as on every bucket of the platform).

Only the bucket itself is protected (when the stack asks): its settings can be recreated freely,
the logs cannot.
"""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.policy_documents import deny_insecure_transport, document
from components.s3_buckets import BucketSettings, abort_incomplete_uploads_rule

ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"


def access_log_bucket_policy(bucket_arn: str, account_id: str, elb_account_arn: str) -> str:
    """ELB may write this account's log prefix; nobody may use the bucket without TLS.

    Regions launched before August 2022 deliver as the regional ELB account, newer ones as the
    log-delivery service principal; granting both works everywhere. The service grant carries no
    aws:SourceAccount/aws:SourceArn: the ALB guide's statement for that principal has none and
    does not document them for log delivery, so the grant is limited by its resource to this
    account's AWSLogs/<account>/ prefix instead (an exception, with this reason, in
    policies/config/*.json).
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


@dataclass(frozen=True)
class AccessLogBucket:
    access_logs: aws.lb.LoadBalancerAccessLogsArgs
    """The ALB's access-log setting."""
    awaited: list[pulumi.Resource]
    """What the ALB must be created after."""
    arn: pulumi.Output[str]
    """The bucket's ARN (the audit trail records its object events)."""


def access_log_bucket(
    name: str,
    *,
    prefix: str,
    account_id: pulumi.Input[str],
    expiry_days: int,
    protect: bool,
    parent: pulumi.Resource,
) -> AccessLogBucket:
    """The bucket and its settings; the ALB's access-log setting and what the ALB must await."""
    bucket = aws.s3.Bucket(
        name,
        bucket=pulumi.Output.from_input(account_id).apply(
            lambda account: f"{prefix}-alb-logs-{account}"
        ),
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
    # One setting at a time (S3 answers OperationAborted to overlapping writes): the policy
    # after the public access block, the noncurrent-version rule after versioning.
    settings = BucketSettings(bucket, parent=parent)
    elb_account = aws.elb.get_service_account_output(opts=pulumi.InvokeOptions(parent=parent))
    settings.private_baseline(
        lambda kind: name,
        policy=pulumi.Output.all(bucket.arn, account_id, elb_account.arn).apply(
            lambda values: access_log_bucket_policy(values[0], values[1], values[2])
        ),
        # ALB access logs support only SSE-S3 (AES256), not SSE-KMS: the one bucket allowed
        # SSE-S3 by `s3-bucket-kms-encryption` (Security Hub S3.17), through `sseS3Buckets` in
        # policies/config/prod.json.
        kms_key_arn=None,
    )
    settings.then(
        lambda opts: aws.s3.BucketLifecycleConfiguration(
            name,
            bucket=bucket.id,
            rules=[_expiry_rule(expiry_days), abort_incomplete_uploads_rule()],
            opts=opts,
        )
    )
    # The ALB checks at creation that it can write to the bucket (policy, encryption): it waits
    # for the last setting, so for all of them, and never writes to the bucket alongside them.
    return AccessLogBucket(
        access_logs=aws.lb.LoadBalancerAccessLogsArgs(bucket=bucket.id, enabled=True),
        awaited=[settings.last],
        arn=bucket.arn,
    )
