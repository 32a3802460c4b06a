"""POST /api/logs: the browser logger's entries, one or a batch, as structured stdout lines.

Each accepted entry becomes one JSON line (CloudWatch Logs picks stdout up) with the fields
`timestamp`, `level`, `logger` ("client"), `event` ("client_log"), `request_id`,
`client_timestamp`, `service`, `environment`, `message`, `data`, `url`, `user_agent`.
`data` and the query string of `url` are redacted here too, whatever the browser did.

A batch is taken or refused whole: every entry is validated and its line rendered before the
first line is written. Strings are validated as sent (the OpenAPI document's lengths are those of
the string as sent) and stripped of surrounding whitespace in the line.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from starlette.types import Scope

from app.ingest.endpoint import DateTime, document_names
from app.logging_setup import compact_json, utc_timestamp, write_text
from app.redaction import redact, redact_url

MAX_BATCH_ENTRIES = 100
MAX_LINE_BYTES = 15_000
TRUNCATED_MESSAGE_CHARS = 1000
# Last resort for a line still too long without `data`: every free-text field cut to this many
# characters (a JSON escape is at most 6 bytes a character, so the line stays far below the cap).
LAST_RESORT_CHARS = {"message": 200, "url": 512, "user_agent": 256}

PYTHON_LEVEL_NAMES = {"WARN": "WARNING"}


class ClientLogEntry(BaseModel):
    """One entry as the front end's `Logger.formatLog` builds it."""

    model_config = ConfigDict(extra="forbid")

    timestamp: DateTime
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
document_names(ClientLogEntry)


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
        "service": entry.service.strip(),
        "environment": entry.environment.strip(),
        "message": entry.message.strip(),
        "data": redact(entry.data),
        "url": redact_url(entry.url.strip()),
        "user_agent": entry.userAgent.strip(),
    }


def _fits(line: str) -> bool:
    return len(line.encode("utf-8", "replace")) <= MAX_LINE_BYTES


def bounded_line(fields: dict[str, Any]) -> str:
    """The JSON line, shortened when needed to stay one CloudWatch event.

    Docker's awslogs driver splits lines above 16 KiB into several events, which would break
    the JSON; an oversized `data` is replaced by a marker, then the message is cut, and if the
    line is still too long (a long URL grows when its query is re-encoded) every free-text field
    is cut.
    """
    line = compact_json(fields)
    if _fits(line):
        return line + "\n"
    fields["data"] = {"truncated": True, "originalChars": len(compact_json(fields["data"]))}
    fields["message"] = fields["message"][:TRUNCATED_MESSAGE_CHARS]
    line = compact_json(fields)
    if _fits(line):
        return line + "\n"
    for name, limit in LAST_RESORT_CHARS.items():
        fields[name] = fields[name][:limit]
    fields["truncated"] = True
    return compact_json(fields) + "\n"


def ingest_logs(document: Any, scope: Scope) -> int:
    entries = parse_entries(document)
    request_id = scope.get("state", {}).get("request_id")
    lines = [bounded_line(log_line(entry, request_id)) for entry in entries]
    for line in lines:
        write_text(line)
    return len(lines)
