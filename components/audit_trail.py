"""The audit trail: who did what, when, kept and tamper-evident (issue 15; HIPAA's audit controls).

Staging and prod share one AWS account, so one stack's trail is *the account trail*
(`auditAccountTrail: true`, prod): a multi-region CloudTrail trail with log-file validation that
records every management event, read and write (Security Hub CloudTrail.1, CIS 3.1), and carries
the CIS metric filters and alarms (Security Hub CloudWatch.1-14). The other stack
(`auditAccountTrail: false`, staging) creates a trail that records only its own buckets' object
(data) events: a second copy of the management events would be billed ($2.00 per 100,000 events;
the first copy is free) and every CIS alarm would fire twice, once per stack.

Every trail records the object-level (data) events of every bucket the stack creates (dump,
release assets, ALB access logs, canary artifacts, and its own log bucket): CIS AWS Foundations
v1.4.0 3.10/3.11 (object-level write and read events; later Security Hub S3.22/S3.23) and the
CloudTrail alternative to S3 server access logging (Security Hub S3.9, CloudTrail.7). On its own
bucket it records reads and deletes but not `PutObject`: CloudTrail's own log deliveries would
otherwise be recorded, delivered and recorded again, an endless stream.

Each trail writes into its own bucket: private, versioned, KMS-encrypted with the trail's own key,
TLS-only, object-locked for the stack's retention (prod: six years in COMPLIANCE mode, the
retention HIPAA asks of compliance documentation), and delivers to a CloudWatch log group
(CloudTrail.5). The CIS filter patterns are AWS's, verbatim: Security Hub user guide,
awsdocs/aws-security-hub-user-guide commit 47bfe2f (June 2023), cloudwatch-controls.md, each
control's remediation section ("This control fails if the exact metric filters prescribed by CIS
are not used").

Every service grant names the trail (`aws:SourceArn`, AWS's confused-deputy guard). The trail's
ARN is known before the trail exists (`arn:aws:cloudtrail:<region>:<account>:trail/<name>`), so
the key and bucket policies can name it without a cycle.

A stack whose account is covered by an organization trail sets `auditOrganizationTrail: true`;
`__main__.py` then creates no AuditTrail.
"""

from collections.abc import Sequence
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


