"""service-principal-source-condition: every service principal carries the confused-deputy guard."""

import json

import jsonschema  # type: ignore[import-untyped]
import pytest
from pulumi_policy import EnforcementLevel
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from components.policy_documents import (
    assume_role_policy,
    document,
    service_principal_statement,
    source_conditions,
)
from policies.evaluate import load_policy_config
from policies.principals import (
    POLICY_PROPERTY,
    PUBLIC_CONTROLS,
    PUBLIC_POLICY_PROPERTY,
    SCHEMA,
    is_guarded,
)
from tests.policies.conftest import find_policy

POLICY = "service-principal-source-condition"
ACCOUNT = "123456789012"
ROLE = "aws:iam/role:Role"
KEY = "aws:kms/key:Key"


def unguarded(service, **extra):
    return {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
        **extra,
    }


def props_for(resource_type, statements):
    return {POLICY_PROPERTY[resource_type]: document(statements)}


@pytest.mark.parametrize("resource_type", sorted(POLICY_PROPERTY))
def test_unguarded_service_principal_is_reported_on_every_policy_kind(run_resource, resource_type):
    messages = run_resource(
        POLICY, resource_type, props_for(resource_type, [unguarded("scheduler.amazonaws.com")])
    )
    assert len(messages) == 1
    assert "'scheduler.amazonaws.com'" in messages[0]
    assert "aws:SourceAccount or aws:SourceArn" in messages[0]


@pytest.mark.parametrize("resource_type", sorted(POLICY_PROPERTY))
def test_guarded_service_principal_passes(run_resource, resource_type):
    statement = service_principal_statement(
        ["cloudwatch.amazonaws.com", "events.amazonaws.com"], "sns:Publish", account_id=ACCOUNT
    )
    assert run_resource(POLICY, resource_type, props_for(resource_type, [statement])) == []


def test_the_program_trust_policy_passes(run_resource):
    props = {"assumeRolePolicy": assume_role_policy("ecs-tasks.amazonaws.com", ACCOUNT)}
    assert run_resource(POLICY, ROLE, props) == []


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        {"ArnLike": {"aws:SourceArn": f"arn:aws:scheduler:eu-west-1:{ACCOUNT}:schedule/g/*"}},
        {"ArnEquals": {"AWS:SOURCEARN": "arn:aws:events:eu-west-1:1:rule/r"}},
        {"StringLike": {"aws:SourceAccount": ACCOUNT}},
    ],
)
def test_source_conditions_count_as_the_guard(condition):
    assert is_guarded(unguarded("x.amazonaws.com", Condition=condition))


@pytest.mark.parametrize(
    "condition",
    [
        None,
        {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}},
        {"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}},
        {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:*"}},
        {"Bool": {"aws:SecureTransport": "true"}},
    ],
)
def test_other_conditions_do_not(run_resource, condition):
    statement = unguarded("logs.eu-west-1.amazonaws.com")
    if condition is not None:
        statement["Condition"] = condition
    assert not is_guarded(statement)
    assert run_resource(POLICY, KEY, props_for(KEY, [statement]))


def test_deny_statements_and_other_principals_are_not_checked(run_resource):
    statements = [
        {"Effect": "Deny", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "*"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "*"},
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"},
    ]
    assert run_resource(POLICY, KEY, props_for(KEY, statements)) == []


def test_only_unguarded_services_of_a_mixed_document_are_reported(run_resource):
    statements = [
        service_principal_statement("cloudwatch.amazonaws.com", "kms:Decrypt", account_id=ACCOUNT),
        unguarded("events.amazonaws.com"),
    ]
    messages = run_resource(POLICY, KEY, props_for(KEY, statements))
    assert len(messages) == 1
    assert "'events.amazonaws.com'" in messages[0]


def test_exception_with_a_reason_passes(run_resource):
    config = {
        "serviceExceptions": {f"logs.*.amazonaws.com in {KEY}": "Guarded by encryption context."}
    }
    props = props_for(KEY, [unguarded("logs.eu-west-1.amazonaws.com")])
    assert run_resource(POLICY, KEY, props, config=config) == []
    other = props_for(KEY, [unguarded("events.amazonaws.com")])
    assert run_resource(POLICY, KEY, other, config=config)


def test_an_exception_holds_only_in_the_kind_of_policy_it_names(run_resource):
    config = {"serviceExceptions": {f"events.amazonaws.com in {KEY}": "A key grant only."}}
    assert (
        run_resource(
            POLICY, KEY, props_for(KEY, [unguarded("events.amazonaws.com")]), config=config
        )
        == []
    )
    topic_policy = "aws:sns/topicPolicy:TopicPolicy"
    messages = run_resource(
        POLICY,
        topic_policy,
        props_for(topic_policy, [unguarded("events.amazonaws.com")]),
        config=config,
    )
    assert len(messages) == 1
    assert "no exception in the policy config names it" in messages[0]


def test_an_exception_without_a_policy_kind_is_refused(run_resource):
    config = {"serviceExceptions": {"events.amazonaws.com": "Everywhere, which is too broad."}}
    messages = run_resource(
        POLICY, KEY, props_for(KEY, [unguarded("events.amazonaws.com")]), config=config
    )
    assert any("names no policy kind" in message for message in messages)


@pytest.mark.parametrize("reason", ["", "   "])
def test_exception_without_a_reason_is_refused(run_resource, reason):
    config = {"serviceExceptions": {f"events.amazonaws.com in {KEY}": reason}}
    messages = run_resource(
        POLICY, KEY, props_for(KEY, [unguarded("events.amazonaws.com")]), config=config
    )
    assert len(messages) == 1
    assert "names no reason" in messages[0]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, {"type": "object", "properties": SCHEMA})


