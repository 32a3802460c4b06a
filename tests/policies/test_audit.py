"""The audit policies: a validated, KMS-encrypted trail (multi-region with read and write
management events where it is the account trail, data events only where it is not), or an
organization's; every bucket's object reads and writes recorded (data events or access logs)."""

import pytest
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE

from tests.policies.conftest import KEY_ARN, stack_resource

POLICY = "cloudtrail-multi-region-validated-encrypted"
TRAIL = "aws:cloudtrail/trail:Trail"
LOG_GROUP_ARN = "arn:aws:logs:eu-west-1:123456789012:log-group:/miko-prod/cloudtrail:*"
COMPLIANT = {
    "isMultiRegionTrail": True,
    "enableLogFileValidation": True,
    "kmsKeyId": KEY_ARN,
    "cloudWatchLogsGroupArn": LOG_GROUP_ARN,
}


def trail(name="audit", **changes):
    return stack_resource(TRAIL, {**COMPLIANT, **changes}, name=name)


def test_multi_region_validated_encrypted_trail_passes(run_stack):
    assert run_stack(POLICY, [trail()]) == []


def test_stack_without_a_trail_is_reported(run_stack):
    reported = run_stack(POLICY, [])
    assert len(reported) == 1
    assert "no CloudTrail trail" in reported[0][0]
    assert reported[0][1] is None


def test_organization_trail_stands_in_for_the_stack_s_own(run_stack):
    assert run_stack(POLICY, [], {"organizationTrail": True}) == []


@pytest.mark.parametrize(
    ("prop", "value", "named"),
    [
        ("isMultiRegionTrail", False, "isMultiRegionTrail"),
        ("isMultiRegionTrail", None, "isMultiRegionTrail"),
        ("enableLogFileValidation", False, "enableLogFileValidation"),
        ("kmsKeyId", None, "kmsKeyId"),
        ("kmsKeyId", "", "kmsKeyId"),
        # CloudTrail.5: without a log group, the CIS metric filters read nothing.
        ("cloudWatchLogsGroupArn", None, "cloudWatchLogsGroupArn"),
    ],
)
def test_trail_lacking_a_requirement_is_reported(run_stack, prop, value, named):
    subject = trail(**{prop: value})
    reported = run_stack(POLICY, [subject])
    assert len(reported) == 1
    message, urn = reported[0]
    assert named in message
    assert "'audit'" in message
    assert urn == subject.urn


def test_one_compliant_trail_is_enough(run_stack):
    assert run_stack(POLICY, [trail("regional", isMultiRegionTrail=False), trail()]) == []


def test_unknown_values_count_as_met(run_stack):
    subject = trail(
        isMultiRegionTrail=UNKNOWN_BOOLEAN_VALUE,
        enableLogFileValidation=UNKNOWN_BOOLEAN_VALUE,
        kmsKeyId=UNKNOWN_STRING_VALUE,
        cloudWatchLogsGroupArn=UNKNOWN_STRING_VALUE,
    )
    assert run_stack(POLICY, [subject]) == []


# --- the account trail and the data-events-only trail ---------------------------------------