# The patterns below are copied verbatim from the remediation section of each control in the
# Security Hub user guide (cloudwatch-controls.md, commit 47bfe2f): Security Hub fails a control
# whose filter is not exactly the prescribed one. Critical alarms page on-call (a compromise in
# progress or a key about to make data unreadable); the others email the warning topic: a
# deployment changes IAM policies, security groups and routes too, and they are read in office
# hours against the deploy history.
ROOT_ACCOUNT_USAGE: Final = AuditAlarm(
    key="root-account-usage",
    # Security Hub CloudWatch.1; CIS 1.2.0 1.1/3.3, CIS 1.4.0 1.7/4.3.
    pattern=(
        '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS '
        '&& $.eventType !="AwsServiceEvent"}'
    ),
    critical=True,
    description="The AWS account's root user made an API call or signed in (CIS 4.3).",
)
UNAUTHORIZED_API_CALLS: Final = AuditAlarm(
    key="unauthorized-api-calls",
    # Security Hub CloudWatch.2; CIS 1.2.0 3.1.
    pattern='{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}',
    critical=False,
    description="An API call in the account was refused (UnauthorizedOperation, AccessDenied; "
    "CIS 3.1).",
)
CONSOLE_SIGNIN_WITHOUT_MFA: Final = AuditAlarm(
    key="console-signin-without-mfa",
    # Security Hub CloudWatch.3; CIS 1.2.0 3.2.
    pattern=(
        '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && '
        '($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }'
    ),
    critical=True,
    description="An IAM user signed in to the AWS console without MFA (CIS 3.2).",
)
IAM_POLICY_CHANGES: Final = AuditAlarm(
    key="iam-policy-changes",
    # Security Hub CloudWatch.4; CIS 1.2.0 3.4, CIS 1.4.0 4.4.
    pattern=(
        "{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || "
        "($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || "
        "($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || "
        "($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || "
        "($.eventName=CreatePolicyVersion) || ($.eventName=DeletePolicyVersion) || "
        "($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || "
        "($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || "
        "($.eventName=AttachGroupPolicy) || ($.eventName=DetachGroupPolicy)}"
    ),
    critical=False,
    description="An IAM policy was created, changed, attached, detached or deleted (CIS 4.4).",
)
TRAIL_CONFIG_CHANGES: Final = AuditAlarm(
    key="cloudtrail-config-changes",
    # Security Hub CloudWatch.5; CIS 1.2.0 3.5, CIS 1.4.0 4.5.
    pattern=(
        "{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || "
        "($.eventName=DeleteTrail) || ($.eventName=StartLogging) || "
        "($.eventName=StopLogging)}"
    ),
    critical=False,
    description="A CloudTrail trail was created, changed, deleted, started or stopped (CIS 4.5).",
)
CONSOLE_AUTH_FAILURES: Final = AuditAlarm(
    key="console-auth-failures",
    # Security Hub CloudWatch.6; CIS 1.2.0 3.6, CIS 1.4.0 4.6.
    pattern='{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}',
    critical=False,
    description="A sign-in to the AWS console failed authentication (CIS 4.6).",
)
KMS_KEY_DISABLED_OR_DELETED: Final = AuditAlarm(
    key="kms-key-disabled-or-deleted",
    # Security Hub CloudWatch.7; CIS 1.2.0 3.7, CIS 1.4.0 4.7.
    pattern=(
        "{($.eventSource=kms.amazonaws.com) && "
        "(($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}"
    ),
    critical=True,
    description="A customer managed KMS key was disabled or scheduled for deletion (CIS 4.7).",
)
S3_BUCKET_POLICY_CHANGES: Final = AuditAlarm(
    key="s3-bucket-policy-changes",
    # Security Hub CloudWatch.8; CIS 1.2.0 3.8, CIS 1.4.0 4.8.
    pattern=(
        "{($.eventSource=s3.amazonaws.com) && (($.eventName=PutBucketAcl) || "
        "($.eventName=PutBucketPolicy) || ($.eventName=PutBucketCors) || "
        "($.eventName=PutBucketLifecycle) || ($.eventName=PutBucketReplication) || "
        "($.eventName=DeleteBucketPolicy) || ($.eventName=DeleteBucketCors) || "
        "($.eventName=DeleteBucketLifecycle) || ($.eventName=DeleteBucketReplication))}"
    ),
    critical=False,
    description="A bucket's ACL, policy, CORS, lifecycle or replication changed (CIS 4.8).",
)
CONFIG_CHANGES: Final = AuditAlarm(
    key="aws-config-changes",
    # Security Hub CloudWatch.9; CIS 1.2.0 3.9, CIS 1.4.0 4.9.
    pattern=(
        "{($.eventSource=config.amazonaws.com) && (($.eventName=StopConfigurationRecorder) || "
        "($.eventName=DeleteDeliveryChannel) || ($.eventName=PutDeliveryChannel) || "
        "($.eventName=PutConfigurationRecorder))}"
    ),
    critical=False,
    description="AWS Config's recorder or delivery channel was changed or stopped (CIS 4.9).",
)
SECURITY_GROUP_CHANGES: Final = AuditAlarm(
    key="security-group-changes",
    # Security Hub CloudWatch.10; CIS 1.2.0 3.10, CIS 1.4.0 4.10.
    pattern=(
        "{($.eventName=AuthorizeSecurityGroupIngress) || "
        "($.eventName=AuthorizeSecurityGroupEgress) || "
        "($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) || "
        "($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}"
    ),
    critical=False,
    description="A security group or one of its rules was created, changed or deleted (CIS 4.10).",
)
NACL_CHANGES: Final = AuditAlarm(
    key="nacl-changes",
    # Security Hub CloudWatch.11; CIS 1.2.0 3.11, CIS 1.4.0 4.11.
    pattern=(
        "{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) || "
        "($.eventName=DeleteNetworkAcl) || ($.eventName=DeleteNetworkAclEntry) || "
        "($.eventName=ReplaceNetworkAclEntry) || ($.eventName=ReplaceNetworkAclAssociation)}"
    ),
    critical=False,
    description="A network ACL or one of its entries was created, changed or deleted (CIS 4.11).",
)
NETWORK_GATEWAY_CHANGES: Final = AuditAlarm(
    key="network-gateway-changes",
    # Security Hub CloudWatch.12; CIS 1.2.0 3.12, CIS 1.4.0 4.12.
    pattern=(
        "{($.eventName=CreateCustomerGateway) || ($.eventName=DeleteCustomerGateway) || "
        "($.eventName=AttachInternetGateway) || ($.eventName=CreateInternetGateway) || "
        "($.eventName=DeleteInternetGateway) || ($.eventName=DetachInternetGateway)}"
    ),
    critical=False,
    description="An internet or customer gateway was created, attached, detached or deleted "
    "(CIS 4.12).",
)
ROUTE_TABLE_CHANGES: Final = AuditAlarm(
    key="route-table-changes",
    # Security Hub CloudWatch.13; CIS 1.2.0 3.13, CIS 1.4.0 4.13.
    pattern=(
        "{($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || "
        "($.eventName=ReplaceRoute) || ($.eventName=ReplaceRouteTableAssociation) || "
        "($.eventName=DeleteRouteTable) || ($.eventName=DeleteRoute) || "
        "($.eventName=DisassociateRouteTable)}"
    ),
    critical=False,
    description="A route table or one of its routes or associations changed (CIS 4.13).",
)
VPC_CHANGES: Final = AuditAlarm(
    key="vpc-changes",
    # Security Hub CloudWatch.14; CIS 1.2.0 3.14, CIS 1.4.0 4.14.
    pattern=(
        "{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || "
        "($.eventName=ModifyVpcAttribute) || ($.eventName=AcceptVpcPeeringConnection) || "
        "($.eventName=CreateVpcPeeringConnection) || ($.eventName=DeleteVpcPeeringConnection) || "
        "($.eventName=RejectVpcPeeringConnection) || ($.eventName=AttachClassicLinkVpc) || "
        "($.eventName=DetachClassicLinkVpc) || ($.eventName=DisableVpcClassicLink) || "
        "($.eventName=EnableVpcClassicLink)}"
    ),
    critical=False,
    description="A VPC, its attributes or a peering connection changed (CIS 4.14).",
)
AUDIT_ALARMS: Final = (
    ROOT_ACCOUNT_USAGE,
    UNAUTHORIZED_API_CALLS,
    CONSOLE_SIGNIN_WITHOUT_MFA,
    IAM_POLICY_CHANGES,
    TRAIL_CONFIG_CHANGES,
    CONSOLE_AUTH_FAILURES,
    KMS_KEY_DISABLED_OR_DELETED,
    S3_BUCKET_POLICY_CHANGES,
    CONFIG_CHANGES,
    SECURITY_GROUP_CHANGES,
    NACL_CHANGES,
    NETWORK_GATEWAY_CHANGES,
    ROUTE_TABLE_CHANGES,
    VPC_CHANGES,
)
"""The CIS alarms of the account trail, Security Hub CloudWatch.1 to CloudWatch.14 in order."""


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


