import json
from typing import Any

import pytest

from policies.compute import looks_like_credential
from tests.policies.conftest import KEY_ARN, stack_resource

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
    "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KEY_ARN}],
}


@pytest.mark.parametrize("policy_name", ["ecr-immutable-tags", "ecr-scan-on-push"])
def test_immutable_scanned_repository_passes(run_resource, policy_name):
    assert run_resource(policy_name, REPOSITORY, GOOD_REPOSITORY) == []


def test_mutable_repository_is_reported(run_resource):
    assert run_resource(
        "ecr-immutable-tags", REPOSITORY, {**GOOD_REPOSITORY, "imageTagMutability": "MUTABLE"}
    )
    assert run_resource("ecr-immutable-tags", REPOSITORY, {})


def test_repository_with_customer_key_passes(run_resource):
    assert run_resource("ecr-customer-kms-key", REPOSITORY, GOOD_REPOSITORY) == []


@pytest.mark.parametrize(
    ("configurations", "named"),
    [
        (None, "AES256"),
        ([{"encryptionType": "AES256"}], "AES256"),
        ([{"encryptionType": "KMS"}], "AWS managed aws/ecr key"),
    ],
)
def test_repository_without_customer_key_is_reported(run_resource, configurations, named):
    props = {**GOOD_REPOSITORY, "encryptionConfigurations": configurations}
    messages = run_resource("ecr-customer-kms-key", REPOSITORY, props)
    assert len(messages) == 1
    assert named in messages[0]
    assert "FSBP ECR.5" in messages[0]


def test_repository_without_scan_on_push_is_reported(run_resource):
    assert run_resource("ecr-scan-on-push", REPOSITORY, {"imageTagMutability": "IMMUTABLE"})


# FSBP ECS.1 (network part), ECS.3, ECS.10, ECS.12, ECR.3 (Security Hub user guide, June 2023)
# and ECS.17 (newer).
CLUSTER = "aws:ecs/cluster:Cluster"
LIFECYCLE_POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy"


@pytest.mark.parametrize(
    "modes", [{"networkMode": "awsvpc"}, {"networkMode": "awsvpc", "pidMode": "task"}, {}]
)
def test_task_with_private_namespaces_passes(run_resource, modes):
    props = {"containerDefinitions": json.dumps([GOOD_CONTAINER]), **modes}
    assert run_resource("ecs-task-host-namespaces-isolated", TASK_DEFINITION, props) == []


@pytest.mark.parametrize(
    ("prop", "control"),
    [("networkMode", "ECS.17"), ("pidMode", "ECS.3"), ("ipcMode", "IPC namespace")],
)
def test_task_sharing_a_host_namespace_is_reported(run_resource, prop, control):
    props = {"containerDefinitions": json.dumps([GOOD_CONTAINER]), prop: "host"}
    [message] = run_resource(
        "ecs-task-host-namespaces-isolated", TASK_DEFINITION, props, name="app-task"
    )
    assert message.startswith(f"Task definition 'app-task' sets {prop} 'host'")
    assert control in message


@pytest.mark.parametrize(
    "props",
    [
        {"launchType": "FARGATE"},
        {"launchType": "FARGATE", "platformVersion": "LATEST"},
        {"launchType": "EC2", "platformVersion": "1.3.0"},
    ],
)
def test_service_on_the_latest_platform_passes(run_resource, props):
    assert run_resource("ecs-fargate-latest-platform", SERVICE, props) == []


@pytest.mark.parametrize(
    "props",
    [
        {"launchType": "FARGATE", "platformVersion": "1.3.0"},
        {
            "capacityProviderStrategies": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
            "platformVersion": "1.4.0",
        },
    ],
)
def test_service_pinning_an_old_platform_is_reported(run_resource, props):
    [message] = run_resource("ecs-fargate-latest-platform", SERVICE, props, name="app-service")
    assert message.startswith("Service 'app-service' pins Fargate platform version")
    assert "ECS.10" in message


@pytest.mark.parametrize("value", ["enabled", "enhanced"])
def test_cluster_with_container_insights_passes(run_resource, value):
    props = {"settings": [{"name": "containerInsights", "value": value}]}
    assert run_resource("ecs-cluster-container-insights", CLUSTER, props) == []


@pytest.mark.parametrize(
    "settings", [None, [], [{"name": "containerInsights", "value": "disabled"}]]
)
def test_cluster_without_container_insights_is_reported(run_resource, settings):
    [message] = run_resource(
        "ecs-cluster-container-insights", CLUSTER, {"settings": settings}, name="app-cluster"
    )
    assert message.startswith("Cluster 'app-cluster' must turn Container Insights on")
    assert "ECS.12" in message


def _repository():
    return stack_resource(
        REPOSITORY,
        {"name": "miko-staging-app", "imageTagMutability": "IMMUTABLE"},
        name="image-repository",
    )


def test_repository_with_lifecycle_policy_passes(run_stack):
    repository = _repository()
    by_dependency = stack_resource(
        LIFECYCLE_POLICY,
        {"repository": "unknown-at-preview", "policy": "{}"},
        name="image-lifecycle",
        depends_on={"repository": [repository]},
    )
    by_name = stack_resource(LIFECYCLE_POLICY, {"repository": "miko-staging-app"}, name="by-name")
    assert run_stack("ecr-lifecycle-policy", [repository, by_dependency]) == []
    assert run_stack("ecr-lifecycle-policy", [repository, by_name]) == []


def test_repository_without_lifecycle_policy_is_reported(run_stack):
    repository = _repository()
    other = stack_resource(LIFECYCLE_POLICY, {"repository": "another-repo"}, name="other")
    [(message, urn)] = run_stack("ecr-lifecycle-policy", [repository, other])
    assert urn == repository.urn
    assert message.startswith("ECR repository 'image-repository' has no lifecycle policy")
    assert "ECR.3" in message
