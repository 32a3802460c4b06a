"""AWS Security Hub's FSBP and CIS controls for every AWS resource kind the program creates.

Issue 15: each control that applies to a kind we create is either held by policies of this pack
or recorded, per stack, as an exception with its reason (the `exceptions` setting of
`security-controls-accounted` in policies/config/<stack>.json).

Source of truth: the Security Hub user guide's control reference, read from its last public
source (github.com/awsdocs/aws-security-hub-user-guide at 47bfe2f, June 2023: doc_source/
<service>-controls.md, ids, titles, resource types and CIS requirements). Controls AWS added
after that snapshot are marked `newer`; their ids and titles come from the current FSBP
standard page and could not be re-read offline.

`CONTROLS` is the one catalogue: the stack policy below, the config-consistency test
(tests/policies/test_controls.py) and the README's table (`python -m policies.controls`) all
read it. A kind the catalogue does not know is a violation, so a new kind cannot slip in
unexamined.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from pulumi_policy import ReportViolation, StackValidationArgs

from policies._props import ConfigSchema, config_value, reason_for, reasons_setting, stack_policy
from policies.audit import TRAIL
from policies.compute import CLUSTER as ECS_CLUSTER
from policies.compute import ECR_REPOSITORY, TASK_DEFINITION
from policies.compute import SERVICE as ECS_SERVICE
from policies.network_tls import (
    DEFAULT_SECURITY_GROUP,
    INGRESS_RULE,
    LISTENER_TYPES,
    LOAD_BALANCER_TYPES,
    SECURITY_GROUP,
    SUBNET,
    VPC,
)
from policies.observability import LOG_GROUP, METRIC_ALARM
from policies.secrets_keys import CERTIFICATE as ACM_CERTIFICATE
from policies.secrets_keys import KMS_KEY, QUEUE, SECRETSMANAGER_TYPE, TOPIC
from policies.storage_backups import BACKUP_VAULT, BUCKET_POLICY, BUCKET_TYPES

SNAPSHOT: Final = "awsdocs/aws-security-hub-user-guide@47bfe2f (June 2023)"
POLICY_NAME: Final = "security-controls-accounted"

# Kinds the other policy modules name only inside tuples and maps, or not at all.
LOAD_BALANCER = LOAD_BALANCER_TYPES[0]
LISTENER = LISTENER_TYPES[0]
BUCKET = BUCKET_TYPES[0]
EIP = "aws:ec2/eip:Eip"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"


@dataclass(frozen=True)
class Holder:
    """A pack policy that holds a control while it is mandatory in the stack's config and, when
    `setting` is given, its setting includes `value` (a list), equals it, or is at least it."""

    policy: str
    setting: str | None = None
    value: Any = None
    compare: Literal["includes", "equals", "at_least"] = "includes"

    def describe(self) -> str:
        if self.setting is None:
            return f"`{self.policy}`"
        relation = {"includes": "lists", "equals": "=", "at_least": ">="}[self.compare]
        return f"`{self.policy}` ({self.setting} {relation} {self.value})"


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    kinds: tuple[str, ...]
    """The Pulumi resource types it judges (account-level controls: the kind that carries them)."""
    held_by: tuple[Holder, ...] = ()
    cis: tuple[str, ...] = ()
    """CIS AWS Foundations Benchmark requirements, as the snapshot relates them."""
    newer: bool = False
    """Added to Security Hub after the snapshot."""


def _held(*policies: str) -> tuple[Holder, ...]:
    return tuple(Holder(policy) for policy in policies)


def _cis(*items: str) -> tuple[str, ...]:
    return items


SG_RULE_KINDS = (SECURITY_GROUP, INGRESS_RULE)
NO_PUBLIC_INGRESS = _held("security-group-no-public-ingress")
ACCOUNT_TRAIL = Holder(
    "cloudtrail-multi-region-validated-encrypted", "accountTrail", True, "equals"
)


def _cis_alarm(number: int, title: str, alarm: str, *cis: str) -> Control:
    """CloudWatch.1-14: a CIS metric filter and alarm over the account trail's log group."""
    return Control(
        f"CloudWatch.{number}",
        title,
        (TRAIL,),
        (Holder("promised-alarms-present", "requiredAlarms", alarm),),
        cis,
    )