MANAGEMENT_EVENTS: Final[aws.cloudtrail.TrailAdvancedEventSelectorArgsDict] = {
    # No readOnly field: read and write events (CloudTrail.1's readWriteType ALL), and no
    # eventSource exclusion (CloudTrail.1: ExcludeManagementEventSources empty).
    "name": "Management events",
    "field_selectors": [{"field": "eventCategory", "equals": ["Management"]}],
}
CLOUDTRAIL_DELIVERY_EVENT: Final = "PutObject"
"""How CloudTrail writes its log files (and their digests) into the trail's bucket."""


def object_events(
    name: str, bucket_arns: Sequence[str], *, not_event_names: Sequence[str] = ()
) -> aws.cloudtrail.TrailAdvancedEventSelectorArgsDict:
    """Data events (reads, writes, deletes) of every object of the buckets, less any event names
    given: the provider's advanced event selector shape (field selectors AND-ed)."""
    fields: list[aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgsDict] = [
        {"field": "eventCategory", "equals": ["Data"]},
        {"field": "resources.type", "equals": ["AWS::S3::Object"]},
        {"field": "resources.ARN", "starts_withs": [f"{arn}/" for arn in sorted(bucket_arns)]},
    ]
    if not_event_names:
        fields.append({"field": "eventName", "not_equals": list(not_event_names)})
    return {"name": name, "field_selectors": fields}


def event_selectors(
    *, account_trail: bool, log_bucket_arn: str, bucket_arns: Sequence[str]
) -> list[aws.cloudtrail.TrailAdvancedEventSelectorArgsDict]:
    """What the trail records: the account's management events where it is the account trail;
    always the object events of the stack's buckets, and of its own log bucket all but
    CloudTrail's deliveries (recording them would add a log file per log file, without end)."""
    selectors = [MANAGEMENT_EVENTS] if account_trail else []
    others = [arn for arn in dict.fromkeys(bucket_arns) if arn != log_bucket_arn]
    if others:
        selectors.append(object_events("Object events of the stack's buckets", others))
    selectors.append(
        object_events(
            "Object events of the trail's own bucket, but its log deliveries",
            [log_bucket_arn],
            not_event_names=[CLOUDTRAIL_DELIVERY_EVENT],
        )
    )
    return selectors


def bucket_arn(bucket_name: str) -> str:
    """The ARN of an S3 bucket (aws partition), from its name."""
    return f"arn:aws:s3:::{bucket_name}"


@dataclass
class AuditTrailArgs:
    prefix: str
    region: str
    account_id: pulumi.Input[str]
    settings: AuditSettings
    bucket_arns: Sequence[pulumi.Input[str]]
    """Every other bucket the stack creates: the trail records their object reads, writes and
    deletes (data events). The trail's own bucket is added here."""
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
            advanced_event_selectors=pulumi.Output.all(bucket.arn, *args.bucket_arns).apply(
                lambda arns: event_selectors(
                    account_trail=args.settings.account_trail,
                    log_bucket_arn=arns[0],
                    bucket_arns=arns[1:],
                )
            ),
            # CloudTrail checks the bucket policy and the role when the trail is written.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[settings.last, role_policy]),
        )

        # The CIS alarms watch the account's management events: only the account trail has them.
        for alarm in AUDIT_ALARMS if args.settings.account_trail else ():
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
