"""The containers the program defines give the app exactly what its settings require.

A task definition that misses a variable the app requires in staging or production would pass
every preview and fail only when ECS starts the task; these tests start the app's own settings
(and the backup job's) from the rendered container definitions instead. The APP_ENV test stands
on a container definition's `environment` being `docker run --env`, which sets a variable over
the image's ENV (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html,
https://docs.docker.com/reference/dockerfile/#env).
"""

import json

import pytest

from app.backup.config import BackupJobSettings
from tests.rendered_tasks import app_settings_from, container_environment


def test_the_app_starts_with_what_its_task_definition_gives_it(rendering):
    settings = app_settings_from(container_environment(rendering, "app-task"))

    assert settings.app_env == {"staging": "staging", "prod": "production"}[rendering.stack]
    assert settings.port == 8080


def test_a_missing_variable_would_stop_the_app(rendering):
    environment = container_environment(rendering, "app-task")
    del environment["N8N_INSTANCE_ID"]

    with pytest.raises(ValueError, match="N8N_INSTANCE_ID"):
        app_settings_from(environment)


@pytest.mark.parametrize("command", ["dump", "verify"])
def test_the_backup_jobs_get_what_they_read(rendering, command):
    settings = BackupJobSettings.from_env(
        container_environment(rendering, f"backups-jobs-{command}")
    )
    assert settings.require_bucket().startswith("backups-dumps-")
    assert settings.prefix == "dumps"
    assert settings.kms_key_id
    assert settings.require_database_url().startswith("postgresql://")
    assert (settings.scratch_database_url is not None) == (command == "verify")


@pytest.mark.parametrize("command", ["dump", "verify"])
def test_the_backup_jobs_run_under_the_stacks_app_env(rendering, command):
    """The image's own default is APP_ENV=production (app/Dockerfile); the task's environment
    is set over it, so the task definition must name the stack itself, as the service's does:
    a staging job running as production would log and report as prod."""
    task = rendering.get("aws:ecs/taskDefinition:TaskDefinition", f"backups-jobs-{command}")
    [container] = json.loads(task.inputs["containerDefinitions"])
    plain = {item["name"]: item["value"] for item in container["environment"]}

    assert plain["APP_ENV"] == {"staging": "staging", "prod": "production"}[rendering.stack]
    assert plain["APP_ENV"] == container_environment(rendering, "app-task")["APP_ENV"]


def test_the_app_traces_to_the_sidecar_at_the_stacks_rate(rendering):
    from app.contract import OTLP_HTTP_PORT  # noqa: PLC0415
    from components.trace_collector import collector_config  # noqa: PLC0415

    environment = container_environment(rendering, "app-task")
    settings = app_settings_from(environment)

    assert settings.tracing_sample_rate == 0.1
    assert settings.otel_exporter_otlp_endpoint == f"http://127.0.0.1:{OTLP_HTTP_PORT}"
    receiver = collector_config(region="us-west-2", memory_mib=128)["receivers"]["otlp"]
    assert receiver["protocols"]["http"]["endpoint"] == f"127.0.0.1:{OTLP_HTTP_PORT}"
    log_group = rendering.get("aws:cloudwatch/logGroup:LogGroup", "app-logs").inputs["name"]
    assert environment["OTEL_RESOURCE_ATTRIBUTES"] == f"aws.log.group.names={log_group}"


def test_without_tracing_the_app_starts_with_tracing_off(render_with):
    rendering = render_with("staging", {"tracingEnabled": False})
    settings = app_settings_from(container_environment(rendering, "app-task"))
    assert settings.tracing_sample_rate == 0
