"""The audit trail of both stacks: the trail, its locked bucket, its key, its CIS alarms.

Sources: AWS's CloudTrail bucket and key policies
(https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html,
https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html),
the CIS AWS Foundations filter patterns of Security Hub CloudWatch.1-14, copied from each control's
remediation section of the Security Hub user guide (awsdocs/aws-security-hub-user-guide at
47bfe2f, June 2023, cloudwatch-controls.md). Staging and prod share one AWS account: prod's trail
is the account trail (management events, CIS alarms), staging's records its buckets' data events.
"""

import itertools
import json
from typing import Any, cast

import pytest
from pydantic import ValidationError

from components.audit_trail import AUDIT_ALARMS, event_selectors
from components.runbooks import runbook_link
from config.sections import AuditSettings
from plan.mocks import ACCOUNT_ID
from plan.render import RenderedResource, Rendering
from policies.evaluate import load_policy_config
from tests.components.conftest import STACKS, render

TRAIL = "aws:cloudtrail/trail:Trail"
KEY = "aws:kms/key:Key"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
METRIC_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
CLOUDTRAIL = "cloudtrail.amazonaws.com"
RETENTION = {"staging": ("GOVERNANCE", 7, 30), "prod": ("COMPLIANCE", 2190, 2190)}
CIS_PATTERNS = {
    "root-account-usage": '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}',  # noqa: E501
    "unauthorized-api-calls": '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}',  # noqa: E501
    "console-signin-without-mfa": '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }',  # noqa: E501
    "iam-policy-changes": "{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || ($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || ($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || ($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || ($.eventName=CreatePolicyVersion) || ($.eventName=DeletePolicyVersion) || ($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || ($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || ($.eventName=AttachGroupPolicy) || ($.eventName=DetachGroupPolicy)}",  # noqa: E501
    "cloudtrail-config-changes": "{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || ($.eventName=StartLogging) || ($.eventName=StopLogging)}",  # noqa: E501
    "console-auth-failures": '{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}',  # noqa: E501
    "kms-key-disabled-or-deleted": "{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}",  # noqa: E501
    "s3-bucket-policy-changes": "{($.eventSource=s3.amazonaws.com) && (($.eventName=PutBucketAcl) || ($.eventName=PutBucketPolicy) || ($.eventName=PutBucketCors) || ($.eventName=PutBucketLifecycle) || ($.eventName=PutBucketReplication) || ($.eventName=DeleteBucketPolicy) || ($.eventName=DeleteBucketCors) || ($.eventName=DeleteBucketLifecycle) || ($.eventName=DeleteBucketReplication))}",  # noqa: E501
    "aws-config-changes": "{($.eventSource=config.amazonaws.com) && (($.eventName=StopConfigurationRecorder) || ($.eventName=DeleteDeliveryChannel) || ($.eventName=PutDeliveryChannel) || ($.eventName=PutConfigurationRecorder))}",  # noqa: E501
    "security-group-changes": "{($.eventName=AuthorizeSecurityGroupIngress) || ($.eventName=AuthorizeSecurityGroupEgress) || ($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) || ($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}",  # noqa: E501
    "nacl-changes": "{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) || ($.eventName=DeleteNetworkAcl) || ($.eventName=DeleteNetworkAclEntry) || ($.eventName=ReplaceNetworkAclEntry) || ($.eventName=ReplaceNetworkAclAssociation)}",  # noqa: E501
    "network-gateway-changes": "{($.eventName=CreateCustomerGateway) || ($.eventName=DeleteCustomerGateway) || ($.eventName=AttachInternetGateway) || ($.eventName=CreateInternetGateway) || ($.eventName=DeleteInternetGateway) || ($.eventName=DetachInternetGateway)}",  # noqa: E501
    "route-table-changes": "{($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || ($.eventName=ReplaceRoute) || ($.eventName=ReplaceRouteTableAssociation) || ($.eventName=DeleteRouteTable) || ($.eventName=DeleteRoute) || ($.eventName=DisassociateRouteTable)}",  # noqa: E501
    "vpc-changes": "{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || ($.eventName=ModifyVpcAttribute) || ($.eventName=AcceptVpcPeeringConnection) || ($.eventName=CreateVpcPeeringConnection) || ($.eventName=DeleteVpcPeeringConnection) || ($.eventName=RejectVpcPeeringConnection) || ($.eventName=AttachClassicLinkVpc) || ($.eventName=DetachClassicLinkVpc) || ($.eventName=DisableVpcClassicLink) || ($.eventName=EnableVpcClassicLink)}",  # noqa: E501
}


