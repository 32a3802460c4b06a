"""Structured logs: one JSON object per line on stdout, each carrying the current request id.

Every line has `timestamp`, `level`, `logger`, `message` and `request_id` (when inside a request),
plus the fields a caller passes with `extra={"fields": {...}}`. With tracing on (app/tracing.py),
every line written inside a request also carries `trace_id`, the request's X-Ray trace id
(`1-xxxxxxxx-<24 hex>`), so CloudWatch Logs and X-Ray correlate; outside a request it is absent.
Lines written on every request (the access log, client logs and metrics) skip the logging
machinery: `write_line` writes to stdout and flushes once per event-loop iteration (or before a
batch would pass PIPE_BUF), so a busy loop makes one write system call for many lines, and an idle
one still flushes at once.

This module is the log sink: `JsonFormatter` (every logger), `write_line` (a dict) and
`write_text` (an already formatted line, parsed back) all go through `encode_line`, which
* scrubs the fields with `app.redaction.scrub` (credentials, patient data: see there);
* writes strict JSON: NaN and Infinity become null (`allow_nan=False` guards it), other objects
  their scrubbed `str()`;
* escapes what a JSON encoder may leave raw but log tooling splits or hides on: U+2028, U+2029,
  DEL, the C1 controls (C0 controls are escaped by JSON itself) and lone surrogates;
* keeps the line, newline included, within MAX_LINE_BYTES (Docker's awslogs driver splits
  longer lines into several CloudWatch events, breaking the JSON): long strings and containers
  are cut step by step, the byte length checked again after each step, and a fixed minimal line
  is the last resort.
"""

import asyncio
import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from app.contract import TRACE_ID_FIELD
from app.redaction import REDACTED, scrub

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
trace_id_var: ContextVar[str | None] = ContextVar("trace_id", default=None)
"""The current request's X-Ray trace id, set by app/tracing.py when its server span starts."""

compact_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
"""Lenient JSON for producers that build a line for `write_text` (which parses it back and sends
it through `encode_line`); it is not a sink and scrubs nothing."""

MAX_LINE_BYTES = 16_384
"""Bytes of one stdout line with its newline: https://docs.docker.com/engine/logging/drivers/awslogs/
(lines longer than 16 KiB are split into several events)."""

_strict_json = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str
).encode
_UNSAFE_CHARACTERS = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff]")
SHRINK_STEPS = ((4096, 256), (1024, 64), (256, 16), (64, 4))
"""(characters kept per string, items kept per container) tried in turn for an oversized line."""
ESSENTIAL_FIELDS = (
    "timestamp",
    "level",
    "logger",
    "event",
    "request_id",
    TRACE_ID_FIELD,
    "message",
)
FALLBACK_CHARS = 256


class _SecondPrefix:
    """`YYYY-MM-DDTHH:MM:SS` of the current second, formatted once per second."""

    second = -1
    text = ""


def utc_timestamp(epoch_seconds: float | None = None) -> str:
    """ISO 8601 UTC with milliseconds, e.g. `2026-01-16T10:00:00.123Z`."""
    now = time.time() if epoch_seconds is None else epoch_seconds
    second = int(now)
    if second != _SecondPrefix.second:
        _SecondPrefix.text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _SecondPrefix.second = second
    return f"{_SecondPrefix.text}.{int((now - second) * 1000):03d}Z"


# Writes of at most PIPE_BUF bytes to a pipe are atomic (POSIX), so flushing whole lines in
# batches no larger than that keeps lines from several worker processes from interleaving.
PIPE_BUF = 4096


class _Unflushed:
    size = 0
    scheduled = False


def flush_stdout() -> None:
    _Unflushed.scheduled = False
    _Unflushed.size = 0
    sys.stdout.flush()


def _emit(line: str) -> None:
    """Write a finished, scrubbed line (ending in a newline); flushed within this loop turn."""
    size = len(line) if line.isascii() else len(line.encode())
    if _Unflushed.size and _Unflushed.size + size > PIPE_BUF:
        sys.stdout.flush()
        _Unflushed.size = 0
    sys.stdout.write(line)
    _Unflushed.size += size
    if _Unflushed.scheduled:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        flush_stdout()
        return
    _Unflushed.scheduled = True
    loop.call_soon(flush_stdout)


# --- the sink ----------------------------------------------------------------------------------


def _escape_character(match: re.Match[str]) -> str:
    return f"\\u{ord(match[0]):04x}"


def escape_unsafe(text: str) -> str:
    """JSON text with U+2028, U+2029, DEL, C1 controls and lone surrogates as \\u escapes.

    They can only stand inside JSON strings, where an escape means the same character.
    """
    if text.isascii() and "\x7f" not in text:
        return text
    return _UNSAFE_CHARACTERS.sub(_escape_character, text)


