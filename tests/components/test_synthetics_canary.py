"""The synthetic patient journey's canary, bucket, role and alarm, in both stacks' renderings.

Sources of truth: the CloudWatch Synthetics API's limits and AWS's canary role documentation
(CloudWatch_Synthetics_Canaries_CanaryPermissions.html) for the canary and its role, AWS's
"Encrypting canary artifacts" (CloudWatch_Synthetics_artifact_encryption.html) for the SSE-KMS
artifacts and the key actions the role needs, moto's IAM policy validator for the documents'
grammar, botocore's S3 model for the bucket settings, and canary/journey.js itself for the
environment the canary hands the script.
"""

import hashlib
import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import botocore.session
import pytest
from botocore.validate import ParamValidator
from moto.iam.policy_validation import IAMPolicyDocumentValidator
from pydantic import ValidationError

from components.synthetics_canary import (
    ALARM_KEY,
    CANARY_DIR,
    HANDLER,
    KEY_ACTIONS,
    PROJECT_DIR,
    RUNTIME_PLAYWRIGHT_VERSION,
    RUNTIME_VERSION,
    SCRIPT_FILES,
    build_script_zip,
    required_security_headers,
    role_policy,
    script_zip,
    trust_policy,
)
from config.sections import CanarySettings
from plan.render import RenderedResource, Rendering
from tests.components.cloudwatch_alarm_evaluator import Alarm, Sample, first, walk

CANARY = "aws:synthetics/canary:Canary"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
BUCKET = "aws:s3/bucket:Bucket"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
KEY = "aws:kms/key:Key"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
SITE = {"staging": "staging.mikoplasticsurgery.com", "prod": "www.mikoplasticsurgery.com"}
RETENTION_DAYS = {"staging": 14, "prod": 31}
CANARY_NAME = re.compile(r"^[0-9a-z_-]{1,21}$")
S3_MODEL = botocore.session.get_session().get_service_model("s3")


def canary_of(rendering: Rendering) -> RenderedResource:
    [canary] = rendering.of_type(CANARY)
    return canary


def component_of(rendering: Rendering, type_token: str) -> list[RenderedResource]:
    [component] = [
        resource
        for resource in rendering.of_type("miko:observability:SyntheticsCanary")
        if resource.name == "synthetic-journey"
    ]
    return [
        resource for resource in rendering.descendants(component.urn) if resource.type == type_token
    ]


def journey_alarm(rendering: Rendering) -> RenderedResource:
    [alarm] = [
        alarm
        for alarm in rendering.of_type(ALARM)
        if (alarm.inputs.get("tags") or {}).get("alarm") == ALARM_KEY
    ]
    return alarm


# --- the canary ----------------------------------------------------------------------------


def test_the_canary_runs_the_journey_every_five_minutes_on_the_playwright_runtime(rendering):
    canary = canary_of(rendering).inputs
    assert canary["name"] == f"miko-{rendering.stack}-journey"
    assert CANARY_NAME.fullmatch(canary["name"])
    assert canary["runtimeVersion"] == RUNTIME_VERSION == "syn-nodejs-playwright-8.0"
    assert canary["handler"] == HANDLER == "index.handler"
    assert canary["schedule"] == {"expression": "rate(5 minutes)"}
    assert canary["startCanary"] is True
    assert canary["deleteLambda"] is True
    run = canary["runConfig"]
    assert run["timeoutInSeconds"] == 60
    assert run["memoryInMb"] == 1024
    assert run["activeTracing"] is False
    days = RETENTION_DAYS[rendering.stack]
    assert canary["successRetentionPeriod"] == canary["failureRetentionPeriod"] == days


def test_the_canary_is_given_the_public_url_the_selectors_and_the_stacks_headers(rendering):
    environment = canary_of(rendering).inputs["runConfig"]["environmentVariables"]
    assert environment == {
        "JOURNEY_BASE_URL": f"https://{SITE[rendering.stack]}",
        "JOURNEY_HOME_SELECTOR": "#root > *",
        "JOURNEY_BOOKING_PATH": "/consultation",
        "JOURNEY_BOOKING_SELECTOR": 'main form, [data-testid="page-consultation"]',
        "JOURNEY_REQUIRED_HEADERS": ",".join(required_security_headers("enforce")),
        "JOURNEY_IGNORED_CONSOLE_ERRORS": "[]",
        "JOURNEY_TIMEOUT_MS": "15000",
        "JOURNEY_SETTLE_MS": "1000",
    }
    headers = environment["JOURNEY_REQUIRED_HEADERS"].split(",")
    assert {"strict-transport-security", "content-security-policy"} <= set(headers)
    assert {"x-content-type-options", "x-frame-options", "referrer-policy"} <= set(headers)