def trail_arn(stack: str) -> str:
    return f"arn:aws:cloudtrail:us-west-2:{ACCOUNT_ID}:trail/miko-{stack}-audit"


def statements(resource: RenderedResource, prop: str) -> dict[str, dict[str, Any]]:
    document = json.loads(resource.inputs[prop])
    return {
        statement.get("Sid", str(i)): statement for i, statement in enumerate(document["Statement"])
    }


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rendered(stack: str) -> Rendering:
    return render(stack)


# --- the trail ------------------------------------------------------------------------------


def test_trail_is_multi_region_validated_and_encrypted(rendered, stack):
    trail = rendered.get(TRAIL, "audit-trail")
    assert trail.inputs["name"] == f"miko-{stack}-audit"
    assert trail.inputs["isMultiRegionTrail"] is True
    assert trail.inputs["includeGlobalServiceEvents"] is True
    assert trail.inputs["enableLogFileValidation"] is True
    assert trail.inputs["kmsKeyId"] == rendered.get(KEY, "audit-key").outputs["arn"]
    assert trail.inputs["s3BucketName"] == rendered.get(BUCKET, "audit-bucket").outputs["bucket"]


def selectors_of(rendered: Rendering) -> dict[str, dict[str, dict[str, Any]]]:
    """name -> field -> field selector, of the trail's advanced event selectors."""
    trail = rendered.get(TRAIL, "audit-trail")
    return {
        selector["name"]: {field["field"]: field for field in selector["fieldSelectors"]}
        for selector in trail.inputs["advancedEventSelectors"]
    }


def bucket_arns(rendered: Rendering) -> set[str]:
    return {f"arn:aws:s3:::{bucket.outputs['bucket']}" for bucket in rendered.of_type(BUCKET)}


def test_only_the_account_trail_records_management_events(rendered, stack):
    selectors = selectors_of(rendered)
    management = [s for s in selectors.values() if "Management" in s["eventCategory"]["equals"]]
    if stack == "prod":
        # Read and write (no readOnly field), no source excluded: CloudTrail.1.
        assert management == [
            {"eventCategory": {"field": "eventCategory", "equals": ["Management"]}}
        ]
    else:
        assert management == []


def test_trail_records_the_object_events_of_every_bucket_of_the_stack(rendered, stack):
    selectors = selectors_of(rendered)
    data = [s for s in selectors.values() if s["eventCategory"]["equals"] == ["Data"]]
    assert all(s["resources.type"]["equals"] == ["AWS::S3::Object"] for s in data)
    assert all("readOnly" not in s for s in data)  # reads and writes
    recorded = {arn for s in data for arn in s["resources.ARN"]["startsWiths"]}
    assert recorded == {f"{arn}/" for arn in bucket_arns(rendered)}
    expected = {"audit-bucket", "backups-dumps-bucket", "release-assets-bucket"}
    expected |= {"synthetic-journey-artifacts"}
    if stack == "prod":
        expected |= {"load-balancer-access-logs"}
    assert {bucket.name for bucket in rendered.of_type(BUCKET)} == expected