def _utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def _json(fields: Any) -> str:
    """Strict, escaped JSON of scrubbed fields; non-finite floats are already None."""
    return escape_unsafe(_strict_json(fields))


def _cut(value: Any, max_chars: int, max_items: int) -> Any:
    """`value` with strings, keys and containers cut to the given sizes, at any depth."""
    if isinstance(value, str):
        if len(value) <= max_chars:
            return value
        return f"{value[:max_chars]}...[{len(value) - max_chars} more characters]"
    if isinstance(value, dict):
        items = list(value.items())
        cut = {
            _cut(str(key), max_chars, max_items): _cut(item, max_chars, max_items)
            for key, item in items[:max_items]
        }
        if len(items) > max_items:
            cut["more_keys"] = len(items) - max_items
        return cut
    if isinstance(value, list):
        cut_list = [_cut(item, max_chars, max_items) for item in value[:max_items]]
        if len(value) > max_items:
            cut_list.append(f"...[{len(value) - max_items} more items]")
        return cut_list
    return value


def _fallback(fields: Mapping[str, Any], size: int) -> str:
    """The essential fields, cut short, and the size of the line they stand for."""
    line: dict[str, Any] = {
        name: _cut(fields[name], FALLBACK_CHARS, 1)
        for name in ESSENTIAL_FIELDS
        if name in fields and isinstance(fields[name], str | int | float | None)
    }
    line.update(truncated=True, original_bytes=size)
    text = _json(line)
    if _utf8_size(text) < MAX_LINE_BYTES:
        return text
    return _json({"level": "ERROR", "event": "log_line_dropped", "original_bytes": size})


def bounded_json(fields: Mapping[str, Any]) -> str:
    """The JSON text of already scrubbed fields, at most MAX_LINE_BYTES - 1 bytes (the newline
    makes it MAX_LINE_BYTES), cut step by step when longer."""
    try:
        text = _json(fields)
    except (ValueError, TypeError, RecursionError):
        return _fallback(fields, -1)
    size = _utf8_size(text)
    if size < MAX_LINE_BYTES:
        return text
    for max_chars, max_items in SHRINK_STEPS:
        shrunk = _cut(dict(fields), max_chars, max_items)
        shrunk.update(truncated=True, original_bytes=size)
        text = _json(shrunk)
        if _utf8_size(text) < MAX_LINE_BYTES:
            return text
    return _fallback(fields, size)


def encode_line(fields: Mapping[str, Any]) -> str:
    """One log line, without its newline: scrubbed, strict JSON, bounded. Never raises.

    Inside a traced request the line gets the request's trace id (unless it has one)."""
    trace_id = trace_id_var.get()
    if trace_id is not None and TRACE_ID_FIELD not in fields:
        fields = {**fields, TRACE_ID_FIELD: trace_id}
    try:
        clean = scrub(fields)
    except Exception:  # fail closed: the line stands for what could not be scrubbed
        return _json({"level": "ERROR", "event": "log_line_unscrubbable", "fields": REDACTED})
    if not isinstance(clean, dict):
        clean = {"message": clean}
    return bounded_json(clean)


def write_line(fields: Mapping[str, Any]) -> None:
    """Write one log line made of `fields` (scrubbed, strict JSON, bounded) to stdout."""
    _emit(encode_line(fields) + "\n")


def parse_line(text: str) -> dict[str, Any]:
    """The fields of a line a producer formatted itself; text that is not a JSON object becomes
    the message of a line of its own."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return {"timestamp": utc_timestamp(), "level": "INFO", "logger": "stdout", "message": text}
    if isinstance(document, dict):
        return document
    return {"timestamp": utc_timestamp(), "level": "INFO", "logger": "stdout", "value": document}


def write_text(text: str) -> None:
    """Write lines a producer formatted itself (each ending in a newline): every line is parsed
    back and goes through `encode_line` like any other."""
    for line in text.split("\n"):  # not splitlines(): U+2028 and U+0085 end no line here
        if line.strip():
            write_line(parse_line(line))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "timestamp": utc_timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            fields["request_id"] = request_id
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            fields.update(extra)
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        return encode_line(fields)


AWS_SDK_LOGGERS = ("boto3", "botocore", "s3transfer", "urllib3")


def logging_config(level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` document; uvicorn applies it in every worker process."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "app.logging_setup.JsonFormatter"}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
            # Their DEBUG lines print every signed request (headers, session token): volume
            # and credentials that no log level of ours should let through.
            **{name: {"level": "WARNING"} for name in AWS_SDK_LOGGERS},
        },
    }
