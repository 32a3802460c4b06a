"""The ECS service: hardened task, secrets by valueFrom, image by digest, deployments, scaling."""

import json
import re
from pathlib import Path

import pytest

from components.app_container import container_definitions
from components.containers import execution_role_policy
from components.service import deployment_trigger
from config.secrets import APP_INTEGRATIONS, INTEGRATION_SECRETS
from tests.rendered_tasks import main_container

from .conftest import DUMMY_SECRETS

SECRET_VARIABLES = sorted(
    variable for name in APP_INTEGRATIONS for variable in INTEGRATION_SECRETS[name]
)


def container(rendering):
    task = rendering.get("aws:ecs/taskDefinition:TaskDefinition", "app-task")
    return main_container(task.inputs["containerDefinitions"])


def service(rendering):
    return rendering.get("aws:ecs/service:Service", "app-service")


def test_task_is_hardened(rendering):
    app = container(rendering)
    assert app["readonlyRootFilesystem"] is True
    assert app["user"] == "10001:10001"
    assert app["privileged"] is False
    assert app["linuxParameters"]["capabilities"] == {"drop": ["ALL"]}
    assert app["mountPoints"] == [
        {"containerPath": "/tmp", "readOnly": False, "sourceVolume": "tmp"}
    ]
    assert app["portMappings"] == [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}]
    assert app["stopTimeout"] == 30
    assert "/health" in app["healthCheck"]["command"][-1]
    task = rendering.get("aws:ecs/taskDefinition:TaskDefinition", "app-task")
    assert task.inputs["volumes"] == [{"name": "tmp"}]
    assert task.inputs["requiresCompatibilities"] == ["FARGATE"]
    assert task.inputs["networkMode"] == "awsvpc"


def test_container_user_matches_the_dockerfile():
    dockerfile = (Path(__file__).resolve().parents[2] / "app" / "Dockerfile").read_text()
    assert "USER 10001:10001" in dockerfile


def test_task_size_per_stack(staging, prod):
    sizes = {
        r.stack: (
            r.get("aws:ecs/taskDefinition:TaskDefinition", "app-task").inputs["cpu"],
            r.get("aws:ecs/taskDefinition:TaskDefinition", "app-task").inputs["memory"],
        )
        for r in (staging, prod)
    }
    assert sizes == {"staging": ("256", "512"), "prod": ("512", "1024")}


def test_secrets_come_by_value_from_and_never_through_the_environment(rendering):
    app = container(rendering)
    assert [entry["name"] for entry in app["secrets"]] == SECRET_VARIABLES
    arns = rendering.exports["secret_arns"]
    for entry in app["secrets"]:
        integration = next(
            i for i, variables in INTEGRATION_SECRETS.items() if entry["name"] in variables
        )
        assert entry["valueFrom"] == f"{arns[integration]}:{entry['name']}::"
    environment = {item["name"]: item["value"] for item in app["environment"]}
    assert not set(environment) & set(SECRET_VARIABLES)
    assert not any(value in str(environment) for value in DUMMY_SECRETS.values())
    assert environment["PORT"] == "8080"
    assert environment["WEB_CONCURRENCY"] == "1"
    assert environment["APP_ENV"] == {"staging": "staging", "prod": "production"}[rendering.stack]
    assert environment["KEEPALIVE_TIMEOUT_SECONDS"] == "960"
    assert environment["SHUTDOWN_GRACE_SECONDS"] == "20"


def test_image_is_run_by_digest(rendering):
    assert container(rendering)["image"] == rendering.exports["image_ref"]
    assert "@sha256:" in container(rendering)["image"]


def test_the_built_image_is_the_one_run(staging):
    image = staging.get("docker:index/image:Image", "image-image")
    assert container(staging)["image"] == image.outputs["repoDigest"]


def test_logs_go_to_an_encrypted_group_with_retention(staging, prod):
    for rendering, retention in ((staging, 14), (prod, 365)):
        group = rendering.get("aws:cloudwatch/logGroup:LogGroup", "app-logs")
        assert group.inputs["retentionInDays"] == retention
        assert (
            group.inputs["kmsKeyId"]
            == rendering.get("aws:kms/key:Key", "secrets-key").outputs["arn"]
        )
        options = container(rendering)["logConfiguration"]["options"]
        assert options["awslogs-group"] == group.inputs["name"]


