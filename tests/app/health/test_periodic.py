"""The service runs the database check by itself (HEALTH_DB_CHECK_INTERVAL_SECONDS)."""

import asyncio
import json
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError

from app.contract import DATABASE_CHECK_FAILED
from app.health.checks import HealthChecks
from app.health.periodic import PeriodicDatabaseCheck, WorkerLock
from app.settings import Settings, describe_error
from tests.app.conftest import closed_port
from tests.app.test_settings import production_env

pytestmark = pytest.mark.usefixtures("clean_environment")

WAIT_SECONDS = 10.0


def failure_lines(text: str) -> list[dict[str, object]]:
    """The lines the CloudWatch metric filter counts (app/contract.py, which components use)."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        fields = json.loads(line)
        if DATABASE_CHECK_FAILED.matches(fields):
            lines.append(fields)
    return lines


def wait_for(condition, seconds: float = WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def postgres_checks(status: str = "error") -> float:
    labels = {"dependency": "postgres", "status": status}
    return REGISTRY.get_sample_value("miko_dependency_checks_total", labels) or 0.0


def refused_database_url() -> str:
    return f"postgresql://miko@127.0.0.1:{closed_port()}/postgres"


@dataclass
class SilentPostgres:
    """Accepts connections on loopback and never answers: a check against it stays in flight."""

    url: str
    accepted: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def silent_postgres() -> Iterator[SilentPostgres]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    silent = SilentPostgres(f"postgresql://miko@127.0.0.1:{listener.getsockname()[1]}/postgres")
    stop = threading.Event()
    connections: list[socket.socket] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                connections.append(listener.accept()[0])
            except TimeoutError:
                continue
            silent.accepted.set()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield silent
    stop.set()
    thread.join(timeout=5)
    for connection in connections:
        connection.close()
    listener.close()


# The setting


def test_interval_is_off_in_development_and_60_s_elsewhere(monkeypatch):
    assert Settings().db_check_interval_seconds == 0
    production_env(monkeypatch)
    assert Settings().db_check_interval_seconds == 60
    monkeypatch.setenv("HEALTH_DB_CHECK_INTERVAL_SECONDS", "0")
    assert Settings().db_check_interval_seconds == 0


@pytest.mark.parametrize("value", ["0", "5", "3600"])
def test_interval_accepts_off_and_the_range_ends(monkeypatch, value):
    monkeypatch.setenv("HEALTH_DB_CHECK_INTERVAL_SECONDS", value)
    assert Settings().db_check_interval_seconds == int(value)


@pytest.mark.parametrize("value", ["-1", "1", "4", "3601", "soon"])
def test_interval_outside_the_range_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv("HEALTH_DB_CHECK_INTERVAL_SECONDS", value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert "HEALTH_DB_CHECK_INTERVAL_SECONDS" in describe_error(caught.value)


# In process


def test_failure_is_logged_without_any_request(make_client, json_log):
    errors_before = postgres_checks()
    make_client(database_url=refused_database_url(), health_db_check_interval_seconds=5)
    assert wait_for(lambda: failure_lines(json_log.getvalue()))
    line = failure_lines(json_log.getvalue())[0]
    assert (line["target"], line["status"], line["level"]) == ("postgres", "error", "WARNING")
    assert "request_id" not in line
    assert postgres_checks() > errors_before


def test_success_logs_nothing_at_info(make_client, json_log, postgres_url):
    healthy_before = postgres_checks("healthy")
    make_client(database_url=postgres_url, health_db_check_interval_seconds=5)
    assert wait_for(lambda: postgres_checks("healthy") > healthy_before)
    assert '"event":"health_check"' not in json_log.getvalue()
    assert '"event":"periodic_health_check"' not in json_log.getvalue()


@pytest.mark.parametrize("overrides", [{}, {"health_db_check_interval_seconds": 0}])
def test_interval_0_runs_nothing(make_client, json_log, overrides):
    errors_before = postgres_checks()
    make_client(database_url=refused_database_url(), **overrides)
    time.sleep(0.5)
    assert failure_lines(json_log.getvalue()) == []
    assert postgres_checks() == errors_before


def test_stop_during_a_check_in_flight_is_prompt_and_leaves_no_task(silent_postgres):
    settings = Settings(
        database_url=silent_postgres.url,
        health_check_timeout_seconds=20,
        health_budget_seconds=30,
    )

    async def scenario() -> tuple[float, list[asyncio.Task[object]]]:
        checks = HealthChecks(settings)
        await checks.start()
        periodic = PeriodicDatabaseCheck(checks, 5, WorkerLock(None))
        periodic.start()
        assert await asyncio.to_thread(silent_postgres.accepted.wait, WAIT_SECONDS)
        assert "database" in checks.inflight
        started = time.monotonic()
        await periodic.stop()
        await checks.close()
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.1)
        leftovers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        return elapsed, leftovers

    elapsed, leftovers = asyncio.run(scenario())
    assert elapsed < 1.5
    assert leftovers == []


def test_one_worker_lock_holder_at_a_time(tmp_path):
    first, second = WorkerLock(tmp_path), WorkerLock(tmp_path)
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()
    assert WorkerLock(None).acquire()


# A real server process


@pytest.mark.network
def test_server_logs_the_failure_on_stdout_from_one_worker_only(service):
    running = service(
        WEB_CONCURRENCY="2",
        DATABASE_URL=refused_database_url(),
        HEALTH_DB_CHECK_INTERVAL_SECONDS="5",
    )
    assert wait_for(lambda: failure_lines(running.output()))
    time.sleep(1.5)
    output = running.output()
    assert len(failure_lines(output)) == 1
    assert "/health/db" not in output
    running.process.send_signal(signal.SIGTERM)
    assert running.process.wait(timeout=30) == 0


@pytest.mark.network
@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_during_a_check_in_flight_exits_0_promptly(service, silent_postgres, workers):
    running = service(
        WEB_CONCURRENCY=workers,
        DATABASE_URL=silent_postgres.url,
        HEALTH_DB_CHECK_INTERVAL_SECONDS="5",
        HEALTH_CHECK_TIMEOUT_SECONDS="20",
        HEALTH_BUDGET_SECONDS="30",
        SHUTDOWN_GRACE_SECONDS="10",
    )
    assert silent_postgres.accepted.wait(WAIT_SECONDS)
    started = time.monotonic()
    running.process.send_signal(signal.SIGTERM)
    assert running.process.wait(timeout=20) == 0
    assert time.monotonic() - started < 5
    assert failure_lines(running.output()) == []
