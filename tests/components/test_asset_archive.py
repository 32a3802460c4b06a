"""The release-asset archive bucket, rendered alone under Pulumi mocks.

Sources of truth: botocore's S3 service model (the API's own shapes) for the lifecycle,
encryption, public-access-block and ownership settings, after the provider's input names are
mapped to the API's (an input the API has no member for fails validation); moto's IAM policy
validator for the grammar of the policy documents; the retention requirement itself (a tab
opened on release N keeps loading N's chunks for the retention window after N's last task
stopped, while running tasks re-publish at least daily) for the lifecycle days.
"""

import json
import math
from typing import Any

import botocore.session
import pulumi
import pytest
from botocore.validate import ParamValidator
from moto.iam.policy_validation import IAMPolicyDocumentValidator

from app.asset_archive import DEFAULT_REFRESH_INTERVAL_SECONDS, MAX_REFRESH_INTERVAL_SECONDS
from components.asset_archive import (
    AssetArchive,
    AssetArchiveArgs,
    lifecycle_days,
    task_access_statements,
)
from components.policy_documents import document
from plan.render import ensure_event_loop
from tests.components.edge_alarm_fixtures import ProtectRecordingMonitor, RecordingMocks

KEY_ARN = "arn:aws:kms:eu-central-1:123456789012:key/0b1c2d3e-aaaa-bbbb-cccc-1234567890ab"
BUCKET_ARN = "arn:aws:s3:::miko-prod-release-assets"
S3_MODEL = botocore.session.get_session().get_service_model("s3")
# Provider input names whose S3 API name is not the input name with a capital first letter.
API_NAMES = {"id": "ID", "sseAlgorithm": "SSEAlgorithm", "kmsMasterKeyId": "KMSMasterKeyID"}


class DependencyRecordingMonitor(ProtectRecordingMonitor):
    """Also notes, for each resource, the names of the resources it was told to wait for."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.waits_for: dict[str, set[str]] = {}

    def RegisterResource(self, request: Any) -> Any:
        self.waits_for[request.name] = {urn.split("::")[-1] for urn in request.dependencies}
        return super().RegisterResource(request)


def render(retention_hours: int = 72, protect: bool = True):
    ensure_event_loop()
    mocks = RecordingMocks()
    monitor = DependencyRecordingMonitor(mocks)
    pulumi.runtime.set_mocks(
        mocks, project="miko-platform", stack="test", preview=False, monitor=monitor
    )
    outputs: dict[str, Any] = {}

    def build():
        archive = AssetArchive(
            "release-assets",
            AssetArchiveArgs(
                prefix="miko-prod",
                kms_key_arn=KEY_ARN,
                retention_hours=retention_hours,
                protect=protect,
            ),
        )
        return pulumi.Output.all(archive.bucket_name, archive.bucket_arn).apply(
            lambda values: outputs.update(bucket_name=values[0], bucket_arn=values[1])
        )

    pulumi.runtime.test(build)()
    return mocks, monitor, outputs


@pytest.fixture(scope="module")
def rendered():
    return render()


def of(mocks: RecordingMocks, typ: str):
    [resource] = mocks.of_type(typ)
    return resource


def to_api(value: Any) -> Any:
    """Provider inputs (camelCase, numbers as floats) as S3 API parameters."""
    if isinstance(value, dict):
        return {
            API_NAMES.get(key, key[:1].upper() + key[1:]): to_api(v) for key, v in value.items()
        }
    if isinstance(value, list):
        return [to_api(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def assert_valid_request(operation: str, params: dict[str, Any]) -> None:
    shape = S3_MODEL.operation_model(operation).input_shape
    report = ParamValidator().validate({"Bucket": "miko-prod-release-assets", **params}, shape)
    assert not report.has_errors(), report.generate_report()


def lifecycle_rules_of(mocks: RecordingMocks) -> list[dict[str, Any]]:
    lifecycle = of(mocks, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    rules: list[dict[str, Any]] = to_api(lifecycle.inputs["rules"])
    return rules


# --- the lifecycle -------------------------------------------------------------------------


@pytest.mark.parametrize(("hours", "days"), [(24, 2), (25, 3), (48, 3), (72, 4), (73, 5)])
def test_lifecycle_days(hours, days):
    assert lifecycle_days(hours) == days


@pytest.mark.parametrize("hours", [24, 36, 72, 168])
def test_lifecycle_days_outlast_the_window_after_the_last_refresh(hours):
    """The worst case: release N's last task stops just before its next refresh."""
    refreshed_hours_before_stop = MAX_REFRESH_INTERVAL_SECONDS / 3600
    assert lifecycle_days(hours) * 24 >= hours + refreshed_hours_before_stop
    assert DEFAULT_REFRESH_INTERVAL_SECONDS <= MAX_REFRESH_INTERVAL_SECONDS
    # And no more than a day beyond what the window needs.
    assert lifecycle_days(hours) == math.ceil(hours / 24) + 1


