"""The backup bucket: object keys, multipart streaming upload, manifests, and S3 error causes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from app.backup.errors import BackupError, Cause

DUMP_SUFFIX = ".dump"
# S3 fixes object metadata when a multipart upload starts, before the SHA-256 of the whole stream
# is known, and a multipart object's own checksums are per part. So the digest goes into a
# manifest object written only after the upload completed and pg_dump exited 0: a dump without
# a manifest is, by construction, one that never finished.
MANIFEST_SUFFIX = ".manifest.json"
MAX_PARTS = 10_000  # S3 limit per multipart upload

_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=60
)
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_.-]")


def s3_client() -> Any:
    """Region, credentials and AWS_ENDPOINT_URL come from boto3's standard chain, read afresh:
    boto3's default session would keep the credentials it found first."""
    with s3_call("configure the S3 client"):
        return boto3.session.Session().client("s3", config=_CLIENT_CONFIG)


def dump_key(prefix: str, taken_at: datetime, database: str) -> str:
    """`<prefix>/YYYY/MM/DD/<ISO 8601 basic UTC>-<db>.dump`: lexical order is time order."""
    safe_name = _UNSAFE_NAME_CHARACTERS.sub("_", database)
    return f"{prefix}/{taken_at:%Y/%m/%d}/{taken_at:%Y%m%dT%H%M%SZ}-{safe_name}{DUMP_SUFFIX}"


def manifest_key(key: str) -> str:
    return key + MANIFEST_SUFFIX


def encryption_args(kms_key_id: str | None) -> dict[str, str]:
    """SSE-KMS with our key; without a key id (moto, local runs) the bucket default applies."""
    if kms_key_id is None:
        return {}
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}


@contextmanager
def s3_call(
    action: str, bucket: str | None = None, key: str = "", missing: Cause = "not_found"
) -> Iterator[None]:
    """Turns the S3 failures an operator can fix into BackupErrors that name the cause.

    `missing` is what a bare 404 means for this call: HeadBucket and HeadObject have no body,
    so their 404 carries no NoSuchBucket/NoSuchKey code.
    """
    where = f"s3://{bucket}/{key}" if bucket else "S3"
    try:
        yield
    except (NoCredentialsError, PartialCredentialsError):
        raise BackupError(
            "no_credentials",
            f"no AWS credentials found to {action} (environment, profile, task role)",
        ) from None
    except EndpointConnectionError as failure:
        raise BackupError("s3_unreachable", f"cannot {action}: {failure}") from None
    except ClientError as failure:
        raise _client_error(failure, action, where, missing) from None
    except BotoCoreError as failure:
        raise BackupError("s3_error", f"cannot {action} at {where}: {failure}") from None


def _client_error(failure: ClientError, action: str, where: str, missing: Cause) -> BackupError:
    code = str(failure.response.get("Error", {}).get("Code", ""))
    message = failure.response.get("Error", {}).get("Message", "")
    if code == "NoSuchBucket" or (code == "404" and missing == "bucket_missing"):
        return BackupError("bucket_missing", f"bucket missing: cannot {action} at {where}")
    if code in {"NoSuchKey", "404"}:
        return BackupError(missing, f"nothing found at {where}: cannot {action}")
    if code in {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
        return BackupError("access_denied", f"access denied: cannot {action} at {where} ({code})")
    return BackupError("s3_error", f"cannot {action} at {where}: {code} {message}".strip())


@dataclass
class MultipartUpload:
    """One multipart upload; `abort()` removes every part already stored."""

    client: Any
    bucket: str
    key: str
    kms_key_id: str | None
    metadata: dict[str, str]
    upload_id: str = ""
    _parts: list[dict[str, Any]] = field(default_factory=list)

    def start(self) -> None:
        with s3_call("start the upload", self.bucket, self.key):
            created = self.client.create_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                ContentType="application/octet-stream",
                Metadata=self.metadata,
                **encryption_args(self.kms_key_id),
            )
        self.upload_id = created["UploadId"]

    def upload_part(self, data: bytes) -> None:
        number = len(self._parts) + 1
        if number > MAX_PARTS:
            raise BackupError("dump_too_large", f"dump needs more than {MAX_PARTS} parts")
        with s3_call(f"upload part {number}", self.bucket, self.key):
            stored = self.client.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=data,
            )
        self._parts.append({"PartNumber": number, "ETag": stored["ETag"]})

    def complete(self) -> None:
        with s3_call("complete the upload", self.bucket, self.key):
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": self._parts},
            )

    def abort(self) -> None:
        """Best effort: the bucket's lifecycle rule for incomplete uploads is the backstop."""
        if not self.upload_id:
            return
        try:
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
            )
        except (BotoCoreError, ClientError):
            return


def write_manifest(
    client: Any, bucket: str, key: str, manifest: dict[str, Any], kms_key_id: str | None
) -> None:
    with s3_call("write the manifest", bucket, manifest_key(key)):
        client.put_object(
            Bucket=bucket,
            Key=manifest_key(key),
            Body=json.dumps(manifest, indent=1).encode(),
            ContentType="application/json",
            **encryption_args(kms_key_id),
        )


def discard(client: Any, bucket: str, key: str) -> None:
    """Best effort removal of a dump whose manifest could not be written (versioning keeps a
    noncurrent version until the lifecycle expires it)."""
    try:
        client.delete_object(Bucket=bucket, Key=key)
    except (BotoCoreError, ClientError):
        return


def read_manifest(client: Any, bucket: str, key: str) -> dict[str, Any]:
    action = "read the manifest (a dump without one never finished)"
    with s3_call(action, bucket, manifest_key(key), missing="manifest_missing"):
        body = client.get_object(Bucket=bucket, Key=manifest_key(key))["Body"].read()
    manifest: dict[str, Any] = json.loads(body)
    return manifest


def check_bucket(client: Any, bucket: str) -> None:
    with s3_call("reach the bucket", bucket, missing="bucket_missing"):
        client.head_bucket(Bucket=bucket)
