"""Object keys, encryption arguments and the S3 failures mapped to causes, without a server."""

from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from app.backup.errors import BackupError
from app.backup.storage import dump_key, encryption_args, manifest_key, s3_call


def test_keys_sort_in_time_order_across_day_month_and_year():
    times = [
        datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 10, 2, 8, 0, 0, tzinfo=UTC),
    ]
    keys = [dump_key("postgres", when, "app") for when in reversed(times)]

    assert sorted(keys) == [dump_key("postgres", when, "app") for when in times]
    assert keys[-1] == "postgres/2025/12/31/20251231T235959Z-app.dump"


def test_database_name_cannot_add_folders_to_the_key():
    assert dump_key("p", datetime(2026, 1, 1, tzinfo=UTC), "../x y") == (
        "p/2026/01/01/20260101T000000Z-.._x_y.dump"
    )
    assert manifest_key("p/k.dump") == "p/k.dump.manifest.json"


def test_kms_arguments_only_with_a_key():
    assert encryption_args(None) == {}
    assert encryption_args("alias/backups") == {
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "alias/backups",
    }


def _client_error(code):
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "Operation")


@pytest.mark.parametrize(
    ("raised", "missing", "cause"),
    [
        (NoCredentialsError(), "not_found", "no_credentials"),
        (_client_error("NoSuchBucket"), "not_found", "bucket_missing"),
        (_client_error("404"), "bucket_missing", "bucket_missing"),
        (_client_error("404"), "not_found", "not_found"),
        (_client_error("NoSuchKey"), "manifest_missing", "manifest_missing"),
        (_client_error("AccessDenied"), "not_found", "access_denied"),
        (_client_error("SlowDown"), "not_found", "s3_error"),
    ],
)
def test_s3_failures_are_named(raised, missing, cause):
    with pytest.raises(BackupError) as caught, s3_call("do it", "bkt", "k", missing=missing):
        raise raised

    assert caught.value.cause == cause
