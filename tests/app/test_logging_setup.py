import asyncio
import io
import json
import logging
import sys
from datetime import UTC, datetime

import pytest

from app.logging_setup import (
    PIPE_BUF,
    JsonFormatter,
    logging_config,
    request_id_var,
    utc_timestamp,
    write_line,
    write_text,
)


def record(message="hello", **fields):
    made = logging.LogRecord("app.test", logging.WARNING, __file__, 1, message, None, None)
    if fields:
        made.fields = fields
    return made


def test_lines_are_json_with_the_request_id_of_the_context():
    token = request_id_var.set("req-42")
    try:
        line = json.loads(JsonFormatter().format(record(event="health_check", check="database")))
    finally:
        request_id_var.reset(token)
    assert line["request_id"] == "req-42"
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "app.test", "hello")
    assert (line["event"], line["check"]) == ("health_check", "database")
    assert line["timestamp"].endswith("Z")


def test_no_request_id_outside_a_request():
    assert "request_id" not in json.loads(JsonFormatter().format(record()))


def test_write_line_is_one_compact_line(capsys):
    write_line({"a": 1, "b": "ü"})
    assert capsys.readouterr().out == '{"a":1,"b":"ü"}\n'


def test_uvicorn_access_log_is_silenced_in_favour_of_ours():
    config = logging_config("INFO")
    assert config["loggers"]["uvicorn.access"]["level"] == "WARNING"
    assert config["root"]["level"] == "INFO"


@pytest.mark.parametrize("moment", [0.0, 1_768_557_600.5, 1_768_557_599.9996, 1_700_000_000.042])
def test_timestamps_match_the_standard_library(moment):
    expected = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    assert utc_timestamp(moment) == expected.replace("+00:00", "Z")


class RecordingStdout(io.StringIO):
    """Remembers what each flush pushed out, as a write system call would carry it."""

    def __init__(self):
        super().__init__()
        self.flushed_chunks: list[str] = []
        self.flushed_upto = 0

    def flush(self):
        value = self.getvalue()
        if len(value) > self.flushed_upto:
            self.flushed_chunks.append(value[self.flushed_upto :])
            self.flushed_upto = len(value)


def test_lines_are_flushed_in_whole_line_batches_within_pipe_buf(monkeypatch):
    stdout = RecordingStdout()
    monkeypatch.setattr(sys, "stdout", stdout)
    lines = [f"{i:04d}" + "x" * 295 + "\n" for i in range(40)]

    async def write_all():
        for line in lines:
            write_text(line)
        await asyncio.sleep(0)

    asyncio.run(write_all())
    assert "".join(stdout.flushed_chunks) == "".join(lines)
    assert len(stdout.flushed_chunks) < len(lines)
    for chunk in stdout.flushed_chunks:
        assert chunk.endswith("\n")
        assert len(chunk.encode()) <= PIPE_BUF


def test_outside_an_event_loop_each_line_is_flushed_at_once(monkeypatch):
    stdout = RecordingStdout()
    monkeypatch.setattr(sys, "stdout", stdout)
    write_text("one\n")
    write_text("two\n")
    assert stdout.flushed_chunks == ["one\n", "two\n"]
