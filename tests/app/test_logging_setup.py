import asyncio
import io
import json
import logging
import math
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from app import logging_setup
from app.logging_setup import (
    MAX_LINE_BYTES,
    PIPE_BUF,
    JsonFormatter,
    compact_json,
    encode_line,
    logging_config,
    request_id_var,
    utc_timestamp,
    write_line,
    write_text,
)
from app.redaction import EMAIL, REDACTED


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


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
def test_aws_sdk_debug_lines_never_reach_the_log(level):
    # botocore's DEBUG lines print each signed request, session token included.
    config = logging_config(level)
    for name in ("boto3", "botocore", "s3transfer", "urllib3"):
        assert config["loggers"][name]["level"] == "WARNING", name


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
    lines = [
        json.dumps({"n": i, "pad": "x" * 280}, separators=(",", ":")) + "\n" for i in range(40)
    ]

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
    write_text('{"n":1}\n')
    write_text('{"n":2}\n')
    assert stdout.flushed_chunks == ['{"n":1}\n', '{"n":2}\n']


# --- the sink: scrubbed, strict, escaped, bounded ----------------------------------------------


def line_bytes(line: str) -> int:
    return len(line.encode()) + 1  # the newline the handler or writer adds


def no_bare_constant(name: str) -> None:
    pytest.fail(f"bare {name} in a log line")


def assert_valid_line(line: str) -> dict[str, Any]:
    assert "\n" not in line
    assert line_bytes(line) <= MAX_LINE_BYTES
    assert not any(0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" for c in line)
    parsed: dict[str, Any] = json.loads(line, parse_constant=no_bare_constant)
    return parsed


SECRET = "Zq7-not-for-logs-4242"  # pragma: allowlist secret


def test_every_writer_scrubs(capsys):
    fields = {"event": "x", "password": SECRET, "note": f"mail jane@clinic.example key={SECRET}"}
    write_line(fields)
    write_text(compact_json(fields) + "\n")
    logging.getLogger("app.test.sink").handlers[:] = []
    formatted = JsonFormatter().format(record(f"Authorization: Bearer {SECRET}", **fields))
    out = capsys.readouterr().out + formatted
    assert SECRET not in out
    assert "jane@clinic.example" not in out
    lines = [assert_valid_line(line) for line in out.splitlines()]
    assert len(lines) == 3
    assert all(line["password"] == REDACTED for line in lines)
    assert lines[0]["note"] == f"mail {EMAIL} key={REDACTED}"


def test_the_bad_case_the_lenient_encoder_alone_leaks_and_writes_nan():
    raw = compact_json({"password": SECRET, "x": math.nan})
    assert SECRET in raw
    assert "NaN" in raw
    with pytest.raises(ValueError, match="Out of range float"):
        json.dumps(math.nan, allow_nan=False)


def test_an_exception_traceback_is_scrubbed():
    try:
        raise RuntimeError(f"upstream said token={SECRET} for jane@clinic.example")
    except RuntimeError:
        made = logging.LogRecord(
            "app.test", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    line = assert_valid_line(JsonFormatter().format(made))
    assert SECRET not in line["exception"]
    assert "jane@clinic.example" not in line["exception"]
    assert "RuntimeError" in line["exception"]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_become_null(value):
    line = assert_valid_line(encode_line({"value": value, "nested": [value, {"v": value}]}))
    assert line == {"value": None, "nested": [None, {"v": None}]}


@pytest.mark.parametrize(
    "character", ["\u2028", "\u2029", "\x85", "\x9b", "\x7f", "\x00", "\x1b", "\ud800"]
)
def test_line_breaking_and_control_characters_are_escaped(character):
    text = f"a{character}b"
    line = encode_line({"message": text, text: 1})
    assert_valid_line(line)
    assert character not in line
    assert json.loads(line)["message"] == text


def test_a_producer_line_with_raw_separators_and_nan_is_rewritten(capsys):
    write_text('{"message":"a\u2028b\x85c","v":NaN,"w":-Infinity}\n')
    line = capsys.readouterr().out.rstrip("\n")
    assert assert_valid_line(line) == {"message": "a\u2028b\x85c", "v": None, "w": None}


def test_text_that_is_not_json_becomes_the_message_of_a_line(capsys):
    write_text(f"plain text password={SECRET}\nsecond\n")
    lines = [assert_valid_line(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["message"] for line in lines] == [f"plain text password={REDACTED}", "second"]


@pytest.mark.parametrize(
    "fields",
    [
        {"message": "m" * 40_000},
        {"message": "é" * 20_000},
        {"message": "\u2028" * 20_000},  # 3 bytes raw, 6 escaped
        {"message": "\x85" * 10_000},
        {"data": ["x" * 100] * 1000},
        {"data": {f"k{i}": "v" * 50 for i in range(2000)}},
        {"k" * 40_000: 1},
        {"data": [[["é" * 3000] * 8] * 8] * 4},
    ],
    ids=["ascii", "two-byte", "u2028", "c1", "wide-list", "wide-dict", "long-key", "deep"],
)
def test_lines_stay_within_the_awslogs_limit(fields):
    fields = {"timestamp": "2026-01-16T10:00:00.000Z", "level": "INFO", "event": "big", **fields}
    assert len(compact_json(fields).encode()) > MAX_LINE_BYTES  # the bad case
    line = assert_valid_line(encode_line(fields))
    assert line["truncated"] is True
    assert line["event"] == "big"
    assert line["level"] == "INFO"


def test_a_line_just_under_the_limit_is_left_whole():
    fields = {"message": ""}
    fields["message"] = "m" * (MAX_LINE_BYTES - 1 - len(compact_json(fields)))
    line = encode_line(fields)
    assert line_bytes(line) == MAX_LINE_BYTES
    assert json.loads(line) == fields


def test_the_hard_fallback_fits_whatever_the_essential_fields_hold():
    fields = dict.fromkeys(("level", "logger", "event", "message"), "\x85" * 50_000)
    line = assert_valid_line(encode_line(fields))
    assert line["truncated"] is True


def test_a_field_that_cannot_be_scrubbed_drops_the_line_not_the_secret(monkeypatch):
    def broken(value):
        raise RuntimeError("scrubber bug")

    monkeypatch.setattr(logging_setup, "scrub", broken)
    line = assert_valid_line(encode_line({"password": SECRET}))
    assert line["event"] == "log_line_unscrubbable"
    assert SECRET not in json.dumps(line)
