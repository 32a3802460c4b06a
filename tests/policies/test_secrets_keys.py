import datetime

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