@pytest.mark.parametrize("hours", [0, 12, 23, -1, True])
def test_a_retention_under_a_day_is_refused(hours):
    with pytest.raises(ValueError, match="at least 24 hours"):
        AssetArchiveArgs(
            prefix="miko-prod", kms_key_arn=KEY_ARN, retention_hours=hours, protect=False
        )


@pytest.mark.parametrize(("hours", "days"), [(24, 2), (72, 4)])
def test_the_rendered_lifecycle_expires_objects_after_the_derived_days(hours, days):
    mocks, _, _ = render(retention_hours=hours)
    rules = {rule["ID"]: rule for rule in lifecycle_rules_of(mocks)}
    assert_valid_request(
        "PutBucketLifecycleConfiguration",
        {"LifecycleConfiguration": {"Rules": list(rules.values())}},
    )
    expire = rules["expire-release-assets"]
    assert expire["Status"] == "Enabled"
    assert expire["Filter"] == {"Prefix": ""}
    assert expire["Expiration"] == {"Days": days}
    assert expire["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    abort = rules["abort-incomplete-uploads"]
    assert abort["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    markers = rules["remove-expired-delete-markers"]
    assert markers["Expiration"] == {"ExpiredObjectDeleteMarker": True}


def test_no_lifecycle_rule_mixes_days_and_delete_markers(rendered):
    """S3 refuses Days (or Date) and ExpiredObjectDeleteMarker in one Expiration; the model
    does not say so, the S3 API reference does."""
    mocks, _, _ = rendered
    for rule in lifecycle_rules_of(mocks):
        expiration = rule.get("Expiration", {})
        assert not (
            {"Days", "Date"} & set(expiration) and "ExpiredObjectDeleteMarker" in expiration
        )
        assert all(value >= 1 for value in expiration.values() if isinstance(value, int))


# --- the bucket's settings -----------------------------------------------------------------


def test_the_bucket_is_named_after_the_stack_and_exported(rendered):
    mocks, _, outputs = rendered
    bucket = of(mocks, "aws:s3/bucket:Bucket")
    assert bucket.name == "release-assets-bucket"
    assert bucket.inputs["bucket"] == "miko-prod-release-assets"
    assert outputs == {"bucket_name": "miko-prod-release-assets", "bucket_arn": BUCKET_ARN}


@pytest.mark.parametrize("protect", [True, False])
def test_the_bucket_is_protected_when_the_stack_asks(protect):
    mocks, _, _ = render(protect=protect)
    assert of(mocks, "aws:s3/bucket:Bucket").protect is protect


def test_objects_are_encrypted_with_the_stack_key_and_a_bucket_key(rendered):
    mocks, _, _ = rendered
    encryption = of(
        mocks,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    )
    rules = to_api(encryption.inputs["rules"])
    assert_valid_request(
        "PutBucketEncryption", {"ServerSideEncryptionConfiguration": {"Rules": rules}}
    )
    assert rules == [
        {
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms",
                "KMSMasterKeyID": KEY_ARN,
            },
            "BucketKeyEnabled": True,
        }
    ]


def test_public_access_is_blocked_and_acls_are_off(rendered):
    mocks, _, _ = rendered
    block = of(mocks, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    flags = to_api({key: value for key, value in block.inputs.items() if key != "bucket"})
    assert_valid_request("PutPublicAccessBlock", {"PublicAccessBlockConfiguration": flags})
    assert flags == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    ownership = of(mocks, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    rule = to_api(ownership.inputs["rule"])
    assert_valid_request("PutBucketOwnershipControls", {"OwnershipControls": {"Rules": [rule]}})
    assert rule == {"ObjectOwnership": "BucketOwnerEnforced"}


def test_the_bucket_is_versioned(rendered):
    mocks, _, _ = rendered
    versioning = of(mocks, "aws:s3/bucketVersioning:BucketVersioning")
    configuration = to_api(versioning.inputs["versioningConfiguration"])
    assert_valid_request("PutBucketVersioning", {"VersioningConfiguration": configuration})
    assert configuration == {"Status": "Enabled"}


def test_the_bucket_policy_refuses_every_request_without_tls(rendered):
    mocks, _, _ = rendered
    policy = of(mocks, "aws:s3/bucketPolicy:BucketPolicy")
    assert_valid_request("PutBucketPolicy", {"Policy": policy.inputs["policy"]})
    statements = json.loads(policy.inputs["policy"])["Statement"]
    assert statements == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [BUCKET_ARN, f"{BUCKET_ARN}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]


def test_configuration_writes_to_the_bucket_never_overlap(rendered):
    """S3 answers OperationAborted to concurrent configuration writes on one bucket."""
    mocks, monitor, _ = rendered
    settings = [
        resource.name
        for resource in mocks.registered
        if resource.typ.startswith("aws:s3/") and resource.typ != "aws:s3/bucket:Bucket"
    ]
    assert len(settings) == 6

    # Any two settings are ordered: one waits, directly or not, for the other.
    def waits_for(name: str) -> set[str]:
        direct: set[str] = monitor.waits_for[name]
        return direct.union(*(waits_for(other) for other in direct if other in settings))

    for index, first in enumerate(settings):
        for second in settings[index + 1 :]:
            assert first in waits_for(second) or second in waits_for(first), (first, second)
    assert "release-assets-public-access-block" in waits_for("release-assets-tls-only")
    assert "release-assets-versioning" in waits_for("release-assets-lifecycle")


# --- what the task role may do -------------------------------------------------------------


def test_the_task_may_read_and_write_assets_and_nothing_else():
    statements = task_access_statements(BUCKET_ARN, KEY_ARN)
    IAMPolicyDocumentValidator(document(statements)).validate()
    assert all(statement["Effect"] == "Allow" for statement in statements)
    s3_statements = [s for s in statements if any(a.startswith("s3:") for a in s["Action"])]
    assert [sorted(s["Action"]) for s in s3_statements] == [["s3:GetObject", "s3:PutObject"]]
    assert [s["Resource"] for s in s3_statements] == [[f"{BUCKET_ARN}/assets/*"]]
    for statement in statements:
        for action in statement["Action"]:
            assert "*" not in action
        for resource in statement["Resource"]:
            assert resource == KEY_ARN or resource.startswith(f"{BUCKET_ARN}/assets/"), resource


def test_the_key_is_granted_for_this_bucket_only():
    [kms] = [s for s in task_access_statements(BUCKET_ARN, KEY_ARN) if s["Resource"] == [KEY_ARN]]
    assert sorted(kms["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    [(operator, condition)] = kms["Condition"].items()
    assert operator == "StringLike"
    contexts = condition["kms:EncryptionContext:aws:s3:arn"]
    assert set(contexts) == {BUCKET_ARN, f"{BUCKET_ARN}/assets/*"}


def test_the_grant_is_the_bucket_the_component_made(rendered):
    _, _, outputs = rendered
    [s3_statement, _] = task_access_statements(outputs["bucket_arn"], KEY_ARN)
    assert s3_statement["Resource"] == [f"{outputs['bucket_arn']}/assets/*"]
