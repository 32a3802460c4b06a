"""`python -m app backup dump|verify|list`: one line of JSON on stdout, exit 0 only on success."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from app.backup.config import BackupJobSettings
from app.backup.dump import run_dump
from app.backup.errors import BackupError
from app.backup.listing import run_list
from app.backup.memory import own_peak_rss_mib
from app.backup.verify import run_verify


def main(argv: list[str]) -> int:
    arguments = _parser().parse_args(argv)
    command: str = arguments.command
    with _sigterm_raises():
        try:
            result = _run(command, BackupJobSettings.from_env(), arguments)
        except BackupError as failure:
            _emit(_failure(command, failure.cause, failure.message))
            print(f"backup {command} failed ({failure.cause}): {failure.message}", file=sys.stderr)
            return 1
        except Exception as bug:
            # Still one JSON line for the scheduler's log query; the traceback follows on stderr.
            _emit(_failure(command, "unexpected", f"{type(bug).__name__}: {bug}"))
            raise
    # The line contract.backup_succeeded(command) counts: the command and a JSON boolean `ok`.
    _emit({"command": command, "ok": True, **result, **_peak_memory()})
    return 0


def _failure(command: str, cause: str, message: str) -> dict[str, Any]:
    return {"command": command, "ok": False, "error": cause, "message": message}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app backup", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("dump", help="pg_dump DATABASE_URL into the backup bucket")
    verify = commands.add_parser(
        "verify", help="restore a dump into a scratch database and compare"
    )
    verify.add_argument("--key", help="object key of the dump (default: the newest finished one)")
    verify.add_argument(
        "--against-live",
        action="store_true",
        help="also compare with DATABASE_URL as it is now (only meaningful if it did not change)",
    )
    commands.add_parser("list", help="the dumps in the bucket, newest first")
    return parser


def _run(
    command: str, settings: BackupJobSettings, arguments: argparse.Namespace
) -> dict[str, Any]:
    if command == "dump":
        return run_dump(settings)
    if command == "verify":
        return run_verify(settings, arguments.key, arguments.against_live)
    return run_list(settings)


def _peak_memory() -> dict[str, float]:
    return {"peak_rss_mib": own_peak_rss_mib()}


def _emit(result: dict[str, Any]) -> None:
    print(json.dumps(result, ensure_ascii=False), flush=True)


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """SIGTERM (ECS stopping the task) unwinds like an exception, so uploads get aborted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupted(signum: int, _frame: FrameType | None) -> None:
    raise BackupError("interrupted", f"stopped by signal {signum}")
