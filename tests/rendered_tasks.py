"""What a container of a rendered task definition would see, for the app's own loaders.

Shared by the contract tests: the plain environment of the rendered container definition, plus
a well-formed stand-in for each secret ECS would inject (`valueFrom`).
"""

import json
import os
from typing import Any
from unittest import mock

from app.contract import SecretEnv
from app.settings import Settings
from components.app_container import CONTAINER_NAME
from plan.render import Rendering

# Well-formed stand-ins for what Secrets Manager injects (`valueFrom`), by variable name.
INJECTED = {
    SecretEnv.SUPABASE_URL: "https://abcd.supabase.co",
    SecretEnv.N8N_WEBHOOK_URL: "https://n8n.example.com/webhook/chat",
    SecretEnv.SENTRY_DSN: "https://key@o1.ingest.sentry.io/2",
    SecretEnv.DATABASE_URL: "postgresql://app@db.example.com:5432/postgres",
    SecretEnv.SCRATCH_DATABASE_URL: "postgresql://app@scratch.example.com:5432/postgres",
}
JOB_TASKS = ("backups-jobs-dump", "backups-jobs-verify")


def main_container(definitions: str) -> dict[str, Any]:
    """The task's own container among its definitions (JSON text): the app's (CONTAINER_NAME)
    next to its sidecars, or a job's single one."""
    containers = json.loads(definitions)
    if len(containers) == 1:
        return dict(containers[0])
    [container] = [c for c in containers if c["name"] == CONTAINER_NAME]
    return dict(container)


def container_environment(rendering: Rendering, task_name: str) -> dict[str, str]:
    """What the container would see: its plain environment plus a stand-in per secret."""
    task = rendering.get("aws:ecs/taskDefinition:TaskDefinition", task_name)
    container = main_container(task.inputs["containerDefinitions"])
    environment = {item["name"]: item["value"] for item in container["environment"]}
    for item in container["secrets"]:
        environment[item["name"]] = INJECTED.get(item["name"], f"stand-in-{item['name'].lower()}")
    return environment


def app_settings_from(environment: dict[str, str]) -> Settings:
    """The app's own loader, with nothing of this machine's environment."""
    with mock.patch.dict(os.environ, environment, clear=True):
        return Settings()