def test_the_trail_s_own_bucket_is_recorded_but_its_log_deliveries(rendered):
    audit = f"arn:aws:s3:::{rendered.get(BUCKET, 'audit-bucket').outputs['bucket']}/"
    selectors = selectors_of(rendered)
    (own,) = [
        s for s in selectors.values() if audit in s.get("resources.ARN", {}).get("startsWiths", [])
    ]
    assert own["resources.ARN"]["startsWiths"] == [audit]
    assert own["eventName"] == {"field": "eventName", "notEquals": ["PutObject"]}
    others = [s for s in selectors.values() if s is not own]
    assert all("eventName" not in s for s in others)


def test_event_selectors_of_both_kinds_of_trail():
    log, dump = "arn:aws:s3:::audit", "arn:aws:s3:::dumps"
    account = event_selectors(account_trail=True, log_bucket_arn=log, bucket_arns=[dump, log, dump])
    assert [s["name"] for s in account] == [
        "Management events",
        "Object events of the stack's buckets",
        "Object events of the trail's own bucket, but its log deliveries",
    ]
    assert cast(list[Any], account[1]["field_selectors"])[2] == {
        "field": "resources.ARN",
        "starts_withs": [f"{dump}/"],
    }
    data_only = event_selectors(account_trail=False, log_bucket_arn=log, bucket_arns=[])
    assert [s["name"] for s in data_only] == [
        "Object events of the trail's own bucket, but its log deliveries"
    ]
    assert cast(list[Any], data_only[0]["field_selectors"])[-1] == {
        "field": "eventName",
        "not_equals": ["PutObject"],
    }


def test_trail_is_written_after_its_bucket_and_role(rendered):
    trail = rendered.get(TRAIL, "audit-trail")
    assert rendered.waits_for(trail, rendered.get(BUCKET_POLICY, "audit-tls-only"))
    assert rendered.waits_for(trail, rendered.get(LIFECYCLE, "audit-lifecycle"))
    assert rendered.waits_for(trail, rendered.get(ROLE_POLICY, "audit-delivery"))


# --- the bucket -----------------------------------------------------------------------------


def test_bucket_is_private_versioned_encrypted_and_locked_per_stack(rendered, stack):
    bucket = rendered.get(BUCKET, "audit-bucket")
    assert bucket.inputs["objectLockEnabled"] is True
    assert bucket.inputs["bucketPrefix"] == f"miko-{stack}-audit-"
    assert bucket.protect is (stack == "prod")
    assert rendered.get(OWNERSHIP, "audit-ownership").inputs["rule"] == {
        "objectOwnership": "BucketOwnerEnforced"
    }
    block = rendered.get(PUBLIC_ACCESS_BLOCK, "audit-public-access-block").inputs
    assert all(block[flag] is True for flag in ("blockPublicAcls", "blockPublicPolicy"))
    assert all(block[flag] is True for flag in ("ignorePublicAcls", "restrictPublicBuckets"))
    (rule,) = rendered.get(ENCRYPTION, "audit-encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": rendered.get(KEY, "audit-key").outputs["arn"],
    }
    assert rendered.get(VERSIONING, "audit-versioning").inputs["versioningConfiguration"] == {
        "status": "Enabled"
    }
    mode, lock_days, expire_days = RETENTION[stack]
    lock = rendered.get(OBJECT_LOCK, "audit-object-lock").inputs["rule"]["defaultRetention"]
    assert lock == {"mode": mode, "days": lock_days}
    rules = {
        rule["id"]: rule for rule in rendered.get(LIFECYCLE, "audit-lifecycle").inputs["rules"]
    }
    assert rules["log-files"]["expiration"] == {"days": expire_days}
    assert expire_days >= lock_days
    assert rules["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"] == {
        "daysAfterInitiation": 1
    }


def test_prod_keeps_log_files_six_years_in_compliance_mode():
    lock = render("prod").get(OBJECT_LOCK, "audit-object-lock").inputs["rule"]["defaultRetention"]
    assert lock == {"mode": "COMPLIANCE", "days": 6 * 365}