def test_the_script_reads_exactly_the_variables_the_canary_sets(rendering):
    environment = canary_of(rendering).inputs["runConfig"]["environmentVariables"]
    script = (CANARY_DIR / "journey.js").read_text()
    assert set(re.findall(r"'(JOURNEY_[A-Z_]+)'", script)) == set(environment)
    # Lambda's rule for variable names, and no reserved AWS_ prefix.
    assert all(re.fullmatch(r"[a-zA-Z]\w+", name) for name in environment)
    assert not any(name.startswith("AWS_") for name in environment)


def test_a_report_only_stack_requires_the_report_only_csp_header(render_with):
    rendering = render_with("staging", {"cspMode": "report-only"})
    environment = canary_of(rendering).inputs["runConfig"]["environmentVariables"]
    headers = environment["JOURNEY_REQUIRED_HEADERS"].split(",")
    assert "content-security-policy-report-only" in headers
    assert "content-security-policy" not in headers


def test_the_zip_holds_the_handler_and_the_journey_and_nothing_else(rendering):
    path = PROJECT_DIR / canary_of(rendering).inputs["zipFile"]
    assert not Path(canary_of(rendering).inputs["zipFile"]).is_absolute()
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == list(SCRIPT_FILES)
        for info in archive.infolist():
            assert archive.read(info) == (CANARY_DIR / info.filename).read_bytes()
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == 0o644
    # The API takes a zip of up to 225 KB inline.
    assert path.stat().st_size < 225 * 1024


def test_the_zip_is_the_same_bytes_every_time_and_named_after_them(tmp_path):
    first_zip, second_zip = script_zip(), script_zip()
    assert first_zip == second_zip
    relative = build_script_zip(tmp_path)
    assert relative == f"canary/.build/journey-{hashlib.sha256(first_zip).hexdigest()[:16]}.zip"
    assert (tmp_path / relative).read_bytes() == first_zip


def test_a_changed_script_is_a_changed_zip_path(tmp_path):
    canary = tmp_path / "canary"
    shutil.copytree(CANARY_DIR, canary, ignore=shutil.ignore_patterns("node_modules", ".build"))
    before = build_script_zip(tmp_path, canary)
    (canary / "journey.js").write_text((canary / "journey.js").read_text() + "\n// changed\n")
    after = build_script_zip(tmp_path, canary)
    assert before != after
    with zipfile.ZipFile(io.BytesIO((tmp_path / after).read_bytes())) as archive:
        assert archive.read("journey.js").endswith(b"// changed\n")


def test_the_local_tests_drive_the_runtimes_playwright_version():
    package = json.loads((CANARY_DIR / "package.json").read_text())
    lock = json.loads((CANARY_DIR / "package-lock.json").read_text())
    assert package["devDependencies"] == {"playwright-core": RUNTIME_PLAYWRIGHT_VERSION}
    assert lock["packages"]["node_modules/playwright-core"]["version"] == (
        RUNTIME_PLAYWRIGHT_VERSION
    )
    assert "dependencies" not in package, "the runtime provides everything the handler needs"


def test_the_canary_waits_for_its_role_policy_and_its_bucket(rendering):
    canary = canary_of(rendering)
    [policy] = component_of(rendering, ROLE_POLICY)
    [lifecycle] = component_of(rendering, LIFECYCLE)
    assert rendering.waits_for(canary, policy)
    assert rendering.waits_for(canary, lifecycle)


# --- the artifact bucket -------------------------------------------------------------------