def test_service_runs_in_private_subnets_with_safe_deployments(rendering):
    inputs = service(rendering).inputs
    network = inputs["networkConfiguration"]
    assert network["assignPublicIp"] is False
    private = [
        s.outputs["id"]
        for s in rendering.of_type("aws:ec2/subnet:Subnet")
        if s.inputs["tags"]["tier"] == "private"
    ]
    assert network["subnets"] == private
    assert network["securityGroups"] == ["network-tasks-id"]
    assert inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert inputs["deploymentMinimumHealthyPercent"] == 100
    assert inputs["deploymentMaximumPercent"] == 200
    assert inputs["healthCheckGracePeriodSeconds"] == 60
    prefix = f"miko-{rendering.stack}"
    assert inputs["alarms"] == {
        "enable": True,
        "rollback": True,
        "alarmNames": [f"{prefix}-http-5xx-critical", f"{prefix}-latency-p95-critical"],
    }
    alarm_names = {
        r.inputs["name"] for r in rendering.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert set(inputs["alarms"]["alarmNames"]) <= alarm_names


def test_autoscaling_owns_the_desired_count(rendering):
    assert service(rendering).ignore_changes == ("desiredCount",)
    target = rendering.get("aws:appautoscaling/target:Target", "app-scaling")
    expected = {"staging": (1, 2), "prod": (2, 6)}[rendering.stack]
    assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == expected
    assert service(rendering).inputs["desiredCount"] == expected[0]
    assert (
        target.inputs["resourceId"] == f"service/miko-{rendering.stack}/miko-{rendering.stack}-app"
    )


def test_scaling_tracks_cpu_and_requests_per_target(rendering):
    policies = {
        p.name: p.inputs["targetTrackingScalingPolicyConfiguration"]
        for p in rendering.of_type("aws:appautoscaling/policy:Policy")
    }
    cpu = policies["app-scale-on-cpu"]["predefinedMetricSpecification"]
    assert cpu == {"predefinedMetricType": "ECSServiceAverageCPUUtilization"}
    requests = policies["app-scale-on-requests"]["predefinedMetricSpecification"]
    alb = rendering.get("aws:lb/loadBalancer:LoadBalancer", "load-balancer-alb").outputs[
        "arnSuffix"
    ]
    group = rendering.get("aws:lb/targetGroup:TargetGroup", "load-balancer-app").outputs[
        "arnSuffix"
    ]
    assert requests == {
        "predefinedMetricType": "ALBRequestCountPerTarget",
        "resourceLabel": f"{alb}/{group}",
    }


def test_a_new_secret_value_rolls_the_service_and_only_the_service(staging, render_with):
    rotated = render_with(
        "staging", secrets={**DUMMY_SECRETS, "supabaseAnonKey": "dummy-rotated-4b2d"}
    )
    before, after = service(staging).inputs, service(rotated).inputs
    assert before["forceNewDeployment"] is True
    assert before["triggers"] != after["triggers"]
    # The secret version's own change is hidden behind `[secret]`; the task definition (which
    # references the secret by ARN) is untouched, so only the service shows a visible diff.
    changed = {r.urn for r in rotated.resources if r.inputs != staging.by_urn(r.urn).inputs}
    assert changed == {service(staging).urn}


def test_execution_role_reads_only_this_services_secrets_and_key(rendering):
    policy = json.loads(
        rendering.get("aws:iam/rolePolicy:RolePolicy", "app-execution").inputs["policy"]
    )
    by_action = {json.dumps(s["Action"]): s["Resource"] for s in policy["Statement"]}
    app_secret_arns = [rendering.exports["secret_arns"][name] for name in APP_INTEGRATIONS]
    assert sorted(by_action['"secretsmanager:GetSecretValue"']) == sorted(app_secret_arns)
    assert (
        by_action['"kms:Decrypt"'] == rendering.get("aws:kms/key:Key", "secrets-key").outputs["arn"]
    )
    assert all(
        resource != "*"
        for action, resource in by_action.items()
        if action != '"ecr:GetAuthorizationToken"'
    )
    # The app's own identity may touch the asset archive's `assets/` objects and nothing else.
    task_role = rendering.get("aws:iam/role:Role", "app-task")
    (task_policy,) = [
        p
        for p in rendering.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.inputs["role"] == task_role.outputs["id"]
    ]
    bucket = rendering.get("aws:s3/bucket:Bucket", "release-assets-bucket").outputs["arn"]
    statements = json.loads(task_policy.inputs["policy"])["Statement"]
    s3_resources = {
        resource
        for statement in statements
        if any(action.startswith("s3:") for action in statement["Action"])
        for resource in statement["Resource"]
    }
    assert s3_resources == {f"{bucket}/assets/*"}


def test_cluster_has_container_insights(rendering):
    cluster = rendering.get("aws:ecs/cluster:Cluster", "app-cluster")
    assert cluster.inputs["settings"] == [{"name": "containerInsights", "value": "enabled"}]


@pytest.mark.parametrize("order", [lambda xs: xs, lambda xs: list(reversed(xs))])
def test_container_definitions_are_deterministic(order):
    secrets = [{"name": "B", "valueFrom": "arn:b"}, {"name": "A", "valueFrom": "arn:a"}]
    text = container_definitions(
        image="repo@sha256:abc",
        environment=dict(order([("Z", "1"), ("A", "2")])),
        secrets=order(secrets),
        log_group="/g",
        region="us-west-2",
        stop_timeout_seconds=30,
    )
    assert text == container_definitions(
        image="repo@sha256:abc",
        environment={"A": "2", "Z": "1"},
        secrets=secrets,
        log_group="/g",
        region="us-west-2",
        stop_timeout_seconds=30,
    )
    assert [item["name"] for item in json.loads(text)[0]["secrets"]] == ["A", "B"]


def test_deployment_trigger_is_order_independent():
    assert (
        deployment_trigger({"b": "2", "a": "1"})
        == deployment_trigger({"a": "1", "b": "2"})
        == "a=1,b=2"
    )


def test_execution_policy_names_only_the_given_resources():
    policy = json.loads(
        execution_role_policy(
            repository_arn="arn:repo",
            log_group_arn="arn:logs",
            secret_arns=["arn:s2", "arn:s1"],
            kms_key_arn="arn:key",
        )
    )
    resources = [s["Resource"] for s in policy["Statement"]]
    assert resources == ["*", "arn:repo", "arn:logs:*", ["arn:s1", "arn:s2"], "arn:key"]


# --- tracing: the collector sidecar and its X-Ray permissions --------------------------------


def containers_of(rendering):
    task = rendering.get("aws:ecs/taskDefinition:TaskDefinition", "app-task")
    return {c["name"]: c for c in json.loads(task.inputs["containerDefinitions"])}


def task_role_statements(rendering):
    policy = rendering.get("aws:iam/rolePolicy:RolePolicy", "app-task").inputs["policy"]
    return json.loads(policy)["Statement"]


def test_the_collector_sidecar_runs_beside_the_app(rendering):
    from components.trace_collector import (  # noqa: PLC0415
        COLLECTOR_IMAGE,
        COLLECTOR_NAME,
        CONFIG_VARIABLE,
    )

    task = rendering.get("aws:ecs/taskDefinition:TaskDefinition", "app-task")
    containers = containers_of(rendering)
    assert sorted(containers) == sorted(["app", COLLECTOR_NAME])
    collector, app = containers[COLLECTOR_NAME], containers["app"]

    assert collector["image"] == COLLECTOR_IMAGE
    assert "@sha256:" in collector["image"]
    assert collector["essential"] is False
    assert app["essential"] is True
    assert collector["readonlyRootFilesystem"] is True
    assert collector["user"] == "4317:4317"
    assert collector["privileged"] is False
    assert collector["linuxParameters"]["capabilities"] == {"drop": ["ALL"]}
    assert collector["mountPoints"] == []
    assert collector["healthCheck"]["command"] == ["CMD", "/healthcheck"]
    # Its own log stream in the app's group.
    options = collector["logConfiguration"]["options"]
    assert options["awslogs-stream-prefix"] == COLLECTOR_NAME
    assert options["awslogs-group"] == app["logConfiguration"]["options"]["awslogs-group"]
    # Carved out of the task's size; the app starts once the collector has.
    assert collector["cpu"] + app["cpu"] == int(task.inputs["cpu"])
    assert collector["memory"] + app["memoryReservation"] == int(task.inputs["memory"])
    assert app["dependsOn"] == [{"containerName": COLLECTOR_NAME, "condition": "START"}]
    # The pipeline: OTLP/HTTP on loopback only, to X-Ray in the stack's region.
    config = json.loads(
        next(e["value"] for e in collector["environment"] if e["name"] == CONFIG_VARIABLE)
    )
    assert config["receivers"] == {"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:4318"}}}}
    assert config["exporters"]["awsxray"]["region"] == "us-west-2"
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["awsxray"]
    assert "0.0.0.0" not in json.dumps(config)  # noqa: S104 - asserting its absence
    assert config["processors"]["memory_limiter"]["limit_mib"] < collector["memory"]


