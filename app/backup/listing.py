"""`backup list`: the dumps under the prefix, newest first, with age, size and manifest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.backup import storage
from app.backup.config import BackupJobSettings
from app.backup.errors import BackupError


@dataclass(frozen=True)
class StoredDump:
    key: str
    bytes: int
    last_modified: datetime
    has_manifest: bool

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "key": self.key,
            "bytes": self.bytes,
            "age_seconds": int((now - self.last_modified).total_seconds()),
            "last_modified": self.last_modified.isoformat(),
            "checksum": self.has_manifest,
        }


def stored_dumps(client: Any, bucket: str, prefix: str) -> list[StoredDump]:
    """Newest first: keys embed the UTC time, so reverse key order is reverse time order."""
    dumps: dict[str, dict[str, Any]] = {}
    manifests: set[str] = set()
    with storage.s3_call("list the dumps", bucket, prefix + "/", missing="bucket_missing"):
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
        for page in pages:
            for item in page.get("Contents", []):
                if item["Key"].endswith(storage.DUMP_SUFFIX):
                    dumps[item["Key"]] = item
                elif item["Key"].endswith(storage.MANIFEST_SUFFIX):
                    manifests.add(item["Key"])
    return [
        StoredDump(
            key=key,
            bytes=int(item["Size"]),
            last_modified=item["LastModified"],
            has_manifest=storage.manifest_key(key) in manifests,
        )
        for key, item in sorted(dumps.items(), reverse=True)
    ]


def latest_complete_dump(client: Any, bucket: str, prefix: str) -> str:
    for dump in stored_dumps(client, bucket, prefix):
        if dump.has_manifest:
            return dump.key
    raise BackupError("not_found", f"no finished dump under s3://{bucket}/{prefix}/")


def run_list(settings: BackupJobSettings) -> dict[str, Any]:
    bucket = settings.require_bucket()
    client = storage.s3_client()
    now = datetime.now(UTC)
    dumps = stored_dumps(client, bucket, settings.prefix)
    return {
        "bucket": bucket,
        "prefix": settings.prefix,
        "count": len(dumps),
        "dumps": [dump.to_json(now) for dump in dumps],
    }
