"""The containers the program defines give the app exactly what its settings require.

A task definition that misses a variable the app requires in staging or production would pass
every preview and fail only when ECS starts the task; these tests start the app's own settings
(and the backup job's) from the rendered container definitions instead.
"""

import json

import pytest

from app.backup.config import BackupJobSettings
from app.settings import Settings

# Well-formed stand-ins for what Secrets Manager injects (`valueFrom`).
INJECTED = {
    "SUPABASE_URL": "https://abcd.supabase.co",
    "N8N_WEBHOOK_URL": "https://n8n.example.com/webhook/chat",
    "SENTRY_DSN": "https://key@o1.ingest.sentry.io/2",
    "DATABASE_URL": "postgresql://app@db.example.com:5432/postgres",
    "SCRATCH_DATABASE_URL": "postgresql://app@scratch.example.com:5432/postgres",
}


def environment_of(rendering, task_name):
    task = rendering.get("aws:ecs/taskDefinition:TaskDefinition", task_name)
    [container] = json.loads(task.inputs["containerDefinitions"])
    environment = {item["name"]: item["value"] for item in container["environment"]}
    injected = {
        item["name"]: INJECTED.get(item["name"], "stand-in") for item in container["secrets"]
    }
    return {**environment, **injected}


@pytest.fixture
def clean_environment(monkeypatch):
    """Only what the container gets: no variable of this machine may satisfy a requirement."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def test_the_app_starts_with_what_its_task_definition_gives_it(rendering, clean_environment):
    for name, value in environment_of(rendering, "app-task").items():
        clean_environment.setenv(name, value)

    settings = Settings()

    assert settings.app_env == {"staging": "staging", "prod": "production"}[rendering.stack]
    assert settings.port == 8080


def test_a_missing_variable_would_stop_the_app(rendering, clean_environment):
    environment = environment_of(rendering, "app-task")
    del environment["N8N_INSTANCE_ID"]
    for name, value in environment.items():
        clean_environment.setenv(name, value)

    with pytest.raises(ValueError, match="N8N_INSTANCE_ID"):
        Settings()


@pytest.mark.parametrize("command", ["dump", "verify"])
def test_the_backup_jobs_get_what_they_read(rendering, command):
    settings = BackupJobSettings.from_env(environment_of(rendering, f"backups-jobs-{command}"))
    assert settings.require_bucket().startswith("backups-dumps-")
    assert settings.prefix == "dumps"
    assert settings.kms_key_id
    assert settings.require_database_url().startswith("postgresql://")
    assert (settings.scratch_database_url is not None) == (command == "verify")