CONTROLS: Final[tuple[Control, ...]] = (
    # ACM (acm-controls.md)
    Control(
        "ACM.1",
        "Imported and ACM-issued certificates should be renewed after a specified time period",
        (ACM_CERTIFICATE,),
        _held("acm-certificate-auto-renewing"),
    ),
    Control(
        "ACM.2",
        "RSA certificates managed by ACM should use a key length of at least 2,048 bits",
        (ACM_CERTIFICATE,),
        _held("acm-certificate-key-strength"),
        newer=True,
    ),
    # AWS Backup
    Control(
        "Backup.1",
        "AWS Backup recovery points should be encrypted at rest",
        (BACKUP_VAULT,),
        _held("backup-vault-encrypted"),
        newer=True,
    ),
    # CloudTrail (cloudtrail-controls.md)
    Control(
        "CloudTrail.1",
        "CloudTrail should be enabled and configured with at least one multi-Region trail that "
        "includes read and write management events",
        (TRAIL,),
        (ACCOUNT_TRAIL,),
        _cis("v1.2.0/2.1", "v1.4.0/3.1"),
    ),
    Control(
        "CloudTrail.2",
        "CloudTrail should have encryption at-rest enabled",
        (TRAIL,),
        _held("cloudtrail-multi-region-validated-encrypted"),
        _cis("v1.2.0/2.7", "v1.4.0/3.7"),
    ),
    Control("CloudTrail.3", "CloudTrail should be enabled", (TRAIL,), (ACCOUNT_TRAIL,)),
    Control(
        "CloudTrail.4",
        "CloudTrail log file validation should be enabled",
        (TRAIL,),
        _held("cloudtrail-multi-region-validated-encrypted"),
        _cis("v1.2.0/2.2", "v1.4.0/3.2"),
    ),
    Control(
        "CloudTrail.5",
        "CloudTrail trails should be integrated with Amazon CloudWatch Logs",
        (TRAIL,),
        _held("cloudtrail-multi-region-validated-encrypted"),
        _cis("v1.2.0/2.4", "v1.4.0/3.4"),
    ),
    Control(
        "CloudTrail.6",
        "Ensure the S3 bucket used to store CloudTrail logs is not publicly accessible",
        (TRAIL,),
        _held("s3-public-access-block-all-enabled", "resource-policy-not-public"),
        _cis("v1.2.0/2.3", "v1.4.0/3.3"),
    ),
    Control(
        "CloudTrail.7",
        "Ensure S3 bucket access logging is enabled on the CloudTrail S3 bucket",
        (TRAIL,),
        _held("s3-bucket-object-events-recorded"),
        _cis("v1.2.0/2.6", "v1.4.0/3.6"),
    ),
    # CloudWatch (cloudwatch-controls.md): the CIS metric filters and alarms
    _cis_alarm(
        1,
        'A log metric filter and alarm should exist for usage of the "root" user',
        "root-account-usage",
        "v1.2.0/1.1",
        "v1.2.0/3.3",
        "v1.4.0/1.7",
        "v1.4.0/4.3",
    ),
    _cis_alarm(
        2,
        "Ensure a log metric filter and alarm exist for unauthorized API calls",
        "unauthorized-api-calls",
        "v1.2.0/3.1",
    ),
    _cis_alarm(
        3,
        "Ensure a log metric filter and alarm exist for Management Console sign-in without MFA",
        "console-signin-without-mfa",
        "v1.2.0/3.2",
    ),
    _cis_alarm(
        4,
        "Ensure a log metric filter and alarm exist for IAM policy changes",
        "iam-policy-changes",
        "v1.2.0/3.4",
        "v1.4.0/4.4",
    ),
    _cis_alarm(
        5,
        "Ensure a log metric filter and alarm exist for CloudTrail AWS Configuration changes",
        "cloudtrail-config-changes",
        "v1.2.0/3.5",
        "v1.4.0/4.5",
    ),
    _cis_alarm(
        6,
        "Ensure a log metric filter and alarm exist for AWS Management Console authentication "
        "failures",
        "console-auth-failures",
        "v1.2.0/3.6",
        "v1.4.0/4.6",
    ),
    _cis_alarm(
        7,
        "Ensure a log metric filter and alarm exist for disabling or scheduled deletion of "
        "customer managed keys",
        "kms-key-disabled-or-deleted",
        "v1.2.0/3.7",
        "v1.4.0/4.7",
    ),
    _cis_alarm(
        8,
        "Ensure a log metric filter and alarm exist for S3 bucket policy changes",
        "s3-bucket-policy-changes",
        "v1.2.0/3.8",
        "v1.4.0/4.8",
    ),
    _cis_alarm(
        9,
        "Ensure a log metric filter and alarm exist for AWS Config configuration changes",
        "aws-config-changes",
        "v1.2.0/3.9",
        "v1.4.0/4.9",
    ),
    _cis_alarm(
        10,
        "Ensure a log metric filter and alarm exist for security group changes",
        "security-group-changes",
        "v1.2.0/3.10",
        "v1.4.0/4.10",
    ),
    _cis_alarm(
        11,
        "Ensure a log metric filter and alarm exist for changes to Network Access Control Lists "
        "(NACL)",
        "nacl-changes",
        "v1.2.0/3.11",
        "v1.4.0/4.11",
    ),
    _cis_alarm(
        12,
        "Ensure a log metric filter and alarm exist for changes to network gateways",
        "network-gateway-changes",
        "v1.2.0/3.12",
        "v1.4.0/4.12",
    ),
    _cis_alarm(
        13,
        "Ensure a log metric filter and alarm exist for route table changes",
        "route-table-changes",
        "v1.2.0/3.13",
        "v1.4.0/4.13",
    ),
    _cis_alarm(
        14,
        "Ensure a log metric filter and alarm exist for VPC changes",
        "vpc-changes",
        "v1.2.0/3.14",
        "v1.4.0/4.14",
    ),
    Control(
        "CloudWatch.15",
        "CloudWatch alarms should have an action configured for the ALARM state",
        (METRIC_ALARM,),
        _held("alarms-notify-topic"),
    ),
    Control(
        "CloudWatch.16",
        "CloudWatch log groups should be retained for at least 1 year",
        (LOG_GROUP,),
        (Holder("log-group-retention", "minRetentionDays", 365, "at_least"),),
    ),
    Control(
        "CloudWatch.17",
        "CloudWatch alarm actions should be activated",
        (METRIC_ALARM,),
        _held("alarms-notify-topic"),
    ),
    # EC2 and VPC (ec2-controls.md)
    Control(
        "EC2.2",
        "The VPC default security group should not allow inbound and outbound traffic",
        (DEFAULT_SECURITY_GROUP,),
        _held("vpc-default-security-group-closed"),
        _cis("v1.2.0/4.3", "v1.4.0/5.3"),
    ),
    Control(
        "EC2.6",
        "VPC flow logging should be enabled in all VPCs",
        (VPC,),
        _held("vpc-flow-logs-enabled", "vpc-flow-log-retention"),
        _cis("v1.2.0/2.9", "v1.4.0/3.9"),
    ),
    Control(
        "EC2.10",
        "Amazon EC2 should be configured to use VPC endpoints that are created for the Amazon "
        "EC2 service",
        (VPC,),
    ),
    Control("EC2.12", "Unused Amazon EC2 EIPs should be removed", (EIP,)),
    Control(
        "EC2.13",
        "Security groups should not allow ingress from 0.0.0.0/0 to port 22",
        SG_RULE_KINDS,
        NO_PUBLIC_INGRESS,
        _cis("v1.2.0/4.1"),
    ),
    Control(
        "EC2.14",
        "Ensure no security groups allow ingress from 0.0.0.0/0 to port 3389",
        SG_RULE_KINDS,
        NO_PUBLIC_INGRESS,
        _cis("v1.2.0/4.2"),
    ),
    Control(
        "EC2.15",
        "Amazon EC2 subnets should not automatically assign public IP addresses",
        (SUBNET,),
        _held("subnet-no-auto-public-ip"),
    ),
    Control(
        "EC2.18",
        "Security groups should only allow unrestricted incoming traffic for authorized ports",
        SG_RULE_KINDS,
        NO_PUBLIC_INGRESS,
    ),
    Control(
        "EC2.19",
        "Security groups should not allow unrestricted access to ports with high risk",
        SG_RULE_KINDS,
        NO_PUBLIC_INGRESS,
    ),
    Control("EC2.22", "Unused Amazon EC2 security groups should be removed", (SECURITY_GROUP,)),
    Control(
        "EC2.53",
        "EC2 security groups should not allow ingress from 0.0.0.0/0 to remote server "
        "administration ports",
        SG_RULE_KINDS,
        NO_PUBLIC_INGRESS,
        _cis("v3.0.0/5.2"),
        newer=True,
    ),
    Control(
        "EC2.54",
        "EC2 security groups should not allow ingress from ::/0 to remote server administration "
        "ports",
        SG_RULE_KINDS,
        NO_PUBLIC_INGRESS,
        _cis("v3.0.0/5.3"),
        newer=True,
    ),
    # ECR (ecr-controls.md)
    Control(
        "ECR.1",
        "ECR private repositories should have image scanning configured",
        (ECR_REPOSITORY,),
        _held("ecr-scan-on-push"),
    ),
    Control(
        "ECR.2",
        "ECR private repositories should have tag immutability configured",
        (ECR_REPOSITORY,),
        _held("ecr-immutable-tags"),
    ),
    Control(
        "ECR.3",
        "ECR repositories should have at least one lifecycle policy configured",
        (ECR_REPOSITORY,),
        _held("ecr-lifecycle-policy"),
    ),
    Control(
        "ECR.5",
        "ECR repositories should be encrypted with customer managed AWS KMS keys",
        (ECR_REPOSITORY,),
        _held("ecr-customer-kms-key"),
        newer=True,
    ),
    # ECS (ecs-controls.md)
    Control(
        "ECS.1",
        "Amazon ECS task definitions should have secure networking modes and user definitions.",
        (TASK_DEFINITION,),
        _held("ecs-task-host-namespaces-isolated", "ecs-task-non-root-user"),
    ),
    Control(
        "ECS.2",
        "ECS services should not have public IP addresses assigned to them automatically",
        (ECS_SERVICE,),
        _held("ecs-service-no-public-ip"),
    ),
    Control(
        "ECS.3",
        "ECS task definitions should not share the host's process namespace",
        (TASK_DEFINITION,),
        _held("ecs-task-host-namespaces-isolated"),
    ),
    Control(
        "ECS.4",
        "ECS containers should run as non-privileged",
        (TASK_DEFINITION,),
        _held("ecs-task-no-privileged"),
    ),
    Control(
        "ECS.5",
        "ECS containers should be limited to read-only access to root filesystems",
        (TASK_DEFINITION,),
        _held("ecs-task-readonly-root-filesystem"),
    ),
    Control(
        "ECS.8",
        "Secrets should not be passed as container environment variables",
        (TASK_DEFINITION,),
        _held("ecs-task-no-plaintext-secrets"),
    ),
    Control(
        "ECS.9",
        "ECS task definitions should have a logging configuration",
        (TASK_DEFINITION,),
        _held("ecs-task-log-configuration"),
        newer=True,
    ),
    Control(
        "ECS.10",
        "ECS Fargate services should run on the latest Fargate platform version",
        (ECS_SERVICE,),
        _held("ecs-fargate-latest-platform"),
    ),
    Control(
        "ECS.12",
        "ECS clusters should use Container Insights",
        (ECS_CLUSTER,),
        _held("ecs-cluster-container-insights"),
    ),
    Control(
        "ECS.17",
        "ECS task definitions should not use host network mode",
        (TASK_DEFINITION,),
        _held("ecs-task-host-namespaces-isolated"),
        newer=True,
    ),
    # Elastic Load Balancing (elb-controls.md)
    Control(
        "ELB.1",
        "Application Load Balancer should be configured to redirect all HTTP requests to HTTPS",
        (LOAD_BALANCER,),
        _held("alb-http-listener-redirects-only"),
    ),
    Control(
        "ELB.4",
        "Application Load Balancer should be configured to drop http headers",
        (LOAD_BALANCER,),
        _held("alb-drops-invalid-headers"),
    ),
    Control(
        "ELB.5",
        "Application and Classic Load Balancers logging should be enabled",
        (LOAD_BALANCER,),
        _held("alb-access-logs-enabled"),
    ),
    Control(
        "ELB.6",
        "Application Load Balancer deletion protection should be enabled",
        (LOAD_BALANCER,),
        _held("alb-deletion-protection"),
    ),
    Control(
        "ELB.12",
        "Application Load Balancer should be configured with defensive or strictest desync "
        "mitigation mode",
        (LOAD_BALANCER,),
        _held("alb-desync-mitigation"),
    ),
    Control(
        "ELB.13",
        "Application, Network and Gateway Load Balancers should span multiple Availability Zones",
        (LOAD_BALANCER,),
        _held("alb-multi-az"),
    ),
    Control(
        "ELB.16",
        "Application Load Balancers should be associated with an AWS WAF web ACL",
        (LOAD_BALANCER,),
        newer=True,
    ),
    Control(
        "ELB.17",
        "Application and Network Load Balancers with listeners should use recommended security "
        "policies",
        (LISTENER,),
        _held("alb-https-listener-tls12"),
        newer=True,
    ),
    # IAM (iam-controls.md): the inline policies of the program's roles
    Control(
        "IAM.1",
        'IAM policies should not allow full "*" administrative privileges',
        (ROLE_POLICY,),
        _held("iam-policy-no-full-admin"),
        _cis("v1.2.0/1.22", "v1.4.0/1.16"),
    ),
    Control(
        "IAM.21",
        "IAM customer managed policies that you create should not allow wildcard actions for "
        "services",
        (ROLE_POLICY,),
        _held("iam-policy-no-service-wildcards"),
    ),
    # KMS (kms-controls.md)
    Control(
        "KMS.1",
        "IAM customer managed policies should not allow decryption actions on all KMS keys",
        (ROLE_POLICY,),
        _held("iam-policy-no-decrypt-all-keys"),
    ),
    Control(
        "KMS.2",
        "IAM principals should not have IAM inline policies that allow decryption actions on all "
        "KMS keys",
        (ROLE_POLICY,),
        _held("iam-policy-no-decrypt-all-keys"),
    ),
    Control(
        "KMS.3",
        "AWS KMS keys should not be deleted unintentionally",
        (KMS_KEY,),
        _held("kms-key-deletion-window"),
    ),
    Control(
        "KMS.4",
        "AWS KMS key rotation should be enabled",
        (KMS_KEY,),
        _held("kms-key-rotation-enabled"),
        _cis("v1.2.0/2.8", "v1.4.0/3.8"),
    ),
    Control(
        "KMS.5",
        "KMS keys should not be publicly accessible",
        (KMS_KEY,),
        _held("resource-policy-not-public", "kms-key-explicit-policy"),
        newer=True,
    ),
    # S3 (s3-controls.md)
    Control(
        "S3.1",
        "S3 Block Public Access setting should be enabled",
        (BUCKET,),
        cis=_cis("v1.4.0/2.1.5"),
    ),
    Control(
        "S3.2",
        "S3 buckets should prohibit public read access",
        (BUCKET,),
        _held("s3-bucket-public-access-block", "resource-policy-not-public"),
    ),
    Control(
        "S3.3",
        "S3 buckets should prohibit public write access",
        (BUCKET,),
        _held("s3-bucket-public-access-block", "resource-policy-not-public"),
    ),
    Control(
        "S3.4",
        "S3 buckets should have server-side encryption enabled",
        (BUCKET,),
        _held("s3-bucket-encryption"),
        _cis("v1.4.0/2.1.1"),
    ),
    Control(
        "S3.5",
        "S3 buckets should require requests to use Secure Socket Layer",
        (BUCKET,),
        _held("s3-bucket-tls-only"),
        _cis("v1.4.0/2.1.2"),
    ),
    Control(
        "S3.6",
        "S3 permissions granted to other AWS accounts in bucket policies should be restricted",
        (BUCKET,),
        _held("s3-bucket-policy-cross-account-restricted"),
    ),
    Control("S3.7", "S3 buckets should have cross-Region replication enabled", (BUCKET,)),
    Control(
        "S3.8",
        "S3 Block Public Access setting should be enabled at the bucket-level",
        (BUCKET,),
        _held("s3-public-access-block-all-enabled"),
        _cis("v1.4.0/2.1.5"),
    ),
    Control(
        "S3.9",
        "S3 bucket server access logging should be enabled",
        (BUCKET,),
        _held("s3-bucket-object-events-recorded"),
    ),
    Control(
        "S3.10",
        "S3 buckets with versioning enabled should have lifecycle policies configured",
        (BUCKET,),
        _held("s3-bucket-lifecycle-aborts-multipart"),
    ),
    Control("S3.11", "S3 buckets should have event notifications enabled", (BUCKET,)),
    Control(
        "S3.12",
        "S3 access control lists (ACLs) should not be used to manage user access to buckets",
        (BUCKET,),
        _held("s3-bucket-owner-enforced"),
    ),
    Control(
        "S3.13",
        "S3 buckets should have lifecycle policies configured",
        (BUCKET,),
        _held("s3-bucket-lifecycle-aborts-multipart"),
    ),
    Control(
        "S3.14",
        "S3 buckets should use versioning",
        (BUCKET,),
        _held("s3-bucket-versioning"),
    ),
    Control(
        "S3.15", "S3 general purpose buckets should have Object Lock enabled", (BUCKET,), newer=True
    ),
    Control(
        "S3.17",
        "S3 general purpose buckets should be encrypted at rest with AWS KMS keys",
        (BUCKET,),
        _held("s3-bucket-kms-encryption"),
        newer=True,
    ),
    Control(
        "S3.20", "S3 general purpose buckets should have MFA delete enabled", (BUCKET,), newer=True
    ),
    Control(
        "S3.22",
        "S3 general purpose buckets should log object-level write events",
        (BUCKET,),
        _held("s3-bucket-object-events-recorded"),
        _cis("v3.0.0/3.8"),
        newer=True,
    ),
    Control(
        "S3.23",
        "S3 general purpose buckets should log object-level read events",
        (BUCKET,),
        _held("s3-bucket-object-events-recorded"),
        _cis("v3.0.0/3.9"),
        newer=True,
    ),
    # Secrets Manager (secretsmanager-controls.md)
    Control(
        "SecretsManager.1",
        "Secrets Manager secrets should have automatic rotation enabled",
        (SECRETSMANAGER_TYPE,),
    ),
    Control(
        "SecretsManager.2",
        "Secrets Manager secrets configured with automatic rotation should rotate successfully",
        (SECRETSMANAGER_TYPE,),
    ),
    Control("SecretsManager.3", "Remove unused Secrets Manager secrets", (SECRETSMANAGER_TYPE,)),
    Control(
        "SecretsManager.4",
        "Secrets Manager secrets should be rotated within a specified number of days",
        (SECRETSMANAGER_TYPE,),
        _held("secret-rotation-age"),
    ),
    # SNS and SQS (sns-controls.md, sqs-controls.md)
    Control(
        "SNS.1",
        "SNS topics should be encrypted at-rest using AWS KMS",
        (TOPIC,),
        _held("sns-topic-kms-encrypted"),
    ),
    Control(
        "SNS.2",
        "Logging of delivery status should be enabled for notification messages sent to a topic",
        (TOPIC,),
    ),
    Control(
        "SNS.4",
        "SNS topic access policies should not allow public access",
        (TOPIC_POLICY,),
        _held("resource-policy-not-public"),
        newer=True,
    ),
    Control(
        "SQS.1",
        "Amazon SQS queues should be encrypted at rest",
        (QUEUE,),
        _held("sqs-queue-encrypted"),
    ),
    Control(
        "SQS.3",
        "SQS queue access policies should not allow public access",
        (QUEUE_POLICY,),
        _held("resource-policy-not-public"),
        newer=True,
    ),
)

