"""The web service's container of the rendered staging stack, run as ECS on Fargate runs it
(tests/sandbox/task_sandbox.py): its user, read-only root, task volume, capabilities,
environment and secrets, and its own health-check command.

Source of truth: the rendered task definition, app/Dockerfile, and Fargate's documented volume
behaviour (a task volume is root-owned 0755 unless the image declares the path a VOLUME).
"""

import json
import socket

import pytest

from app.contract import APP_PORT, HEALTH_PATH, Env
from tests.sandbox.conftest import SERVICE_TASK, credentials_uri

pytestmark = pytest.mark.network

TWO_WORKERS = {Env.WEB_CONCURRENCY: "2"}  # the rendered task runs one; the issue asks for two
# Paths of the image a process of the task tries to write; only the task volume is writable.
READ_ONLY_PATHS = ("/", "/srv", "/srv/app", "/srv/static", "/opt/venv", "/etc", "/var/tmp")
WRITE_PROBE = """
import json, os, sys
results = {}
for directory in sys.argv[1:]:
    try:
        with open(os.path.join(directory, "probe"), "w") as probe:
            probe.write("x")
        results[directory] = "written"
    except OSError as failure:
        results[directory] = failure.__class__.__name__ + ":" + str(failure.errno)
print(json.dumps(results))
"""
GET_HEALTH = (
    "import json, urllib.request as r; "
    f"response = r.urlopen('http://127.0.0.1:{APP_PORT}{HEALTH_PATH}', timeout=4); "
    "print(json.dumps({'status': response.status, 'body': json.load(response)}))"
)


def _worker_count(sandbox) -> int:
    """Processes uvicorn spawned as workers (multiprocessing's spawn entry point)."""
    workers = 0
    for pid in sandbox.processes():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                arguments = cmdline.read().split(b"\0")
        except OSError:
            continue
        workers += any(b"multiprocessing.spawn" in argument for argument in arguments)
    return workers


def _healthy(sandbox) -> bool:
    return bool(sandbox.health_check().returncode == 0)


def test_service_starts_with_two_workers_and_passes_its_health_check(sandbox_for):
    sandbox = sandbox_for(SERVICE_TASK, own_network=True, overrides=TWO_WORKERS)
    with sandbox.running():
        sandbox.wait_until(lambda: _healthy(sandbox), timeout=45)
        answered = sandbox.exec(["python", "-c", GET_HEALTH])
        workers = _worker_count(sandbox)
        identity = sandbox.exec(["sh", "-c", "id -u; id -g; grep CapBnd /proc/self/status"])
        stopped = sandbox.stop()

    assert answered.returncode == 0, answered.stderr
    health = json.loads(answered.stdout)
    assert health["status"] == 200
    assert health["body"]["status"] == "healthy"
    assert workers == 2
    assert identity.stdout.split()[:2] == ["10001", "10001"]
    assert identity.stdout.split()[-1] == "0000000000000000"  # every capability dropped
    # SIGTERM drains and exits cleanly, as ECS stops a task.
    assert stopped.returncode == 0, stopped.stderr[-2000:]


def test_without_the_volume_declaration_two_workers_cannot_start(sandbox_for, image):
    # What the task did before app/Dockerfile declared VOLUME /tmp: Fargate's root-owned 0755
    # volume leaves uid 10001 no temporary directory. The sandbox reproduces the failure.
    sandbox = sandbox_for(
        SERVICE_TASK, image_model=image.without_volumes(), own_network=True, overrides=TWO_WORKERS
    )
    with sandbox.running(), pytest.raises(RuntimeError, match="No usable temporary directory"):
        sandbox.wait_until(lambda: _healthy(sandbox), timeout=45)


def test_only_the_task_volume_is_writable(sandbox_for):
    sandbox = sandbox_for(SERVICE_TASK, own_network=True)
    probe = sandbox.run(["python", "-c", WRITE_PROBE, "/tmp", *READ_ONLY_PATHS])

    assert probe.returncode == 0, probe.stderr
    results = json.loads(probe.stdout)
    assert results.pop("/tmp") == "written"
    refused = {path: outcome for path, outcome in results.items() if outcome == "written"}
    assert refused == {}, f"writable outside the task volume: {refused}"
    # The root filesystem is read-only (EROFS = 30), not merely root-owned.
    assert results["/srv/app"] == "OSError:30"


def test_the_task_volume_is_the_images_tmp(sandbox_for, image):
    # Declared VOLUME: the image's /tmp (root 1777); undeclared: Fargate's empty root 0755.
    declared = sandbox_for(SERVICE_TASK).run(["stat", "-c", "%u %g %a", "/tmp"])
    undeclared = sandbox_for(SERVICE_TASK, image_model=image.without_volumes()).run(
        ["stat", "-c", "%u %g %a", "/tmp"]
    )

    assert declared.stdout.split() == ["0", "0", "1777"]
    assert undeclared.stdout.split() == ["0", "0", "755"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_logs_carry_no_task_credentials(
    sandbox_for, task_role_endpoint, moto_endpoint, no_machine_aws
):
    # Staging logs at DEBUG, and the service signs S3 requests (the asset archive) with the
    # task role's credentials. This shares the machine's network to reach moto, so the port
    # moves off 8080; the health check reads PORT as in the image.
    sandbox = sandbox_for(
        SERVICE_TASK,
        ecs_injected={"AWS_CONTAINER_CREDENTIALS_FULL_URI": credentials_uri(task_role_endpoint)},
        overrides={Env.PORT: str(_free_port()), "AWS_ENDPOINT_URL": moto_endpoint},
    )
    with sandbox.running():
        sandbox.wait_until(lambda: _healthy(sandbox), timeout=45)
        sandbox.wait_until(lambda: task_role_endpoint.requests > 0, timeout=30)
        output = sandbox.stop()

    assert sandbox.environment()[Env.LOG_LEVEL] == "DEBUG"
    assert task_role_endpoint.token not in output.stdout + output.stderr