def test_bucket_settings_are_one_chain(rendered):
    """BucketSettings: ownership, public access block, encryption, policy, versioning, lock,
    lifecycle, each waiting for the one before."""
    chain = [
        rendered.get(OWNERSHIP, "audit-ownership"),
        rendered.get(PUBLIC_ACCESS_BLOCK, "audit-public-access-block"),
        rendered.get(ENCRYPTION, "audit-encryption"),
        rendered.get(BUCKET_POLICY, "audit-tls-only"),
        rendered.get(VERSIONING, "audit-versioning"),
        rendered.get(OBJECT_LOCK, "audit-object-lock"),
        rendered.get(LIFECYCLE, "audit-lifecycle"),
    ]
    for earlier, later in itertools.pairwise(chain):
        assert rendered.waits_for(later, earlier), f"{later.name} does not wait for {earlier.name}"


def test_bucket_policy_is_cloudtrail_s_documented_one_plus_tls_only(rendered, stack):
    bucket = rendered.get(BUCKET, "audit-bucket").outputs["bucket"]
    arn = f"arn:aws:s3:::{bucket}"
    found = statements(rendered.get(BUCKET_POLICY, "audit-tls-only"), "policy")
    assert set(found) == {"CloudTrailAclCheck", "CloudTrailWrite", "DenyInsecureTransport"}
    acl = found["CloudTrailAclCheck"]
    assert (acl["Effect"], acl["Principal"], acl["Action"], acl["Resource"]) == (
        "Allow",
        {"Service": CLOUDTRAIL},
        "s3:GetBucketAcl",
        arn,
    )
    assert acl["Condition"] == {"StringEquals": {"aws:SourceArn": trail_arn(stack)}}
    write = found["CloudTrailWrite"]
    assert (write["Principal"], write["Action"], write["Resource"]) == (
        {"Service": CLOUDTRAIL},
        "s3:PutObject",
        f"{arn}/AWSLogs/{ACCOUNT_ID}/*",
    )
    assert write["Condition"] == {
        "StringEquals": {
            "s3:x-amz-acl": "bucket-owner-full-control",
            "aws:SourceArn": trail_arn(stack),
        }
    }
    tls = found["DenyInsecureTransport"]
    assert tls["Effect"] == "Deny"
    assert tls["Resource"] == [arn, f"{arn}/*"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# --- the key --------------------------------------------------------------------------------


def test_key_rotates_and_lets_only_this_trail_encrypt(rendered, stack):
    key = rendered.get(KEY, "audit-key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.protect is (stack == "prod")
    found = statements(key, "policy")
    assert found["AccountAdministersKeyThroughIam"]["Principal"] == {
        "AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"
    }
    encrypt = found["CloudTrailEncryptsLogs"]
    assert encrypt["Principal"] == {"Service": CLOUDTRAIL}
    assert encrypt["Action"] == "kms:GenerateDataKey*"
    assert encrypt["Condition"] == {
        "StringEquals": {"aws:SourceArn": trail_arn(stack)},
        "StringLike": {
            "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{ACCOUNT_ID}:trail/*"
        },
    }
    describe = found["CloudTrailDescribesKey"]
    assert describe["Action"] == "kms:DescribeKey"
    assert describe["Condition"] == {"StringEquals": {"aws:SourceArn": trail_arn(stack)}}
    service_statements = [s for s in found.values() if "Service" in s["Principal"]]
    assert all("aws:SourceArn" in s["Condition"]["StringEquals"] for s in service_statements)


# --- the log group, its delivery role, the alarms -------------------------------------------


def test_trail_delivers_to_an_encrypted_log_group_with_a_scoped_role(rendered, stack):
    group = rendered.get(LOG_GROUP, "audit-logs")
    assert group.inputs["name"] == f"/miko-{stack}/cloudtrail"
    assert group.inputs["kmsKeyId"] == rendered.get(KEY, "secrets-key").outputs["arn"]
    assert (
        group.inputs["retentionInDays"]
        >= load_policy_config(stack)["log-group-retention"]["minRetentionDays"]
    )
    trail = rendered.get(TRAIL, "audit-trail")
    assert trail.inputs["cloudWatchLogsGroupArn"] == f"{group.outputs['arn']}:*"
    role = rendered.get(ROLE, "audit-delivery")
    assert trail.inputs["cloudWatchLogsRoleArn"] == role.outputs["arn"]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": CLOUDTRAIL}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceArn": trail_arn(stack)}}
    (grant,) = json.loads(rendered.get(ROLE_POLICY, "audit-delivery").inputs["policy"])["Statement"]
    assert grant["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert grant["Resource"] == [f"{group.outputs['arn']}:log-stream:*"]


@pytest.mark.parametrize("alarm", AUDIT_ALARMS, ids=lambda alarm: alarm.key)
def test_cis_alarm_counts_its_documented_pattern_on_the_account_trail_s_log_group(prod, alarm):
    assert alarm.pattern == CIS_PATTERNS[alarm.key]
    group = prod.get(LOG_GROUP, "audit-logs")
    metric_filter = prod.get(METRIC_FILTER, f"audit-{alarm.key}-filter")
    assert metric_filter.inputs["logGroupName"] == group.inputs["name"]
    assert metric_filter.inputs["pattern"] == CIS_PATTERNS[alarm.key]
    transformation = metric_filter.inputs["metricTransformation"]
    assert transformation["value"] == "1"
    metric_alarm = prod.get(METRIC_ALARM, f"audit-{alarm.key}")
    inputs = metric_alarm.inputs
    assert inputs["name"] == f"miko-prod-{alarm.key}"
    assert inputs["tags"] == {"alarm": alarm.key}
    assert (inputs["namespace"], inputs["metricName"]) == (
        transformation["namespace"],
        transformation["name"],
    )
    assert (inputs["statistic"], inputs["threshold"], inputs["period"]) == ("Sum", 1, 300)
    assert inputs["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert inputs["treatMissingData"] == "notBreaching"
    assert inputs["alarmDescription"].endswith(runbook_link(alarm.key))


def test_the_cis_alarms_are_security_hub_cloudwatch_1_to_14_once_each():
    assert [alarm.key for alarm in AUDIT_ALARMS] == list(CIS_PATTERNS)
    assert len({alarm.pattern for alarm in AUDIT_ALARMS}) == 14


def test_a_trail_that_is_not_the_account_s_has_no_cis_alarms(staging):
    audit_children = [r for r in staging.resources if r.name.startswith("audit-")]
    assert [r for r in audit_children if r.type in (METRIC_FILTER, METRIC_ALARM)] == []
    assert staging.get(LOG_GROUP, "audit-logs")  # the data events still reach CloudWatch Logs


def test_compromise_and_key_loss_page_the_rest_email(prod):
    critical = f"arn:aws:sns:us-west-2:{ACCOUNT_ID}:sns/miko-prod-alarms"
    paging = {"root-account-usage", "console-signin-without-mfa", "kms-key-disabled-or-deleted"}
    assert {alarm.key for alarm in AUDIT_ALARMS if alarm.critical} == paging
    for alarm in AUDIT_ALARMS:
        inputs = prod.get(METRIC_ALARM, f"audit-{alarm.key}").inputs
        if alarm.key in paging:
            assert inputs["alarmActions"] == inputs["okActions"] == [critical]
        else:
            assert inputs["alarmActions"] == [f"{critical}-warning"]
            assert inputs["okActions"] == []


# --- the organization trail, and the policy config that says the same ----------------------


def test_committed_policy_config_agrees_with_the_program(rendered, stack):
    config = load_policy_config(stack)
    has_trail = bool(rendered.of_type(TRAIL))
    trail_config = config["cloudtrail-multi-region-validated-encrypted"]
    assert trail_config["organizationTrail"] is (not has_trail)
    assert config["s3-bucket-object-events-recorded"]["organizationTrail"] is (not has_trail)
    account_trail = any(
        "Management" in selector["fieldSelectors"][0]["equals"]
        for trail in rendered.of_type(TRAIL)
        for selector in trail.inputs["advancedEventSelectors"]
    )
    assert trail_config["accountTrail"] is account_trail is (stack == "prod")
    required = set(config["promised-alarms-present"]["requiredAlarms"])
    cis = {alarm.key for alarm in AUDIT_ALARMS}
    assert required & cis == (cis if account_trail else set())


def test_an_organization_trail_means_no_trail_of_the_stack_s_own(render_with):
    rendered = render_with("staging", {"auditOrganizationTrail": True, "auditAccountTrail": False})
    assert rendered.of_type(TRAIL) == []
    assert [r for r in rendered.resources if r.name == "audit" or r.name.startswith("audit-")] == []
    alarm_keys = {r.inputs["tags"]["alarm"] for r in rendered.of_type(METRIC_ALARM)}
    assert not alarm_keys & {alarm.key for alarm in AUDIT_ALARMS}
    assert "audit_trail_arn" not in rendered.exports


def test_exports_name_the_trail_and_its_bucket(rendered):
    assert rendered.exports["audit_trail_arn"] == rendered.get(TRAIL, "audit-trail").outputs["arn"]
    assert (
        rendered.exports["audit_bucket_name"]
        == rendered.get(BUCKET, "audit-bucket").outputs["bucket"]
    )


# --- the config section ---------------------------------------------------------------------

AUDIT_CONFIG = {
    "auditOrganizationTrail": "false",
    "auditAccountTrail": "true",
    "auditObjectLockMode": "COMPLIANCE",
    "auditObjectLockDays": "2190",
    "auditExpireAfterDays": "2190",
}


def test_audit_section_reads_its_keys():
    settings = AuditSettings.model_validate(AUDIT_CONFIG)
    assert settings.organization_trail is False
    assert settings.account_trail is True
    assert (settings.object_lock_mode, settings.object_lock_days) == ("COMPLIANCE", 2190)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"auditExpireAfterDays": "30"}, "below auditObjectLockDays"),
        ({"auditObjectLockMode": "LEGAL_HOLD"}, "auditObjectLockMode"),
        ({"auditOrganizationTrail": "yes"}, "true or false"),
        ({"auditAccountTrail": "no"}, "true or false"),
        (
            {"auditOrganizationTrail": "true"},
            "auditAccountTrail true contradicts auditOrganizationTrail true",
        ),
    ],
)
def test_audit_section_refuses_bad_values(change, problem):
    with pytest.raises(ValidationError, match=problem):
        AuditSettings.model_validate(AUDIT_CONFIG | change)


def test_an_organization_trail_and_no_account_trail_of_the_stack_s_own_is_consistent():
    settings = AuditSettings.model_validate(
        AUDIT_CONFIG | {"auditOrganizationTrail": "true", "auditAccountTrail": "false"}
    )
    assert settings.creates_trail is False


def test_committed_stacks_share_the_account_with_one_account_trail(staging, prod):
    # Staging and prod share one AWS account: one trail records its management events.
    stacks = {"staging": staging, "prod": prod}
    account_trails = [
        name
        for name, rendered in stacks.items()
        for trail in rendered.of_type(TRAIL)
        if any(
            selector["fieldSelectors"][0]["equals"] == ["Management"]
            for selector in trail.inputs["advancedEventSelectors"]
        )
    ]
    assert account_trails == ["prod"]


def test_the_account_setting_needs_saying_when_an_organization_trail_covers(render_with):
    with pytest.raises(Exception, match="auditAccountTrail true contradicts"):
        render_with("prod", {"auditOrganizationTrail": True})
