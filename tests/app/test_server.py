"""A real `python -m app serve` process on loopback: start-up, headers, shutdown."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.app.conftest import REPO_ROOT

pytestmark = [pytest.mark.network, pytest.mark.usefixtures("clean_environment")]

REQUIRED_IN_PRODUCTION = [
    "SUPABASE_URL",
    "SUPABASE_ANON_KEY",
    "N8N_WEBHOOK_URL",
    "N8N_INSTANCE_ID",
    "GOOGLE_CLIENT_ID",
    "GOOGLE_API_KEY",
    "BASE44_APP_ID",
    "ALLOWED_ORIGINS",
    "LOAD_BALANCER_IDLE_TIMEOUT_SECONDS",
    "CONTAINER_STOP_TIMEOUT_SECONDS",
]


def test_starts_with_no_configuration_and_discloses_no_server(service):
    running = service()
    response = httpx.get(f"{running.base_url}/health", timeout=5)
    assert response.status_code == 200
    assert response.json()["environment"] == "development"
    assert "server" not in response.headers
    assert "x-powered-by" not in response.headers
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["strict-transport-security"].startswith("max-age=63072000")
    startup = next(
        json.loads(line) for line in running.output().splitlines() if '"event":"startup"' in line
    )
    assert startup["integrations"]["supabase"] is False


def test_production_without_settings_exits_non_zero_naming_every_variable():
    env = {
        "PATH": "/usr/bin:/bin",
        "APP_ENV": "production",
        "SUPABASE_URL": "https://a.supabase.co",
    }
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.count("invalid configuration") == 1
    missing = [name for name in REQUIRED_IN_PRODUCTION if name != "SUPABASE_URL"]
    for name in missing:
        assert name in result.stderr
    assert "SUPABASE_URL," not in result.stderr
    assert "Traceback" not in result.stderr


def test_secrets_in_client_logs_never_reach_the_output(service):
    running = service()
    secret = "pw-should-never-appear-9911"  # pragma: allowlist secret
    entry = {
        "timestamp": "2026-01-16T10:00:00Z",
        "level": "ERROR",
        "message": "login failed",
        "data": {"user": {"password": secret}, "headers": {"authorization": secret}},
        "url": f"https://miko.example/login?token={secret}",
    }
    response = httpx.post(f"{running.base_url}/api/logs?api_key={secret}", json=entry, timeout=5)
    assert response.status_code == 202
    running.process.send_signal(signal.SIGTERM)
    running.process.wait(timeout=30)
    output = running.output()
    assert '"event":"client_log"' in output
    assert secret not in output


def accepted_connections(pid: int, port: int) -> int:
    """Connections to `port` that the service (the process and its workers) has accepted: its
    open sockets that the kernel lists as established on that local port (/proc/net/tcp)."""
    established = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
        if local_port == port and state == "01":  # TCP_ESTABLISHED
            established.add(f"socket:[{inode}]")
    pids = [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    held = 0
    for process in pids:
        for descriptor in Path(f"/proc/{process}/fd").iterdir():
            try:
                held += os.readlink(descriptor) in established
            except OSError:
                continue
    return held


def fire_slow_requests(base_url: str, count: int) -> tuple[list[threading.Thread], list[object]]:
    results: list[object] = []

    def request(index: int) -> None:
        try:
            path = "/health/apis" if index % 2 else "/health/db"
            results.append(httpx.get(f"{base_url}{path}", timeout=15).status_code)
        except httpx.HTTPError as error:
            results.append(repr(error))

    threads = [threading.Thread(target=request, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads, results


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_lets_in_flight_requests_finish_and_exits_0(service, fake_dependency, workers):
    slow = fake_dependency.url("slow/1.5")
    running = service(
        WEB_CONCURRENCY=workers,
        N8N_WEBHOOK_URL=slow,
        SUPABASE_URL=slow,
        SUPABASE_ANON_KEY="anon",
        HEALTH_CHECK_TIMEOUT_SECONDS="5",
        HEALTH_BUDGET_SECONDS="6",
        SHUTDOWN_GRACE_SECONDS="10",
    )
    threads, results = fire_slow_requests(running.base_url, 6)
    # SIGTERM only once the service holds all six connections: a client thread that has not
    # connected yet would meet a closed listener (ConnectError), which is not what is tested.
    port = int(running.base_url.rsplit(":", 1)[1])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
        len(fake_dependency.requests) < 2 or accepted_connections(running.process.pid, port) < 6
    ):
        time.sleep(0.05)
    running.process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(timeout=20)
    assert results == [200] * 6
    assert running.process.wait(timeout=20) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{running.base_url}/health", timeout=2)


def multiprocess_dir_of(parent_pid: int) -> Path:
    """The metrics directory the supervisor handed its workers, read from a worker's environment."""
    children = Path(f"/proc/{parent_pid}/task/{parent_pid}/children").read_text().split()
    for child in children:
        for variable in Path(f"/proc/{child}/environ").read_bytes().split(b"\0"):
            if variable.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
                return Path(variable.split(b"=", 1)[1].decode())
    raise AssertionError("no worker has PROMETHEUS_MULTIPROC_DIR")


def test_workers_share_one_metrics_view_and_clean_up(service):
    running = service(WEB_CONCURRENCY="2")
    with httpx.Client(base_url=running.base_url, timeout=5) as client:
        for _ in range(20):
            client.get("/health", headers={"Connection": "close"})
        exposition = client.get("/metrics").text
    total = sum(
        float(line.split()[-1])
        for line in exposition.splitlines()
        if line.startswith('miko_http_requests_total{method="GET",route="/health",status="200"}')
    )
    assert total >= 20
    metrics_dir = multiprocess_dir_of(running.process.pid)
    assert any(metrics_dir.glob("*.db"))
    running.process.send_signal(signal.SIGTERM)
    assert running.process.wait(timeout=30) == 0
    assert not metrics_dir.exists()
