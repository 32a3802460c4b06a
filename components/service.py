"""The ECS Fargate service running the app image behind the load balancer.

The task runs read-only, as the image's non-root user (uid 10001), with every Linux capability
dropped; secrets arrive through `valueFrom`, never the plain environment. Deployments keep full
capacity (100 % / 200 %), roll back on the circuit breaker or on the named alarms, and a new
secret version starts one. Autoscaling (service_autoscaling.py) owns the desired count and tracks
CPU and requests per target; the container and its environment are built in app_container.py.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from app.contract import APP_PORT
from components.app_container import (
    CONTAINER_NAME,
    Release,
    app_environment,
    container_definitions,
)
from components.asset_archive import task_access_statements
from components.containers import ECS_TASKS_SERVICE, execution_policy, fargate_task_definition
from components.iam_roles import service_role
from components.secrets_store import SecretScope
from components.service_autoscaling import create_autoscaling
from components.trace_collector import tracing_statements
from config.sections import FrontendSettings, ServiceSettings, TimingSettings, TracingSettings


@dataclass
class AppServiceArgs:
    prefix: str
    region: str
    image_ref: pulumi.Input[str]
    """Image by digest (`repo@sha256:...`)."""
    repository_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    secrets: SecretScope
    """The app's integration secrets; a new version of any starts a deployment (rotation)."""
    environment: str
    """The app's APP_ENV (staging | production)."""
    version: str
    """The release the app reports (APP_VERSION)."""
    private_subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    target_group_arn: pulumi.Input[str]
    listener: pulumi.Resource
    alb_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    settings: ServiceSettings
    """Sizes, scaling targets, log retention and the app's own settings from stack config."""
    timings: TimingSettings
    """Keep-alive, idle and stop timeouts: the app gets the infrastructure's values too."""
    frontend: FrontendSettings
    """The SPA's runtime configuration routes and CSP mode, passed to the app."""
    asset_archive_bucket_name: pulumi.Input[str]
    asset_archive_bucket_arn: pulumi.Input[str]
    """Earlier releases' assets (skew protection): the task reads and writes its `assets/`."""
    rollback_alarm_names: Sequence[str]
    tracing: TracingSettings | None = None
    """Tracing to X-Ray through the collector sidecar (components/trace_collector.py); None or
    disabled: no sidecar, no X-Ray permission, TRACING_SAMPLE_RATE=0."""


def deployment_trigger(version_ids: Mapping[str, str]) -> str:
    """One stable string of every secret's current version: changes when any secret does."""
    return ",".join(f"{name}={version_ids[name]}" for name in sorted(version_ids))


class AppService(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    service_name: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    task_definition_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: AppServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:service:AppService", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            name=args.prefix,
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled")],
            opts=self._child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/{args.prefix}/app",
            retention_in_days=args.settings.log_retention_days,
            kms_key_id=args.kms_key_arn,
            opts=self._child,
        )
        task_definition = self._create_task_definition(log_group)
        service = aws.ecs.Service(
            f"{name}-service",
            name=f"{args.prefix}-app",
            cluster=cluster.arn,
            task_definition=task_definition.arn,
            launch_type="FARGATE",
            desired_count=args.settings.min_tasks,
            # Spread tasks evenly across the private subnets' zones.
            availability_zone_rebalancing="ENABLED",
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=list(args.private_subnet_ids),
                security_groups=[args.security_group_id],
                assign_public_ip=False,
            ),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=args.target_group_arn,
                    container_name=CONTAINER_NAME,
                    container_port=APP_PORT,
                )
            ],
            health_check_grace_period_seconds=args.settings.health_check_grace_seconds,
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(
                enable=True, rollback=True
            ),
            alarms=aws.ecs.ServiceAlarmsArgs(
                alarm_names=list(args.rollback_alarm_names), enable=True, rollback=True
            ),
            # Tasks read secrets only at start: a new secret version must start a deployment.
            triggers={"secret-versions": args.secrets.version_ids.apply(deployment_trigger)},
            force_new_deployment=True,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            enable_execute_command=False,
            opts=pulumi.ResourceOptions(
                parent=self,
                # A target group must be attached to a listener before a service can use it.
                depends_on=[args.listener],
                # Autoscaling owns the running count; a deploy must not reset it.
                ignore_changes=["desiredCount"],
            ),
        )
        create_autoscaling(
            name,
            prefix=args.prefix,
            settings=args.settings,
            service_resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
            request_count_label=pulumi.Output.concat(
                args.alb_arn_suffix, "/", args.target_group_arn_suffix
            ),
            opts=self._child,
        )
        self.cluster_name = cluster.name
        self.cluster_arn = cluster.arn
        self.service_name = service.name
        self.log_group_name = log_group.name
        self.task_definition_arn = task_definition.arn
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "service_name": self.service_name,
                "log_group_name": self.log_group_name,
                "task_definition_arn": self.task_definition_arn,
            }
        )

    def _create_roles(
        self, log_group: aws.cloudwatch.LogGroup
    ) -> tuple[aws.iam.Role, aws.iam.Role]:
        args = self._args
        execution = service_role(
            f"{self._name}-execution",
            service=ECS_TASKS_SERVICE,
            description="ECS pulls the image, writes logs and reads secrets for the app task",
            policy=execution_policy(
                repository_arn=args.repository_arn,
                log_group_arn=log_group.arn,
                secret_arns=args.secrets.secret_arns,
                kms_key_arn=args.kms_key_arn,
            ),
            opts=self._child,
        )
        # The app's AWS APIs: the asset archive (publish this release's assets, read earlier
        # releases' ones), limited to its `assets/` prefix; with tracing, the collector sidecar's
        # X-Ray writes.
        xray = tracing_statements(args.tracing) if args.tracing is not None else []
        task = service_role(
            f"{self._name}-task",
            service=ECS_TASKS_SERVICE,
            description=(
                "Identity of the app's containers (the asset archive"
                + (", X-Ray traces)" if xray else " only)")
            ),
            policy=pulumi.Output.all(args.asset_archive_bucket_arn, args.kms_key_arn).apply(
                lambda arns: json.dumps(
                    {"Version": "2012-10-17", "Statement": task_access_statements(*arns) + xray},
                    sort_keys=True,
                )
            ),
            opts=self._child,
        )
        return execution, task

    def _create_task_definition(self, log_group: aws.cloudwatch.LogGroup) -> aws.ecs.TaskDefinition:
        args = self._args
        execution, task = self._create_roles(log_group)
        definitions = pulumi.Output.all(
            args.image_ref,
            args.secrets.container_secrets,
            log_group.name,
            args.asset_archive_bucket_name,
        ).apply(
            lambda values: container_definitions(
                image=values[0],
                environment=app_environment(
                    args.environment,
                    Release(args.version, values[0]),
                    settings=args.settings,
                    timings=args.timings,
                    frontend=args.frontend,
                    asset_archive_bucket=values[3],
                    tracing=args.tracing,
                    log_group=values[2],
                ),
                secrets=values[1],
                log_group=values[2],
                region=args.region,
                stop_timeout_seconds=args.timings.container_stop_timeout_seconds,
                tracing=args.tracing,
                task_size=(args.settings.task_cpu, args.settings.task_memory),
            )
        )
        return fargate_task_definition(
            f"{self._name}-task",
            family=f"{args.prefix}-app",
            cpu=args.settings.task_cpu,
            memory=args.settings.task_memory,
            execution_role_arn=execution.arn,
            task_role_arn=task.arn,
            container_definitions=definitions,
            opts=self._child,
        )