def test_artifacts_go_to_the_canarys_own_bucket_encrypted_with_the_canarys_key(rendering):
    [bucket] = component_of(rendering, BUCKET)
    [key] = component_of(rendering, KEY)
    canary = canary_of(rendering).inputs
    assert bucket.inputs["bucket"] == f"miko-{rendering.stack}-canary-artifacts"
    assert canary["artifactS3Location"] == f"s3://{bucket.outputs['bucket']}/"
    # The API's EncryptionMode enum is SSE_S3 | SSE_KMS; SSE_KMS needs the key's ARN.
    assert canary["artifactConfig"] == {
        "s3Encryption": {"encryptionMode": "SSE_KMS", "kmsKeyArn": key.outputs["arn"]}
    }
    [encryption] = component_of(rendering, ENCRYPTION)
    [rule] = encryption.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": key.outputs["arn"],
    }
    assert rule["bucketKeyEnabled"] is True
    assert bucket.protect is (rendering.stack == "prod")


def test_the_canarys_key_is_its_own_rotated_protected_and_explicitly_governed(rendering):
    [key] = component_of(rendering, KEY)
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    assert key.protect is (rendering.stack == "prod")
    # Not the stack key that guards the integration secrets: a key of the canary's own.
    [secrets_key] = [k for k in rendering.of_type(KEY) if k.name == "secrets-key"]
    assert key.outputs["arn"] != secrets_key.outputs["arn"]
    # The account administers it; IAM grants (the canary's role alone) decide who uses it.
    policy = json.loads(key.inputs["policy"])
    assert policy["Statement"] == [
        {
            "Sid": "AccountAdministersKeyThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    granted_on_key = [
        (policy_resource.name, statement["Action"])
        for policy_resource in rendering.of_type(ROLE_POLICY)
        for statement in json.loads(policy_resource.inputs["policy"])["Statement"]
        if key.outputs["arn"] in statement.get("Resource", [])
    ]
    assert granted_on_key == [("synthetic-journey-role", sorted(KEY_ACTIONS))]


def test_the_canary_waits_for_its_key(rendering):
    [key] = component_of(rendering, KEY)
    [encryption] = component_of(rendering, ENCRYPTION)
    assert rendering.waits_for(canary_of(rendering), key)
    assert rendering.waits_for(encryption, key)


def test_the_bucket_settings_are_one_chain_from_the_private_baseline(rendering):
    [bucket] = component_of(rendering, BUCKET)
    settings = [
        resource
        for resource in rendering.resources
        if resource.inputs.get("bucket") == bucket.outputs["id"] and resource.urn != bucket.urn
    ]
    assert len(settings) == 6  # ownership, public access block, encryption, policy, versioning,
    # lifecycle
    for index, earlier in enumerate(settings):
        for later in settings[index + 1 :]:
            assert rendering.waits_for(later, earlier) or rendering.waits_for(earlier, later)
    [versioning] = component_of(rendering, VERSIONING)
    [lifecycle] = component_of(rendering, LIFECYCLE)
    assert rendering.waits_for(lifecycle, versioning)


def test_artifacts_expire_after_the_stacks_retention(rendering):
    [lifecycle] = component_of(rendering, LIFECYCLE)
    rules = {rule["id"]: rule for rule in lifecycle.inputs["rules"]}
    days = RETENTION_DAYS[rendering.stack]
    assert rules["expire-canary-artifacts"]["expiration"] == {"days": days}
    assert rules["expire-canary-artifacts"]["noncurrentVersionExpiration"] == {"noncurrentDays": 1}
    assert rules["remove-expired-delete-markers"]["expiration"] == {
        "expiredObjectDeleteMarker": True
    }
    assert rules["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"] == {
        "daysAfterInitiation": 1
    }
    shape = S3_MODEL.operation_model("PutBucketLifecycleConfiguration").input_shape
    params = {"Bucket": "b", "LifecycleConfiguration": {"Rules": to_api(lifecycle.inputs["rules"])}}
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()


def to_api(value):
    """Provider inputs (camelCase, numbers as floats) as S3 API parameters."""
    if isinstance(value, dict):
        return {
            ("ID" if key == "id" else key[:1].upper() + key[1:]): to_api(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [to_api(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# --- the role ------------------------------------------------------------------------------


def test_only_lambda_in_this_account_may_assume_the_role(rendering):
    [role] = component_of(rendering, ROLE)
    trust = json.loads(role.inputs["assumeRolePolicy"])
    [statement] = trust["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert canary_of(rendering).inputs["executionRoleArn"] == role.outputs["arn"]


def test_the_role_has_the_documented_permissions_scoped_to_this_canary(rendering):
    [policy] = component_of(rendering, ROLE_POLICY)
    [bucket] = component_of(rendering, BUCKET)
    document = json.loads(policy.inputs["policy"])
    IAMPolicyDocumentValidator(policy.inputs["policy"]).validate()
    granted = {
        action: (statement["Resource"], statement.get("Condition"))
        for statement in document["Statement"]
        for action in statement["Action"]
    }
    [key] = component_of(rendering, KEY)
    arn = bucket.outputs["arn"]
    name = f"miko-{rendering.stack}-journey"
    assert granted["s3:PutObject"] == ([f"{arn}/*"], None)
    # SSE-KMS artifacts: AWS documents exactly these two actions, on the canary's key only.
    assert granted["kms:GenerateDataKey"] == granted["kms:Decrypt"] == ([key.outputs["arn"]], None)
    assert granted["s3:GetObject"] == ([f"{arn}/*"], None)
    assert granted["s3:GetBucketLocation"] == ([arn], None)
    assert granted["s3:ListAllMyBuckets"] == (["*"], None)
    [log_groups] = granted["logs:CreateLogGroup"][0]
    assert re.fullmatch(
        rf"arn:aws:logs:[a-z0-9-]+:123456789012:log-group:/aws/lambda/cwsyn-{name}-\*", log_groups
    )
    assert granted["logs:CreateLogStream"] == granted["logs:PutLogEvents"] == ([log_groups], None)
    assert granted["cloudwatch:PutMetricData"] == (
        ["*"],
        {"StringEquals": {"cloudwatch:namespace": "CloudWatchSynthetics"}},
    )
    assert set(granted) == {
        "s3:PutObject",
        "s3:GetObject",
        "s3:GetBucketLocation",
        "s3:ListAllMyBuckets",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "cloudwatch:PutMetricData",
    }


def test_the_policy_documents_are_valid_iam():
    trust = json.loads(trust_policy("123456789012"))
    assert trust["Version"] == "2012-10-17"
    assert "Resource" not in trust["Statement"][0]  # a trust policy names no resource
    key_arn = "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    document = role_policy(
        "arn:aws:s3:::b", key_arn, "eu-central-1", "123456789012", "miko-prod-journey"
    )
    IAMPolicyDocumentValidator(document).validate()
    kms_statements = [
        statement
        for statement in json.loads(document)["Statement"]
        if any(action.startswith("kms:") for action in statement["Action"])
    ]
    assert kms_statements == [
        {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": [key_arn]}
    ]


# --- the alarm -----------------------------------------------------------------------------


def test_the_journey_alarm_pages_on_the_critical_topic_in_both_stacks(rendering):
    alarm = journey_alarm(rendering).inputs
    [topic] = [
        topic
        for topic in rendering.of_type("aws:sns/topic:Topic")
        if topic.inputs["name"] == f"miko-{rendering.stack}-alarms"
    ]
    assert alarm["name"] == f"miko-{rendering.stack}-{ALARM_KEY}"
    assert alarm["alarmActions"] == alarm["okActions"] == [topic.outputs["arn"]]
    assert alarm["namespace"] == "CloudWatchSynthetics"
    assert alarm["metricName"] == "SuccessPercent"
    assert alarm["dimensions"] == {"CanaryName": canary_of(rendering).outputs["name"]}
    assert alarm["statistic"] == "Average"
    assert alarm["period"] == 300  # one run per period
    assert alarm["evaluationPeriods"] == alarm["datapointsToAlarm"] == 2
    assert alarm["comparisonOperator"] == "LessThanThreshold"
    assert alarm["threshold"] == 100
    assert alarm["treatMissingData"] == "breaching"
    assert alarm["alarmDescription"].endswith(f"Runbook: docs/runbooks/alarms.md#{ALARM_KEY}")
    assert len(alarm["alarmDescription"]) <= 1024


def run_every_five_minutes(failures: set[int], runs: int = 24) -> list[Sample]:
    """One SuccessPercent sample per run, 100 or 0, at 30 s past each 5-minute mark."""
    return [Sample(30 + 300 * run, 0.0 if run in failures else 100.0) for run in range(runs)]


def test_two_failed_runs_in_a_row_alarm_and_one_does_not(prod):
    alarm = Alarm.from_rendered(journey_alarm(prod).inputs)
    one = walk(alarm, run_every_five_minutes({10}), start=600, end=7200, step=60)
    assert first(one, "ALARM") is None
    apart = walk(alarm, run_every_five_minutes({6, 10, 14}), start=600, end=7200, step=60)
    assert first(apart, "ALARM") is None
    two = walk(alarm, run_every_five_minutes({10, 11}), start=600, end=7200, step=60)
    alarmed = first(two, "ALARM")
    assert alarmed is not None
    # As soon as the second failed run (at 3330 s) is in: no later than the next evaluation.
    assert 3330 < alarmed <= 3330 + 60


def test_a_canary_that_stopped_running_alarms(prod):
    alarm = Alarm.from_rendered(journey_alarm(prod).inputs)
    samples = run_every_five_minutes(set(), runs=8)  # the last run at 2130 s
    evaluations = walk(alarm, samples, start=600, end=7200, step=60)
    stopped = first(evaluations, "ALARM")
    assert stopped is not None
    # CloudWatch fills missing data in only once fewer than two datapoints remain in its
    # evaluation range (four periods here): within 25 minutes of the last run.
    assert stopped <= 2130 + 25 * 60


def test_the_alarm_period_follows_the_schedule(render_with):
    rendering = render_with(
        "staging", {"canarySchedule": "rate(10 minutes)", "canaryFailedRunsToAlarm": 3}
    )
    alarm = journey_alarm(rendering).inputs
    assert canary_of(rendering).inputs["schedule"] == {"expression": "rate(10 minutes)"}
    assert alarm["period"] == 600
    assert alarm["evaluationPeriods"] == alarm["datapointsToAlarm"] == 3


def test_a_stack_without_the_canary_has_none_of_its_resources(render_with):
    rendering = render_with("staging", {"canaryEnabled": False})
    assert rendering.of_type(CANARY) == []
    assert not any(r.name.startswith("synthetic-journey") for r in rendering.resources)
    assert "synthetic_journey_canary" not in rendering.exports


def test_the_canary_is_exported(rendering):
    assert rendering.exports["synthetic_journey_canary"] == canary_of(rendering).outputs["name"]


# --- its config ----------------------------------------------------------------------------

VALID = {
    "canaryEnabled": "true",
    "canarySchedule": "rate(5 minutes)",
    "canaryHomeSelector": "#root > *",
    "canaryBookingPath": "/consultation",
    "canaryBookingSelector": "main form",
    "canaryIgnoredConsoleErrors": "[]",
    "canaryTimeoutSeconds": "60",
    "canaryMemoryMb": "1024",
    "canaryArtifactRetentionDays": "14",
    "canaryFailedRunsToAlarm": "2",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"canarySchedule": "cron(0/5 * * * ? *)"}, "is not rate(N minutes)"),
        ({"canarySchedule": "rate(1 minutes)"}, "write rate(1 minute)"),
        ({"canarySchedule": "rate(2 hours)"}, "runs less than hourly"),
        ({"canaryTimeoutSeconds": "120", "canarySchedule": "rate(1 minute)"}, "longer than"),
        ({"canaryMemoryMb": "1000"}, "not a multiple of 64"),
        ({"canaryBookingPath": "consultation"}, "is not a URL path"),
        ({"canaryIgnoredConsoleErrors": '["("]'}, "is not a regular expression"),
        ({"canaryHomeSelector": " "}, "a CSS selector is required"),
    ],
)
def test_config_the_canary_cannot_run_with_is_refused(change, message):
    with pytest.raises(ValidationError) as error:
        CanarySettings.model_validate(VALID | change)
    assert message in str(error.value)


def test_the_interval_of_a_rate_schedule():
    assert CanarySettings.model_validate(VALID).interval_seconds == 300
    hourly = CanarySettings.model_validate(
        VALID | {"canarySchedule": "rate(1 hour)", "canaryTimeoutSeconds": "840"}
    )
    assert hourly.interval_seconds == 3600
