import datetime
import json

import pytest

from tests.policies.conftest import KEY_ARN, REQUIRED_TAGS

SECRET = "aws:secretsmanager/secret:Secret"  # pragma: allowlist secret
KMS_KEY = "aws:kms/key:Key"
TODAY = {"today": "2026-11-25"}


def test_secret_with_customer_key_passes(run_resource):
    assert run_resource("secret-customer-kms-key", SECRET, {"kmsKeyId": KEY_ARN}) == []


def test_secret_with_default_key_is_reported(run_resource):
    assert run_resource("secret-customer-kms-key", SECRET, {"name": "miko/prod/supabase"})


def test_rotating_key_passes(run_resource):
    assert run_resource("kms-key-rotation-enabled", KMS_KEY, {"enableKeyRotation": True}) == []
    asymmetric = {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"}
    assert run_resource("kms-key-rotation-enabled", KMS_KEY, asymmetric) == []


@pytest.mark.parametrize("props", [{}, {"enableKeyRotation": False}])
def test_non_rotating_key_is_reported(run_resource, props):
    assert run_resource("kms-key-rotation-enabled", KMS_KEY, props)


def secret_rotated_on(date):
    tags = dict(REQUIRED_TAGS)
    if date is not None:
        tags["rotated-on"] = date
    return {"kmsKeyId": KEY_ARN, "tags": tags}


@pytest.mark.parametrize("date", ["2026-11-20", "2026-08-27"])
def test_recently_rotated_secret_passes(run_resource, date):
    assert run_resource("secret-rotation-age", SECRET, secret_rotated_on(date), config=TODAY) == []


def test_secret_older_than_the_limit_is_reported(run_resource):
    messages = run_resource(
        "secret-rotation-age", SECRET, secret_rotated_on("2026-08-26"), config=TODAY
    )
    assert len(messages) == 1
    assert "91 days ago" in messages[0]


@pytest.mark.parametrize(
    ("date", "expected"),
    [(None, "no 'rotated-on' tag"), ("last spring", "not an ISO date"), ("2027-01-01", "future")],
)
def test_missing_or_bad_rotation_date_is_reported(run_resource, date, expected):
    messages = run_resource("secret-rotation-age", SECRET, secret_rotated_on(date), config=TODAY)
    assert len(messages) == 1
    assert expected in messages[0]


def test_maximum_age_comes_from_config(run_resource):
    strict = {**TODAY, "maxSecretAgeDays": 3.0}
    assert run_resource(
        "secret-rotation-age", SECRET, secret_rotated_on("2026-11-20"), config=strict
    )


def test_today_defaults_to_the_current_date(run_resource):
    today = datetime.datetime.now(datetime.UTC).date()
    fresh = secret_rotated_on(today.isoformat())
    stale = secret_rotated_on((today - datetime.timedelta(days=400)).isoformat())
    assert run_resource("secret-rotation-age", SECRET, fresh) == []
    assert run_resource("secret-rotation-age", SECRET, stale)


# FSBP KMS.1, KMS.2, KMS.3, IAM.1, IAM.21, ACM.1, SNS.1, SQS.1 (Security Hub user guide,
# June 2023) and ACM.2 (newer).
CERTIFICATE = "aws:acm/certificate:Certificate"
TOPIC = "aws:sns/topic:Topic"
QUEUE = "aws:sqs/queue:Queue"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
IAM_POLICIES = [
    "iam-policy-no-full-admin",
    "iam-policy-no-service-wildcards",
    "iam-policy-no-decrypt-all-keys",
]


@pytest.mark.parametrize("days", [30, None])
def test_key_with_the_longest_deletion_window_passes(run_resource, days):
    props = {"enableKeyRotation": True, "deletionWindowInDays": days}
    assert run_resource("kms-key-deletion-window", KMS_KEY, props) == []


def test_key_with_a_short_deletion_window_is_reported(run_resource):
    props = {"enableKeyRotation": True, "deletionWindowInDays": 7}
    [message] = run_resource("kms-key-deletion-window", KMS_KEY, props, name="secrets-key")
    assert message.startswith(
        "KMS key 'secrets-key' must set deletionWindowInDays to at least 30 (it is 7)"
    )
    assert "KMS.3" in message
    config = {"minDeletionWindowDays": 7}
    assert run_resource("kms-key-deletion-window", KMS_KEY, props, config=config) == []


@pytest.mark.parametrize(
    "props",
    [
        {"domainName": "www.example.com", "validationMethod": "DNS"},
        {"domainName": "internal.example", "certificateAuthorityArn": "arn:aws:acm-pca:ca/1"},
    ],
)
def test_certificate_acm_renews_passes(run_resource, props):
    assert run_resource("acm-certificate-auto-renewing", CERTIFICATE, props) == []


@pytest.mark.parametrize(
    ("props", "problem"),
    [
        ({"domainName": "www.example.com", "validationMethod": "EMAIL"}, "'EMAIL'"),
        ({"domainName": "www.example.com"}, "None"),
        ({"privateKey": "[secret]", "certificateBody": "-----BEGIN"}, "is imported"),
    ],
)
def test_certificate_acm_does_not_renew_is_reported(run_resource, props, problem):
    [message] = run_resource("acm-certificate-auto-renewing", CERTIFICATE, props, name="cert")
    assert message.startswith("Certificate 'cert' ")
    assert problem in message
    assert "ACM.1" in message


@pytest.mark.parametrize("algorithm", [None, "RSA_2048", "RSA_4096", "EC_prime256v1"])
def test_certificate_with_a_strong_key_passes(run_resource, algorithm):
    props = {"domainName": "www.example.com", "validationMethod": "DNS", "keyAlgorithm": algorithm}
    assert run_resource("acm-certificate-key-strength", CERTIFICATE, props) == []


def test_certificate_with_a_weak_key_is_reported(run_resource):
    props = {"domainName": "www.example.com", "keyAlgorithm": "RSA_1024"}
    [message] = run_resource("acm-certificate-key-strength", CERTIFICATE, props, name="cert")
    assert message.startswith("Certificate 'cert' must set keyAlgorithm to RSA_2048 or longer")
    assert "ACM.2" in message


def test_encrypted_topic_passes(run_resource):
    assert run_resource("sns-topic-kms-encrypted", TOPIC, {"kmsMasterKeyId": KEY_ARN}) == []


def test_unencrypted_topic_is_reported(run_resource):
    [message] = run_resource("sns-topic-kms-encrypted", TOPIC, {"name": "alarms"}, name="alarms")
    assert message.startswith("Topic 'alarms' must set kmsMasterKeyId to a KMS key")
    assert "SNS.1" in message


@pytest.mark.parametrize("props", [{"kmsMasterKeyId": KEY_ARN}, {"sqsManagedSseEnabled": True}])
def test_encrypted_queue_passes(run_resource, props):
    assert run_resource("sqs-queue-encrypted", QUEUE, props) == []


@pytest.mark.parametrize("props", [{}, {"sqsManagedSseEnabled": False}])
def test_unencrypted_queue_is_reported(run_resource, props):
    [message] = run_resource("sqs-queue-encrypted", QUEUE, props, name="dead-letters")
    assert message.startswith("Queue 'dead-letters' must be encrypted at rest")
    assert "SQS.1" in message


TAG_CONDITION = {"StringEquals": {"aws:ResourceTag/team": "platform"}}


def iam_document(*statements):
    return {"policy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)})}


def allow(action, resource, **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


SCOPED = iam_document(
    allow("ecr:GetAuthorizationToken", "*"),
    allow(["kms:Decrypt", "kms:GenerateDataKey"], [KEY_ARN]),
    allow("ec2:Describe*", "*"),
    allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::miko-assets/assets/*"),
    # A Deny never grants, however wide.
    {"Effect": "Deny", "Action": "*", "Resource": "*"},
)


@pytest.mark.parametrize("policy", IAM_POLICIES)
@pytest.mark.parametrize("resource_type", [ROLE_POLICY, MANAGED_POLICY])
def test_scoped_identity_policy_passes(run_resource, policy, resource_type):
    assert run_resource(policy, resource_type, SCOPED) == []


@pytest.mark.parametrize("policy", IAM_POLICIES)
def test_key_policies_are_not_identity_policies(run_resource, policy):
    key_policy = iam_document(allow("kms:*", "*", Principal={"AWS": "arn:aws:iam::1:root"}))
    assert run_resource(policy, KMS_KEY, key_policy) == []


@pytest.mark.parametrize("action", ["*", "*:*", ["s3:GetObject", "*"]])
def test_full_admin_statement_is_reported_once(run_resource, action):
    props = iam_document(allow(action, "*"))
    [message] = run_resource("iam-policy-no-full-admin", ROLE_POLICY, props, name="app-task")
    assert message.startswith("IAM policy 'app-task' allows Action '*' on Resource '*'")
    assert "IAM.1" in message
    # Reported by IAM.1 alone: the other two leave a "*" on "*" statement to it.
    for other in IAM_POLICIES[1:]:
        assert run_resource(other, ROLE_POLICY, props) == []


def test_every_action_on_one_resource_is_not_full_admin(run_resource):
    props = iam_document(allow("*", "arn:aws:s3:::miko-assets/*"))
    assert run_resource("iam-policy-no-full-admin", MANAGED_POLICY, props) == []


@pytest.mark.parametrize(
    ("statement", "shown"),
    [
        (allow("s3:*", "arn:aws:s3:::miko-assets/*"), "Action s3:*"),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "NotAction iam:*"),
    ],
)
def test_service_wildcard_is_reported(run_resource, statement, shown):
    props = iam_document(statement)
    [message] = run_resource(
        "iam-policy-no-service-wildcards", MANAGED_POLICY, props, name="deployer"
    )
    assert message.startswith(f"IAM policy 'deployer' allows every action of a service ({shown})")
    assert "IAM.21" in message


@pytest.mark.parametrize(
    ("statement", "blocked"),
    [
        (allow("kms:Decrypt", "*"), "kms:Decrypt"),
        (allow(["kms:ReEncrypt*"], ["arn:aws:kms:*:*:key/*"]), "kms:ReEncryptFrom"),
        (allow("KMS:*", "*"), "kms:Decrypt and kms:ReEncryptFrom"),
        ({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}, "kms:Decrypt"),
        ({"Effect": "Allow", "Action": "kms:Decrypt", "NotResource": KEY_ARN}, "kms:Decrypt"),
        # Like the controls, conditions are not considered.
        (allow("kms:Decrypt", "*", Condition=TAG_CONDITION), "kms:Decrypt"),
    ],
)
def test_decrypt_on_every_key_is_reported(run_resource, statement, blocked):
    props = iam_document(statement)
    [message] = run_resource("iam-policy-no-decrypt-all-keys", ROLE_POLICY, props, name="task")
    assert message.startswith(f"IAM policy 'task' allows {blocked}")
    assert "on every KMS key" in message
    assert "KMS.1, KMS.2" in message


def test_decrypt_on_the_accounts_keys_passes(run_resource):
    props = iam_document(allow("kms:Decrypt", "arn:aws:kms:eu-west-1:123456789012:key/*"))
    assert run_resource("iam-policy-no-decrypt-all-keys", ROLE_POLICY, props) == []