KINDS_WITHOUT_CONTROLS: Final[Mapping[str, str]] = dict.fromkeys(
    (
        "aws:acm/certificateValidation:CertificateValidation",
        "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:ec2/route:Route",
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:kms/alias:Alias",
        "aws:lb/listenerRule:ListenerRule",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        BUCKET_POLICY,
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:secretsmanager/secretVersion:SecretVersion",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    ),
    "no FSBP or CIS control judges this kind; its parent's controls cover it",
) | dict.fromkeys(
    (
        "aws:appautoscaling/policy:Policy",
        "aws:appautoscaling/target:Target",
        "aws:backup/plan:Plan",
        "aws:backup/restoreTestingPlan:RestoreTestingPlan",
        "aws:backup/restoreTestingSelection:RestoreTestingSelection",
        "aws:backup/selection:Selection",
        "aws:cloudwatch/dashboard:Dashboard",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/eventTarget:EventTarget",
        "aws:cloudwatch/logMetricFilter:LogMetricFilter",
        "aws:ec2/flowLog:FlowLog",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:iam/role:Role",
        "aws:lb/targetGroup:TargetGroup",
        "aws:route53/healthCheck:HealthCheck",
        "aws:scheduler/schedule:Schedule",
        "aws:scheduler/scheduleGroup:ScheduleGroup",
        "aws:synthetics/canary:Canary",
    ),
    "no FSBP or CIS control judges this kind",
)
"""AWS kinds the program creates that no control in the catalogue judges, and why (tags are
the Resource Tagging Standard's, held by `required-tags`, not FSBP's)."""

CONTROL_BY_ID: Final = {control.id: control for control in CONTROLS}
KNOWN_KINDS: Final = frozenset(KINDS_WITHOUT_CONTROLS) | {
    kind for control in CONTROLS for kind in control.kinds
}

SCHEMA: ConfigSchema = {
    "exceptions": reasons_setting(keys="Control id (e.g. S3.7) this stack does not hold")
}


def is_aws_kind(resource_type: str) -> bool:
    return resource_type.startswith("aws:") and not resource_type.startswith("pulumi:")


def applicable(kinds: set[str] | frozenset[str]) -> list[Control]:
    """The controls that judge at least one of `kinds`, in catalogue order."""
    return [control for control in CONTROLS if set(control.kinds) & kinds]


def reason_of(exceptions: Mapping[str, Any], control_id: str) -> str:
    return reason_for(exceptions, control_id) or ""


def _check(args: StackValidationArgs, report: ReportViolation) -> None:
    kinds = {r.resource_type for r in args.resources if is_aws_kind(r.resource_type)}
    for kind in sorted(kinds - KNOWN_KINDS):
        report(
            f"The stack creates '{kind}', which the controls catalogue (policies/controls.py) "
            "does not know: list the FSBP/CIS controls that judge it (or say none does).",
            None,
        )
    # An exception for a control that judges nothing here is not refused: a stack's config is
    # written for its real rendering, and tests/policies/test_controls.py checks it against that.
    exceptions = config_value(args.get_config(), SCHEMA, "exceptions") or {}
    for control_id in sorted(exceptions):
        if control_id not in CONTROL_BY_ID:
            report(f"The exception '{control_id}' names no control of the catalogue.", None)
        elif not reason_of(exceptions, control_id):
            report(f"The exception '{control_id}' names no reason.", None)
    for control in applicable(kinds):
        if not control.held_by and control.id not in exceptions:
            report(
                f"{control.id} ({control.title}) judges {', '.join(sorted(set(control.kinds)))} "
                "of this stack; no policy of the pack holds it and the config records no "
                "exception with a reason.",
                None,
            )


POLICIES = [
    stack_policy(
        POLICY_NAME,
        "Checks whether every FSBP/CIS control that judges a resource kind of the stack is held "
        "by the pack or recorded as an exception with its reason.",
        _check,
        SCHEMA,
    )
]
