"""Structured logs: one JSON object per line on stdout, each carrying the current request id.

Every line has `timestamp`, `level`, `logger`, `message` and `request_id` (when inside a request),
plus the fields a caller passes with `extra={"fields": {...}}`. Lines written on every request
(the access log, client logs and metrics) skip the logging machinery: `write_line` writes to
stdout and flushes once per event-loop iteration (or before a batch would pass PIPE_BUF), so a
busy loop makes one write system call for many lines, and an idle one still flushes at once.
"""

import asyncio
import json
import logging
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

compact_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


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


def write_text(line: str) -> None:
    """Write a finished line (ending in a newline) to stdout; flushed within this loop turn."""
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


def write_line(fields: dict[str, Any]) -> None:
    write_text(compact_json(fields) + "\n")


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
        return compact_json(fields)


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
        },
    }
