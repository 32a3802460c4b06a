"""The one exception type the job raises for failures it expects, each with a named cause."""

from typing import Literal

Cause = Literal[
    "config_missing",
    "config_invalid",
    "no_credentials",
    "access_denied",
    "bucket_missing",
    "s3_unreachable",
    "s3_error",
    "not_found",
    "manifest_missing",
    "checksum_mismatch",
    "truncated_dump",
    "size_mismatch",
    "dump_too_large",
    "database_unreachable",
    "database_auth_failed",
    "pg_dump_missing",
    "pg_restore_missing",
    "pg_dump_failed",
    "pg_restore_failed",
    "content_mismatch",
    "interrupted",
]


class BackupError(Exception):
    """A failure with a cause the operator can act on; printed as JSON, never as a traceback."""

    def __init__(self, cause: Cause, message: str) -> None:
        super().__init__(message)
        self.cause: Cause = cause
        self.message = message