def test_unknown_or_unparsable_documents_are_skipped(run_resource):
    assert run_resource(POLICY, ROLE, {"assumeRolePolicy": UNKNOWN_STRING_VALUE}) == []
    assert run_resource(POLICY, ROLE, {"assumeRolePolicy": "not json"}) == []
    assert run_resource(POLICY, ROLE, {}) == []


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_every_configured_exception_names_a_reason(stack):
    entry = load_policy_config(stack)[POLICY]
    assert entry["enforcementLevel"] == "mandatory"
    exceptions = entry["serviceExceptions"]
    assert set(exceptions) == {
        "backup.amazonaws.com in aws:iam/role:Role",
        "events.amazonaws.com in aws:kms/key:Key",
        "logdelivery.elasticloadbalancing.amazonaws.com in aws:s3/bucketPolicy:BucketPolicy",
        "logs.*.amazonaws.com in aws:kms/key:Key",
    }
    assert all(
        isinstance(reason, str) and len(reason.strip()) > 40 for reason in exceptions.values()
    )


def test_source_conditions_builds_the_documented_keys():
    assert source_conditions(ACCOUNT) == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    arn = f"arn:aws:scheduler:eu-west-1:{ACCOUNT}:schedule/g/s"
    assert source_conditions(source_arn=arn) == {"ArnEquals": {"aws:SourceArn": arn}}
    assert source_conditions(ACCOUNT, arn + "*") == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": arn + "*"},
    }
    with pytest.raises(ValueError, match="account id or a source ARN"):
        source_conditions()


def test_policy_is_registered_and_mandatory():
    assert find_policy(POLICY).enforcement_level == EnforcementLevel.MANDATORY
    trust = json.loads(assume_role_policy("vpc-flow-logs.amazonaws.com", ACCOUNT))
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


# resource-policy-not-public: FSBP SNS.4, SQS.3, KMS.5 (newer than the June 2023 guide) and
# S3.2/S3.3 for bucket policies.
PUBLIC = "resource-policy-not-public"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
TLS_ONLY = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "sns:Publish",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def everyone(principal, condition=None, sid="Everyone"):
    statement = {"Sid": sid, "Effect": "Allow", "Principal": principal, "Action": "sns:Publish"}
    if condition is not None:
        statement["Condition"] = condition
    return statement


@pytest.mark.parametrize("resource_type", sorted(PUBLIC_POLICY_PROPERTY))
@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        {"ArnLike": {"aws:SourceArn": f"arn:aws:events:eu-west-1:{ACCOUNT}:rule/*"}},
        {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
        {"StringEquals": {"AWS:PrincipalOrgID": "o-abc123"}},
    ],
)
def test_everyone_limited_to_the_account_passes(run_resource, resource_type, condition):
    statements = [everyone({"AWS": "*"}, condition), TLS_ONLY]
    props = {PUBLIC_POLICY_PROPERTY[resource_type]: document(statements)}
    assert run_resource(PUBLIC, resource_type, props) == []


def test_named_principals_and_deny_statements_pass(run_resource):
    statements = [
        everyone({"AWS": f"arn:aws:iam::{ACCOUNT}:role/scheduler"}),
        service_principal_statement("cloudwatch.amazonaws.com", "sns:Publish", account_id=ACCOUNT),
        TLS_ONLY,
    ]
    assert run_resource(PUBLIC, TOPIC_POLICY, {"policy": document(statements)}) == []


@pytest.mark.parametrize("resource_type", sorted(PUBLIC_POLICY_PROPERTY))
@pytest.mark.parametrize(
    ("principal", "condition"),
    [
        ("*", None),
        ({"AWS": "*"}, None),
        ({"AWS": [f"arn:aws:iam::{ACCOUNT}:root", "*"]}, None),
        ("*", {"Bool": {"aws:SecureTransport": "true"}}),
        ("*", {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}}),
        ("*", {"StringEqualsIfExists": {"aws:PrincipalAccount": ACCOUNT}}),
    ],
)
def test_policy_open_to_everyone_is_reported(run_resource, resource_type, principal, condition):
    statements = [TLS_ONLY, everyone(principal, condition, sid="OpenPublish")]
    props = {PUBLIC_POLICY_PROPERTY[resource_type]: document(statements)}
    [message] = run_resource(PUBLIC, resource_type, props, name="alarms")
    assert message.startswith("'alarms' policy allows everyone (Principal '*')")
    assert "statement(s) 'OpenPublish'" in message
    assert PUBLIC_CONTROLS[resource_type] in message


def test_not_principal_allow_is_everyone_else(run_resource):
    statement = {
        "Effect": "Allow",
        "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "sqs:SendMessage",
    }
    queue_policy = "aws:sqs/queuePolicy:QueuePolicy"
    [message] = run_resource(PUBLIC, queue_policy, {"policy": document([statement])})
    assert "statement(s) #1" in message
    assert "SQS.3" in message


def test_unknown_public_checks_are_skipped(run_resource):
    assert run_resource(PUBLIC, TOPIC_POLICY, {"policy": UNKNOWN_STRING_VALUE}) == []
    assert run_resource(PUBLIC, TOPIC_POLICY, {}) == []
