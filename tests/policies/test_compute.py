import json
from typing import Any

import pytest

from policies.compute import looks_like_credential

SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
REPOSITORY = "aws:ecr/repository:Repository"
DIGEST = "sha256:" + "a" * 64
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:1:secret:supabase"  # pragma: allowlist secret

GIT_SHA = "3f2c1a9b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b"  # pragma: allowlist secret

GOOD_CONTAINER: dict[str, Any] = {
    "name": "app",
    "image": f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/miko@{DIGEST}",
    "user": "10001:10001",
    "readonlyRootFilesystem": True,
    "privileged": False,
    "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/miko/app"}},
    "environment": [
        {"name": "APP_ENV", "value": "production"},
        {"name": "APP_VERSION", "value": GIT_SHA},
        {"name": "ALLOWED_ORIGINS", "value": "https://www.example.com"},
        {"name": "KEEPALIVE_TIMEOUT_SECONDS", "value": "75"},
        {"name": "PORT", "value": "8080"},
    ],
    "secrets": [{"name": "SUPABASE_ANON_KEY", "valueFrom": f"{SECRET_ARN}:SUPABASE_ANON_KEY::"}],
}


def task_definition(**changes):
    container = {**GOOD_CONTAINER, **changes}
    container = {key: value for key, value in container.items() if value is not None}
    return {"family": "miko", "containerDefinitions": json.dumps([container])}


TASK_POLICIES = [
    "ecs-task-readonly-root-filesystem",
    "ecs-task-non-root-user",
    "ecs-task-no-privileged",
    "ecs-task-log-configuration",
    "ecs-task-no-plaintext-secrets",
    "ecs-task-image-pinned-by-digest",
]


@pytest.mark.parametrize("policy_name", TASK_POLICIES)
def test_hardened_task_definition_passes(run_resource, policy_name):
    assert run_resource(policy_name, TASK_DEFINITION, task_definition()) == []


@pytest.mark.parametrize(
    ("policy_name", "changes"),
    [
        ("ecs-task-readonly-root-filesystem", {"readonlyRootFilesystem": None}),
        ("ecs-task-readonly-root-filesystem", {"readonlyRootFilesystem": False}),
        ("ecs-task-non-root-user", {"user": None}),
        ("ecs-task-non-root-user", {"user": "root"}),
        ("ecs-task-non-root-user", {"user": "0:0"}),
        ("ecs-task-no-privileged", {"privileged": True}),
        ("ecs-task-log-configuration", {"logConfiguration": None}),
        (
            "ecs-task-image-pinned-by-digest",
            {"image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/miko:latest"},
        ),
    ],
)
def test_unsafe_container_is_reported(run_resource, policy_name, changes):
    messages = run_resource(policy_name, TASK_DEFINITION, task_definition(**changes))
    assert len(messages) == 1
    assert "container 'app'" in messages[0]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SUPABASE_ANON_KEY", "anything"),
        ("DATABASE_URL", "postgres://db.internal/miko"),
        ("SENTRY_DSN", "https://o1.ingest.sentry.io/2"),
        ("N8N_WEBHOOK_URL", "https://n8n.example.com/webhook/x"),
        ("GOOGLE_API_TOKEN", "x"),
        ("UPSTREAM", "postgres://miko:hunter2@db.internal:5432/miko"),  # pragma: allowlist secret
        ("UPSTREAM", "AIzaSyA-1234567890abcdefghijklmnopqrstu"),  # pragma: allowlist secret
        ("UPSTREAM", "AKIAIOSFODNN7EXAMPLE"),  # pragma: allowlist secret
        ("UPSTREAM", "[secret]"),
    ],
)
def test_secret_looking_plain_variable_is_reported_without_its_value(run_resource, name, value):
    environment = [*GOOD_CONTAINER["environment"], {"name": name, "value": value}]
    messages = run_resource(
        "ecs-task-no-plaintext-secrets", TASK_DEFINITION, task_definition(environment=environment)
    )
    assert len(messages) == 1
    assert name in messages[0]
    assert value not in messages[0]


def test_a_kms_key_id_is_not_a_secret(run_resource):
    key_id = {"name": "BACKUP_KMS_KEY_ID", "value": "arn:aws:kms:us-west-2:123456789012:key/k"}
    environment = [*GOOD_CONTAINER["environment"], key_id]
    messages = run_resource(
        "ecs-task-no-plaintext-secrets", TASK_DEFINITION, task_definition(environment=environment)
    )
    assert messages == []


def test_jwt_value_looks_like_a_credential():
    header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"  # pragma: allowlist secret
    payload = "eyJyb2xlIjoiYW5vbiIsImlzcyI6InN1cGFiYXNlIn0"  # pragma: allowlist secret
    assert looks_like_credential(f"{header}.{payload}.c2lnbmF0dXJlLXNpZ25hdHVyZQ")
    assert not looks_like_credential("https://www.example.com,https://app.example.com")


def test_unreadable_container_definitions_are_reported_once(run_resource):
    props = {"containerDefinitions": "[secret]"}
    reported = [name for name in TASK_POLICIES if run_resource(name, TASK_DEFINITION, props)]
    assert reported == ["ecs-task-no-plaintext-secrets"]


GOOD_SERVICE = {
    "networkConfiguration": {
        "assignPublicIp": False,
        "subnets": ["subnet-a"],
        "securityGroups": ["sg-1"],
    },
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
}


@pytest.mark.parametrize(
    "policy_name", ["ecs-service-no-public-ip", "ecs-service-circuit-breaker-rollback"]
)
def test_private_service_with_rollback_passes(run_resource, policy_name):
    assert run_resource(policy_name, SERVICE, GOOD_SERVICE) == []


def test_service_with_public_ip_is_reported(run_resource):
    props = {**GOOD_SERVICE, "networkConfiguration": {"assignPublicIp": True}}
    assert run_resource("ecs-service-no-public-ip", SERVICE, props)


@pytest.mark.parametrize(
    "breaker", [None, {"enable": True, "rollback": False}, {"enable": False, "rollback": True}]
)
def test_service_without_rollback_is_reported(run_resource, breaker):
    props = {**GOOD_SERVICE, "deploymentCircuitBreaker": breaker}
    assert run_resource("ecs-service-circuit-breaker-rollback", SERVICE, props)


GOOD_REPOSITORY = {
    "imageTagMutability": "IMMUTABLE",
    "imageScanningConfiguration": {"scanOnPush": True},
}


@pytest.mark.parametrize("policy_name", ["ecr-immutable-tags", "ecr-scan-on-push"])
def test_immutable_scanned_repository_passes(run_resource, policy_name):
    assert run_resource(policy_name, REPOSITORY, GOOD_REPOSITORY) == []


def test_mutable_repository_is_reported(run_resource):
    assert run_resource(
        "ecr-immutable-tags", REPOSITORY, {**GOOD_REPOSITORY, "imageTagMutability": "MUTABLE"}
    )
    assert run_resource("ecr-immutable-tags", REPOSITORY, {})


def test_repository_without_scan_on_push_is_reported(run_resource):
    assert run_resource("ecr-scan-on-push", REPOSITORY, {"imageTagMutability": "IMMUTABLE"})