def test_the_task_role_may_write_traces_and_nothing_more_of_x_ray(rendering):
    xray = [
        statement
        for statement in task_role_statements(rendering)
        if any(str(action).startswith("xray:") for action in statement["Action"])
    ]
    assert xray == [
        {
            "Effect": "Allow",
            "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
            "Resource": "*",
        }
    ]


def test_tracing_disabled_means_no_sidecar_and_no_x_ray_permission(render_with):
    rendering = render_with("prod", {"tracingEnabled": False})
    containers = containers_of(rendering)
    assert list(containers) == ["app"]
    assert "dependsOn" not in containers["app"]
    assert "cpu" not in containers["app"]
    env = {e["name"]: e["value"] for e in containers["app"]["environment"]}
    assert env["TRACING_SAMPLE_RATE"] == "0"
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env
    statements = task_role_statements(rendering)
    assert not [s for s in statements if "xray" in json.dumps(s["Action"])]


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"tracingSampleRate": "1.5"}, "tracingSampleRate"),
        ({"tracingSampleRate": "0"}, "must be above 0 with tracingEnabled"),
        ({"tracingCollectorCpu": 200}, "tracingCollectorCpu: 200 is more than half of taskCpu"),
        ({"tracingCollectorMemoryMib": 256}, "more than a quarter of taskMemory"),
        ({"natMode": "none", "vpcEndpoints": True}, "tracingEnabled: natMode 'none'"),
    ],
)
def test_tracing_config_problems_are_refused(render_with, config, problem):
    from plan.render import RenderFailed  # noqa: PLC0415

    with pytest.raises(RenderFailed, match=re.escape(problem)):
        render_with("staging", config)
