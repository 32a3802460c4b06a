"""Fixtures of the task-sandbox tests: the image as app/Dockerfile describes it, its approximated
filesystem, and the containers of the rendered staging stack (tests/sandbox/task_sandbox.py).

The sandbox needs root, bubblewrap and util-linux (scripts/install-system-deps installs them);
without them these tests fail, they do not skip.
"""

import json
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.components.conftest import render
from tests.rendered_tasks import INJECTED
from tests.sandbox.task_sandbox import (
    REPOSITORY,
    ContainerSpec,
    ImageFilesystem,
    ImageModel,
    TaskSandbox,
    image_venv,
    require_tools,
)

SERVICE_TASK = "app-task"
STACK = "staging"


@pytest.fixture(scope="session")
def image() -> ImageModel:
    return ImageModel.from_dockerfile()


@pytest.fixture(scope="session")
def image_filesystem() -> ImageFilesystem:
    require_tools()
    return ImageFilesystem(venv=image_venv(REPOSITORY / ".venv" / "sandbox"))


def container_spec(task_name: str) -> ContainerSpec:
    """The container of one task definition of the rendered staging stack."""
    task = render(STACK).get("aws:ecs/taskDefinition:TaskDefinition", task_name)
    return ContainerSpec.from_task_definition(task.inputs)


def stand_in_secrets(spec: ContainerSpec, **values: str) -> dict[str, str]:
    """A test value per secret the definition names: `values` first, then the shared ones."""
    return {
        name: values.get(name) or INJECTED.get(name) or f"stand-in-{name.lower()}"
        for name in spec.secret_names
    }


@pytest.fixture
def sandbox_for(image: ImageModel, image_filesystem: ImageFilesystem) -> Callable[..., TaskSandbox]:
    """A sandbox for a rendered task's container; keyword arguments go to TaskSandbox."""

    def make(task_name: str, *, image_model: ImageModel | None = None, **options) -> TaskSandbox:
        spec = container_spec(task_name)
        secrets = stand_in_secrets(spec, **options.pop("secret_values", {}))
        return TaskSandbox(spec, image_model or image, image_filesystem, secrets, **options)

    return make


class TaskRoleEndpoint(ThreadingHTTPServer):
    """A loopback stand-in for the task-role credentials endpoint ECS gives every task (the
    container credential provider's documented JSON); counts the requests it answers."""

    requests = 0
    token = secrets.token_hex(8)
    """The session token it hands out, to look for where no credential may appear: short
    enough that only the redaction's key rules, not its token-shape rules, can catch it."""


class _Credentials(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        assert isinstance(self.server, TaskRoleEndpoint)
        self.server.requests += 1
        body = json.dumps(
            {
                "AccessKeyId": "testing",
                "SecretAccessKey": "testing",  # pragma: allowlist secret - moto's test value
                "Token": self.server.token,
                "Expiration": (datetime.now(UTC) + timedelta(hours=1)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                "RoleArn": "arn:aws:iam::123456789012:role/backup-task",
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def task_role_endpoint() -> Iterator[TaskRoleEndpoint]:
    server = TaskRoleEndpoint(("127.0.0.1", 0), _Credentials)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def credentials_uri(server: TaskRoleEndpoint) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}/v2/credentials/backup-task"
