"""The audit trail: who did what, when, kept and tamper-evident (issue 15; HIPAA's audit controls).

A multi-region CloudTrail trail with log-file validation records every management event and the
object-level (data) events of the dump bucket. It writes into its own bucket: private, versioned,
KMS-encrypted with the trail's own key, TLS-only, object-locked for the stack's retention (prod:
six years in COMPLIANCE mode, the retention HIPAA asks of compliance documentation). The trail also
delivers to a CloudWatch log group, where two CIS metric filters count root-account use (CIS 4.3,
Security Hub CloudWatch.1) and changes to a trail (CIS 4.5, CloudWatch.5), each with an alarm.

Every service grant names the trail (`aws:SourceArn`, AWS's confused-deputy guard). The trail's
ARN is known before the trail exists (`arn:aws:cloudtrail:<region>:<account>:trail/<name>`), so
the key and bucket policies can name it without a cycle.

A stack whose account is covered by an organization trail sets `auditOrganizationTrail: true`;
`__main__.py` then creates no AuditTrail.
"""

from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from components.alarms import alarm_name
from components.policy_documents import deny_insecure_transport, document
from components.runbooks import alarm_description
from components.s3_buckets import BucketSettings, expiring_objects_rules, suffixed_names
from config.sections import AuditSettings

CLOUDTRAIL: Final = "cloudtrail.amazonaws.com"
METRIC_NAMESPACE: Final = "CISBenchmark"
"""The namespace the CIS benchmark's remediation uses for its metric filters."""


@dataclass(frozen=True)
class AuditAlarm:
    key: str
    """The alarm key: its tag, name suffix and runbook section."""
    pattern: str
    """The CIS-documented metric filter pattern over CloudTrail's JSON events."""
    critical: bool
    """Pages on-call (critical topic, ALARM and OK) or emails (warning topic, ALARM)."""
    description: str


ROOT_ACCOUNT_USAGE: Final = AuditAlarm(
    key="root-account-usage",
    # CIS AWS Foundations 4.3 (Security Hub CloudWatch.1).
    pattern=(
        '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS '
        '&& $.eventType != "AwsServiceEvent" }'
    ),
    critical=True,
    description="The AWS account's root user made an API call or signed in (CIS 4.3).",
)
TRAIL_CONFIG_CHANGES: Final = AuditAlarm(
    key="cloudtrail-config-changes",
    # CIS AWS Foundations 4.5 (Security Hub CloudWatch.5).
    pattern=(
        "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || "
        "($.eventName = DeleteTrail) || ($.eventName = StartLogging) || "
        "($.eventName = StopLogging) }"
    ),
    critical=False,
    description="A CloudTrail trail was created, changed, deleted, started or stopped (CIS 4.5).",
)
AUDIT_ALARMS: Final = (ROOT_ACCOUNT_USAGE, TRAIL_CONFIG_CHANGES)


def trail_name(prefix: str) -> str:
    return f"{prefix}-audit"


def trail_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:cloudtrail:{region}:{account_id}:trail/{name}"


def key_policy(account_id: str, source_arn: str) -> str:
    """AWS's documented CloudTrail key policy: IAM decides for the account; CloudTrail may
    generate data keys for this account's trails and describe the key, only for this trail
    (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html).
    Readers decrypt through IAM grants (the first statement)."""
    return document(
        [
            {
                "Sid": "AccountAdministersKeyThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudTrailEncryptsLogs",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDTRAIL},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceArn": source_arn},
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": (
                            f"arn:aws:cloudtrail:*:{account_id}:trail/*"
                        )
                    },
                },
            },
            {
                "Sid": "CloudTrailDescribesKey",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDTRAIL},
                "Action": "kms:DescribeKey",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceArn": source_arn}},
            },
        ]
    )


def bucket_policy(bucket_arn: str, account_id: str, source_arn: str) -> str:
    """AWS's documented CloudTrail bucket policy (ACL check, writes with bucket-owner-full-control,
    both only for this trail), plus TLS only
    (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html)."""
    return document(
        [
            {
                "Sid": "CloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDTRAIL},
                "Action": "s3:GetBucketAcl",
                "Resource": bucket_arn,
                "Condition": {"StringEquals": {"aws:SourceArn": source_arn}},
            },
            {
                "Sid": "CloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDTRAIL},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/AWSLogs/{account_id}/*",
                "Condition": {
                    "StringEquals": {
                        "s3:x-amz-acl": "bucket-owner-full-control",
                        "aws:SourceArn": source_arn,
                    }
                },
            },
            deny_insecure_transport(bucket_arn),
        ]
    )


def delivery_trust_policy(source_arn: str) -> str:
    """CloudTrail may assume the log-delivery role, for this trail only."""
    return document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": CLOUDTRAIL},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceArn": source_arn}},
            }
        ]
    )


def delivery_role_policy(log_group_arn: str) -> str:
    """CloudTrail's documented CloudWatch Logs role: create streams and put events in this group."""
    return document(
        [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [f"{log_group_arn}:log-stream:*"],
            }
        ]
    )


