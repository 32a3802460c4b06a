import json
import logging
from datetime import UTC, datetime

import pytest

from app.logging_setup import (
    JsonFormatter,
    logging_config,
    request_id_var,
    utc_timestamp,
    write_line,
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
