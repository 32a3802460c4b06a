"""The command line contract: one JSON line, exit codes, and unexpected errors still reported."""

import json
import signal

import pytest

from app.backup import cli
from app.backup.errors import BackupError
from app.contract import backup_succeeded


def _json_line(capsys):
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1, out
    return json.loads(out)


def test_expected_failure_is_one_json_line_and_exit_1(isolated_env, capsys):
    assert cli.main(["list"]) == 1

    assert _json_line(capsys) == {
        "command": "list",
        "ok": False,
        "error": "config_missing",
        "message": "BACKUP_BUCKET is not set",
    }


def test_success_reports_own_peak_memory(isolated_env, monkeypatch, capsys):
    monkeypatch.setattr(cli, "run_list", lambda settings: {"count": 0, "dumps": []})

    assert cli.main(["list"]) == 0

    result = _json_line(capsys)
    assert result["ok"] is True
    assert 10 < result["peak_rss_mib"] < 1000


def test_unexpected_error_is_reported_then_raised(isolated_env, monkeypatch, capsys):
    def broken(settings):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "run_list", broken)

    with pytest.raises(RuntimeError):
        cli.main(["list"])

    assert _json_line(capsys)["error"] == "unexpected"


def test_sigterm_handler_is_restored(isolated_env, monkeypatch, capsys):
    before = signal.getsignal(signal.SIGTERM)

    def interrupted(settings):
        raise BackupError("interrupted", "stopped by signal 15")

    monkeypatch.setattr(cli, "run_list", interrupted)

    assert cli.main(["list"]) == 1
    assert signal.getsignal(signal.SIGTERM) is before
    assert _json_line(capsys)["error"] == "interrupted"


@pytest.mark.parametrize("command", ["dump", "verify", "list"])
def test_the_success_line_is_the_one_the_success_filter_counts(
    isolated_env, monkeypatch, capsys, command
):
    runner = {"dump": "run_dump", "verify": "run_verify", "list": "run_list"}[command]
    monkeypatch.setattr(cli, runner, lambda *arguments: {"seconds": 1.0})

    assert cli.main([command]) == 0

    line = _json_line(capsys)
    assert backup_succeeded(command).matches(line)
    others = {"dump", "verify", "list"} - {command}
    assert not any(backup_succeeded(other).matches(line) for other in others)


@pytest.mark.parametrize("command", ["dump", "verify", "list"])
def test_a_failure_line_is_not_counted_as_a_success(isolated_env, capsys, command):
    assert cli.main([command]) == 1  # nothing configured: config_missing

    line = _json_line(capsys)
    assert (line["command"], line["ok"]) == (command, False)
    assert not backup_succeeded(command).matches(line)