def event_selectors(
    dump_bucket_arn: str,
) -> list[aws.cloudtrail.TrailAdvancedEventSelectorArgsDict]:
    """Advanced event selectors: every management event, and the dump bucket's object events."""
    return [
        {
            "name": "Management events",
            "field_selectors": [{"field": "eventCategory", "equals": ["Management"]}],
        },
        {
            "name": "Dump bucket object events",
            "field_selectors": [
                {"field": "eventCategory", "equals": ["Data"]},
                {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                {"field": "resources.ARN", "starts_withs": [f"{dump_bucket_arn}/"]},
            ],
        },
    ]


@dataclass
class AuditTrailArgs:
    prefix: str
    region: str
    account_id: pulumi.Input[str]
    settings: AuditSettings
    dump_bucket_arn: pulumi.Input[str]
    """The bucket whose object reads, writes and deletes the trail records (data events)."""
    log_retention_days: int
    log_kms_key_arn: pulumi.Input[str]
    """The stack's key, which CloudWatch Logs may use for this account's log groups."""
    critical_topic_arn: pulumi.Input[str]
    warning_topic_arn: pulumi.Input[str]
    protect: bool


class AuditTrail(pulumi.ComponentResource):
    trail_arn: pulumi.Output[str]
    bucket_name: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: AuditTrailArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:audit:AuditTrail", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)
        physical_name = trail_name(args.prefix)
        account_id = pulumi.Output.from_input(args.account_id)
        source_arn = account_id.apply(
            lambda account: trail_arn(args.region, account, physical_name)
        )

        key = aws.kms.Key(
            f"{name}-key",
            description="Encrypts the audit trail's log files",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(account_id, source_arn).apply(
                lambda values: key_policy(values[0], values[1])
            ),
            opts=stateful,
        )
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket_prefix=f"{args.prefix}-audit-",
            object_lock_enabled=True,
            opts=stateful,
        )
        settings = BucketSettings(bucket, parent=self)
        settings.private_baseline(
            suffixed_names(name),
            policy=pulumi.Output.all(bucket.arn, account_id, source_arn).apply(
                lambda values: bucket_policy(values[0], values[1], values[2])
            ),
            kms_key_arn=key.arn,
        )
        settings.default_retention(
            f"{name}-object-lock",
            mode=args.settings.object_lock_mode,
            days=args.settings.object_lock_days,
        )
        settings.then(
            lambda opts: aws.s3.BucketLifecycleConfiguration(
                f"{name}-lifecycle",
                bucket=bucket.id,
                rules=expiring_objects_rules("log-files", args.settings.expire_after_days),
                opts=opts,
            )
        )

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/{args.prefix}/cloudtrail",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_kms_key_arn,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-delivery",
            description="CloudTrail delivers the audit trail to its log group",
            assume_role_policy=source_arn.apply(delivery_trust_policy),
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-delivery",
            role=role.id,
            policy=log_group.arn.apply(delivery_role_policy),
            opts=child,
        )
        trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=physical_name,
            s3_bucket_name=bucket.bucket,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            kms_key_id=key.arn,
            cloud_watch_logs_group_arn=log_group.arn.apply(lambda arn: f"{arn}:*"),
            cloud_watch_logs_role_arn=role.arn,
            advanced_event_selectors=pulumi.Output.from_input(args.dump_bucket_arn).apply(
                event_selectors
            ),
            # CloudTrail checks the bucket policy and the role when the trail is written.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[settings.last, role_policy]),
        )

        for alarm in AUDIT_ALARMS:
            metric_name = f"{args.prefix}-{alarm.key}"
            aws.cloudwatch.LogMetricFilter(
                f"{name}-{alarm.key}-filter",
                name=metric_name,
                log_group_name=log_group.name,
                pattern=alarm.pattern,
                metric_transformation={
                    "name": metric_name,
                    "namespace": METRIC_NAMESPACE,
                    "value": "1",
                    "default_value": "0",
                    "unit": "Count",
                },
                opts=child,
            )
            topic = args.critical_topic_arn if alarm.critical else args.warning_topic_arn
            aws.cloudwatch.MetricAlarm(
                f"{name}-{alarm.key}",
                name=alarm_name(args.prefix, alarm.key),
                alarm_description=alarm_description(alarm.description, alarm.key),
                namespace=METRIC_NAMESPACE,
                metric_name=metric_name,
                statistic="Sum",
                period=300,
                evaluation_periods=1,
                threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=[topic],
                ok_actions=[topic] if alarm.critical else [],
                tags={"alarm": alarm.key},
                opts=child,
            )

        self.trail_arn = trail.arn
        self.bucket_name = bucket.bucket
        self.key_arn = key.arn
        self.log_group_name = log_group.name
        self.register_outputs(
            {
                "trail_arn": self.trail_arn,
                "bucket_name": self.bucket_name,
                "key_arn": self.key_arn,
                "log_group_name": self.log_group_name,
            }
        )
