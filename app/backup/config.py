"""Settings of the backup job, read from the environment once per command."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.backup.errors import BackupError
from app.contract import BACKUP_DUMP_PREFIX, Env, SecretEnv

DEFAULT_PREFIX = BACKUP_DUMP_PREFIX
"""The folder the infrastructure's lifecycle rules apply to (and the jobs are given)."""


@dataclass(frozen=True)
class BackupJobSettings:
    """Bucket layout and connection URLs. The URLs carry passwords: kept out of repr."""

    bucket: str | None
    prefix: str
    kms_key_id: str | None
    database_url: str | None = field(repr=False)
    scratch_database_url: str | None = field(repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> BackupJobSettings:
        prefix = environ.get(Env.BACKUP_PREFIX, DEFAULT_PREFIX).strip("/")
        if not prefix:
            raise BackupError(
                "config_invalid", f"{Env.BACKUP_PREFIX} must name a folder, not be empty"
            )
        return cls(
            bucket=environ.get(Env.BACKUP_BUCKET) or None,
            prefix=prefix,
            kms_key_id=environ.get(Env.BACKUP_KMS_KEY_ID) or None,
            database_url=environ.get(SecretEnv.DATABASE_URL) or None,
            scratch_database_url=environ.get(SecretEnv.SCRATCH_DATABASE_URL) or None,
        )

    def require_bucket(self) -> str:
        return _required(self.bucket, Env.BACKUP_BUCKET)

    def require_database_url(self) -> str:
        return _required(self.database_url, SecretEnv.DATABASE_URL)

    def require_scratch_database_url(self) -> str:
        return _required(self.scratch_database_url, SecretEnv.SCRATCH_DATABASE_URL)


def _required(value: str | None, name: str) -> str:
    if value is None:
        raise BackupError("config_missing", f"{name} is not set")
    return value