DUMPS_ARN = "arn:aws:s3:::miko-prod-dumps"
AUDIT_ARN = "arn:aws:s3:::miko-prod-audit"
READ_ONLY = {"field": "readOnly", "equals": ["true"]}
MANAGEMENT = {"name": "m", "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]}


def data_selector(*arns, prefixes=(), **extra_fields):
    """Data events of the buckets' objects (`<arn>/`), or of ARNs starting with `prefixes`."""
    fields = [
        {"field": "eventCategory", "equals": ["Data"]},
        {"field": "resources.type", "equals": ["AWS::S3::Object"]},
    ]
    starts = [*(f"{arn}/" for arn in arns), *prefixes]
    if starts:
        fields.append({"field": "resources.ARN", "startsWiths": starts})
    fields += [{"field": field, **operators} for field, operators in extra_fields.items()]
    return {"name": "d", "fieldSelectors": fields}


def test_account_trail_with_management_and_data_selectors_passes(run_stack):
    subject = trail(advancedEventSelectors=[MANAGEMENT, data_selector(DUMPS_ARN)])
    assert run_stack(POLICY, [subject], {"accountTrail": True}) == []


@pytest.mark.parametrize(
    "selectors",
    [
        [data_selector(DUMPS_ARN)],
        [{"name": "m", "fieldSelectors": [*MANAGEMENT["fieldSelectors"], READ_ONLY]}],
        [
            {
                "name": "m",
                "fieldSelectors": [
                    *MANAGEMENT["fieldSelectors"],
                    {"field": "eventSource", "notEquals": ["kms.amazonaws.com"]},
                ],
            }
        ],
    ],
    ids=["data-only", "read-only", "source-excluded"],
)
def test_account_trail_without_read_and_write_management_events_is_reported(run_stack, selectors):
    subject = trail(advancedEventSelectors=selectors)
    [(message, urn)] = run_stack(POLICY, [subject])
    assert "management events" in message
    assert urn == subject.urn


def test_account_trail_with_basic_read_only_selectors_is_reported(run_stack):
    subject = trail(eventSelectors=[{"readWriteType": "ReadOnly", "includeManagementEvents": True}])
    [(message, _)] = run_stack(POLICY, [subject])
    assert "management events" in message


def test_account_trail_with_read_and_write_selectors_side_by_side_passes(run_stack):
    reads = {"name": "r", "fieldSelectors": [*MANAGEMENT["fieldSelectors"], READ_ONLY]}
    writes = {
        "name": "w",
        "fieldSelectors": [
            *MANAGEMENT["fieldSelectors"],
            {"field": "readOnly", "equals": ["false"]},
        ],
    }
    assert run_stack(POLICY, [trail(advancedEventSelectors=[reads, writes])]) == []


def test_data_events_only_trail_passes_where_the_stack_is_not_the_account_trail(run_stack):
    subject = trail(isMultiRegionTrail=False, advancedEventSelectors=[data_selector(DUMPS_ARN)])
    assert run_stack(POLICY, [subject], {"accountTrail": False}) == []


def test_a_trail_with_management_events_also_passes_where_not_the_account_trail(run_stack):
    # Allowed, not required: the program keeps staging's trail to data events (a component test).
    subject = trail(advancedEventSelectors=[MANAGEMENT, data_selector(DUMPS_ARN)])
    assert run_stack(POLICY, [subject], {"accountTrail": False}) == []


def test_data_events_trail_must_still_be_validated_and_encrypted(run_stack):
    subject = trail(enableLogFileValidation=False, advancedEventSelectors=[data_selector()])
    [(message, _)] = run_stack(POLICY, [subject], {"accountTrail": False})
    assert "enableLogFileValidation" in message
    assert "isMultiRegionTrail" not in message


def test_stack_not_owning_the_account_trail_still_needs_a_data_events_trail(run_stack):
    [(message, urn)] = run_stack(POLICY, [], {"accountTrail": False})
    assert "no CloudTrail trail" in message
    assert "data events" in message
    assert urn is None


def test_unknown_selectors_count_as_management_events_met(run_stack):
    subject = trail(advancedEventSelectors=UNKNOWN_STRING_VALUE)
    assert run_stack(POLICY, [subject]) == []
    assert run_stack(POLICY, [subject], {"accountTrail": False}) == []


# --- s3-bucket-object-events-recorded -------------------------------------------------------

OBJECT_EVENTS = "s3-bucket-object-events-recorded"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_LOGGING = "aws:s3/bucketLogging:BucketLogging"


def bucket(name, bucket_name=None):
    bucket_name = bucket_name or f"miko-prod-{name}"
    return stack_resource(
        BUCKET, {"bucket": bucket_name, "arn": f"arn:aws:s3:::{bucket_name}"}, name=name
    )


def recording_trail(*selectors, **changes):
    return trail(
        **{"s3BucketName": "miko-prod-audit", "advancedEventSelectors": list(selectors), **changes}
    )


def test_buckets_whose_objects_a_trail_records_pass(run_stack):
    own = data_selector(AUDIT_ARN, eventName={"notEquals": ["PutObject"]})
    resources = [bucket("dumps"), bucket("audit"), recording_trail(data_selector(DUMPS_ARN), own)]
    assert run_stack(OBJECT_EVENTS, resources) == []


def test_bucket_no_trail_records_is_reported(run_stack):
    dumps, assets = bucket("dumps"), bucket("assets")
    reported = run_stack(OBJECT_EVENTS, [dumps, assets, recording_trail(data_selector(DUMPS_ARN))])
    [(message, urn)] = reported
    assert urn == assets.urn
    assert "'assets'" in message
    assert "writes and reads" in message


def test_stack_without_a_trail_reports_every_bucket(run_stack):
    reported = run_stack(OBJECT_EVENTS, [bucket("dumps"), bucket("assets")])
    assert len(reported) == 2


@pytest.mark.parametrize(
    "selector",
    [
        data_selector(),  # every object of every bucket
        data_selector(prefixes=["arn:aws:s3:::miko-prod-"]),  # a prefix of the bucket's ARN
        data_selector(DUMPS_ARN, readOnly={"equals": ["true", "false"]}),
    ],
    ids=["no-arn-filter", "arn-prefix", "read-and-write"],
)
def test_wider_selectors_cover_the_bucket(run_stack, selector):
    assert run_stack(OBJECT_EVENTS, [bucket("dumps"), recording_trail(selector)]) == []


@pytest.mark.parametrize(
    ("selector", "lacking"),
    [
        (data_selector(DUMPS_ARN, readOnly={"equals": ["true"]}), "writes"),
        (data_selector(DUMPS_ARN, readOnly={"equals": ["false"]}), "reads"),
        (data_selector("arn:aws:s3:::miko-prod-dumps-old"), "writes and reads"),
        (data_selector(DUMPS_ARN, eventName={"notEquals": ["PutObject"]}), "writes and reads"),
        (data_selector(DUMPS_ARN, eventName={"equals": ["GetObject"]}), "writes and reads"),
        (
            {
                "name": "one object",
                "fieldSelectors": [
                    {"field": "eventCategory", "equals": ["Data"]},
                    {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                    {"field": "resources.ARN", "equals": [f"{DUMPS_ARN}/dumps/a.sql.gz"]},
                ],
            },
            "writes and reads",
        ),
        (
            {
                "name": "lambda",
                "fieldSelectors": [
                    {"field": "eventCategory", "equals": ["Data"]},
                    {"field": "resources.type", "equals": ["AWS::Lambda::Function"]},
                ],
            },
            "writes and reads",
        ),
        (MANAGEMENT, "writes and reads"),
    ],
    ids=[
        "reads-only",
        "writes-only",
        "another-bucket",
        "putobject-excluded-outside-the-log-bucket",
        "one-event-name",
        "one-object",
        "lambda-data",
        "management-only",
    ],
)
def test_narrower_selectors_leave_the_bucket_unrecorded(run_stack, selector, lacking):
    dumps = bucket("dumps")
    [(message, urn)] = run_stack(OBJECT_EVENTS, [dumps, recording_trail(selector)])
    assert urn == dumps.urn
    assert f"object {lacking}:" in message


def test_a_trail_that_does_not_log_records_nothing(run_stack):
    subject = recording_trail(data_selector(DUMPS_ARN), enableLogging=False)
    assert len(run_stack(OBJECT_EVENTS, [bucket("dumps"), subject])) == 1


def test_server_access_logging_stands_in_for_data_events(run_stack):
    dumps = bucket("dumps")
    logging = stack_resource(
        BUCKET_LOGGING,
        {"bucket": "miko-prod-dumps", "targetBucket": "miko-prod-logs"},
        name="dumps-logging",
    )
    assert run_stack(OBJECT_EVENTS, [dumps, logging]) == []


def test_unknown_values_during_preview_skip(run_stack):
    unknown_name = stack_resource(
        BUCKET, {"bucket": UNKNOWN_STRING_VALUE, "arn": UNKNOWN_STRING_VALUE}, name="new"
    )
    assert run_stack(OBJECT_EVENTS, [unknown_name, recording_trail(data_selector(DUMPS_ARN))]) == []
    unknown_selectors = trail(advancedEventSelectors=UNKNOWN_STRING_VALUE)
    assert run_stack(OBJECT_EVENTS, [bucket("dumps"), unknown_selectors]) == []
    unknown_arn = recording_trail(data_selector(prefixes=[UNKNOWN_STRING_VALUE]))
    assert run_stack(OBJECT_EVENTS, [bucket("dumps"), unknown_arn]) == []


def test_organization_trail_is_trusted_with_the_object_events(run_stack):
    assert run_stack(OBJECT_EVENTS, [bucket("dumps")], {"organizationTrail": True}) == []
