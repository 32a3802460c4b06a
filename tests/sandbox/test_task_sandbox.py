"""The sandbox's own model of the image and the container definition (task_sandbox.py): what it
reads from app/Dockerfile and the rendered definition, and what it refuses to model."""

import json
from pathlib import Path

import pytest

from tests.sandbox.conftest import SERVICE_TASK, container_spec
from tests.sandbox.task_sandbox import (
    DOCKER_DEFAULT_CAPABILITIES,
    ContainerSpec,
    ImageFilesystem,
    ImageModel,
    TaskSandbox,
    bounding_set,
)


def _spec(**container_changes) -> ContainerSpec:
    container = {
        "name": "c",
        "user": "10001:10001",
        "readonlyRootFilesystem": True,
        "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp"}],
        "environment": [],
        "secrets": [{"name": "DATABASE_URL", "valueFrom": "arn:secret"}],
        "logConfiguration": {"options": {"awslogs-region": "us-west-2"}},
        **container_changes,
    }
    return ContainerSpec.from_task_definition(
        {"containerDefinitions": json.dumps([container]), "volumes": [{"name": "tmp"}]}
    )


def test_the_image_model_reads_the_dockerfile(image):
    assert image.user == "10001:10001"
    assert (image.account.name, image.account.uid, image.account.gid) == ("app", 10001, 10001)
    assert image.volumes == ("/tmp",)
    assert image.env["PATH"].startswith("/opt/venv/bin:")
    assert image.cmd == ("python", "-m", "app", "serve")


def test_the_rendered_service_drops_every_capability():
    assert bounding_set(container_spec(SERVICE_TASK)) == "-all"


def test_without_drop_the_bounding_set_is_dockers_default():
    kept = bounding_set(_spec(linuxParameters={"capabilities": {"drop": ["NET_RAW"]}}))

    assert "+net_raw" not in kept
    assert kept.count("+") == len(DOCKER_DEFAULT_CAPABILITIES) - 1


def _sandbox(spec: ContainerSpec, image: ImageModel, **secrets) -> TaskSandbox:
    # These checks refuse before anything is mounted: no virtualenv is needed.
    return TaskSandbox(spec, image, ImageFilesystem(venv=Path("/nonexistent-venv")), secrets)


def test_a_secret_without_a_test_value_is_refused(image):
    with pytest.raises(ValueError, match="DATABASE_URL"):
        _sandbox(_spec(), image).environment()


def test_host_volumes_and_writable_roots_are_not_modelled(image):
    host_volume = ContainerSpec.from_task_definition(
        {
            "containerDefinitions": json.dumps(
                [
                    {
                        "name": "c",
                        "readonlyRootFilesystem": True,
                        "mountPoints": [{"sourceVolume": "data", "containerPath": "/data"}],
                        "environment": [],
                        "logConfiguration": {"options": {"awslogs-region": "us-west-2"}},
                    }
                ]
            ),
            "volumes": [{"name": "data", "host": {"sourcePath": "/var/data"}}],
        }
    )
    with pytest.raises(ValueError, match="only task-local volumes"):
        _sandbox(host_volume, image)._volume("data", "/data", False)
    writable = _sandbox(_spec(readonlyRootFilesystem=False), image, DATABASE_URL="x")
    with pytest.raises(ValueError, match="read-only roots only"):
        writable.argv()


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_writable_mount_is_a_volume_the_image_declares(stack, image):
    # Fargate: an undeclared path gets an empty root-owned 0755 volume, unwritable by 10001.
    from tests.components.conftest import render  # noqa: PLC0415

    for task in render(stack).of_type("aws:ecs/taskDefinition:TaskDefinition"):
        spec = ContainerSpec.from_task_definition(task.inputs)
        writable = {path for _, path, read_only in spec.mounts if not read_only}
        assert writable <= set(image.volumes), (task.name, writable - set(image.volumes))
