"""POST /api/logs: the browser logger's entries, one or a batch, as structured stdout lines.

Each accepted entry becomes one JSON line (CloudWatch Logs picks stdout up) with the fields
`timestamp`, `level`, `logger` ("client"), `event` ("client_log"), `request_id`,
`client_timestamp`, `service`, `environment`, `message`, `data`, `url`, `user_agent`.
`data` and the query string of `url` are redacted here too, whatever the browser did.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from starlette.types import Scope

from app.logging_setup import compact_json, utc_timestamp, write_text
from app.redaction import redact, redact_url

MAX_BATCH_ENTRIES = 100
MAX_LINE_BYTES = 15_000
TRUNCATED_MESSAGE_CHARS = 1000

PYTHON_LEVEL_NAMES = {"WARN": "WARNING"}


class ClientLogEntry(BaseModel):
    """One entry as the front end's `Logger.formatLog` builds it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    timestamp: datetime
    level: Literal["DEBUG", "INFO", "WARN", "ERROR", "CRITICAL"]
    message: str = Field(max_length=4000)
    service: str = Field(default="frontend", min_length=1, max_length=64)
    environment: str = Field(default="unknown", max_length=32)
    data: dict[str, Any] = Field(default_factory=dict)
    url: str = Field(default="N/A", max_length=2048)
    userAgent: str = Field(default="N/A", max_length=512)


ClientLogBatch = Annotated[list[ClientLogEntry], Field(min_length=1, max_length=MAX_BATCH_ENTRIES)]

_entry = TypeAdapter(ClientLogEntry)
_batch: TypeAdapter[list[ClientLogEntry]] = TypeAdapter(ClientLogBatch)


def parse_entries(document: Any) -> list[ClientLogEntry]:
    if isinstance(document, list):
        return _batch.validate_python(document)
    return [_entry.validate_python(document)]


def log_line(entry: ClientLogEntry, request_id: str | None) -> dict[str, Any]:
    return {
        "timestamp": utc_timestamp(),
        "level": PYTHON_LEVEL_NAMES.get(entry.level, entry.level),
        "logger": "client",
        "event": "client_log",
        "request_id": request_id,
        "client_timestamp": entry.timestamp.isoformat(),
        "service": entry.service,
        "environment": entry.environment,
        "message": entry.message,
        "data": redact(entry.data),
        "url": redact_url(entry.url),
        "user_agent": entry.userAgent,
    }


def bounded_line(fields: dict[str, Any]) -> str:
    """The JSON line, shortened when needed to stay one CloudWatch event.

    Docker's awslogs driver splits lines above 16 KiB into several events, which would break
    the JSON; an oversized `data` is replaced by a marker, then the message is cut.
    """
    line = compact_json(fields)
    if len(line.encode()) <= MAX_LINE_BYTES:
        return line + "\n"
    fields["data"] = {"truncated": True, "originalChars": len(compact_json(fields["data"]))}
    fields["message"] = fields["message"][:TRUNCATED_MESSAGE_CHARS]
    return compact_json(fields) + "\n"


def ingest_logs(document: Any, scope: Scope) -> int:
    entries = parse_entries(document)
    request_id = scope.get("state", {}).get("request_id")
    for entry in entries:
        write_text(bounded_line(log_line(entry, request_id)))
    return len(entries)
