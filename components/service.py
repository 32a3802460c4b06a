"""The ECS Fargate service running the app image behind the load balancer.

The task runs read-only, as the image's non-root user (uid 10001), with every Linux capability
dropped; secrets arrive through `valueFrom`, never the plain environment. Deployments keep full
capacity (100 % / 200 %), roll back on the circuit breaker or on the named alarms, and a new
secret version starts one. Autoscaling owns the desired count and tracks CPU and requests per
target.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.containers import (
    ECS_TASKS_SERVICE,
    execution_role_policy,
    fargate_task_definition,
    hardened_container,
    serialise,
)
from components.policy_documents import assume_role_policy
from components.settings import APP_PORT, ServiceSettings

CONTAINER_NAME = "app"
HEALTH_COMMAND = (
    "import os, urllib.request as r; "
    "r.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8080'), timeout=4)"
)


@dataclass
class AppServiceArgs:
    prefix: str
    region: str
    image_ref: pulumi.Input[str]
    """Image by digest (`repo@sha256:...`)."""
    repository_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    container_secrets: pulumi.Input[Sequence[Mapping[str, str]]]
    """`secrets` entries (name + valueFrom) of the container definition."""
    secret_arns: pulumi.Input[Mapping[str, str]]
    secret_version_ids: pulumi.Input[Mapping[str, str]]
    """A change in any of these starts a new deployment (secret rotation)."""
    environment: Mapping[str, str]
    """Plain, non-secret container environment."""
    private_subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    target_group_arn: pulumi.Input[str]
    listener: pulumi.Resource
    alb_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    settings: ServiceSettings
    """Sizes, scaling targets, timings and log retention from stack config."""
    rollback_alarm_names: Sequence[str]


def container_definitions(
    *,
    image: str,
    environment: Mapping[str, str],
    secrets: Sequence[Mapping[str, str]],
    log_group: str,
    region: str,
    stop_timeout_seconds: int,
) -> str:
    """The app container: the hardened baseline, its port and its liveness check."""
    container = hardened_container(
        name=CONTAINER_NAME,
        image=image,
        environment=environment,
        secrets=secrets,
        log_group=log_group,
        region=region,
        stop_timeout_seconds=stop_timeout_seconds,
    )
    container["portMappings"] = [
        {"containerPort": APP_PORT, "hostPort": APP_PORT, "protocol": "tcp"}
    ]
    container["healthCheck"] = {
        "command": ["CMD", "python", "-c", HEALTH_COMMAND],
        "interval": 30,
        "timeout": 5,
        "retries": 3,
        "startPeriod": 15,
    }
    return serialise([container])


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
            triggers={
                "secret-versions": pulumi.Output.from_input(args.secret_version_ids).apply(
                    deployment_trigger
                )
            },
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
        self._create_autoscaling(cluster, service)
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
        execution = aws.iam.Role(
            f"{self._name}-execution",
            description="ECS pulls the image, writes logs and reads secrets for the app task",
            assume_role_policy=assume_role_policy(ECS_TASKS_SERVICE),
            opts=self._child,
        )
        aws.iam.RolePolicy(
            f"{self._name}-execution",
            role=execution.id,
            policy=pulumi.Output.all(
                args.repository_arn, log_group.arn, args.secret_arns, args.kms_key_arn
            ).apply(
                lambda values: execution_role_policy(
                    repository_arn=values[0],
                    log_group_arn=values[1],
                    secret_arns=list(values[2].values()),
                    kms_key_arn=values[3],
                )
            ),
            opts=self._child,
        )
        # The app calls no AWS API: its task role has no permissions at all.
        task = aws.iam.Role(
            f"{self._name}-task",
            description="Identity of the app's containers (no AWS permissions)",
            assume_role_policy=assume_role_policy(ECS_TASKS_SERVICE),
            opts=self._child,
        )
        return execution, task

    def _create_task_definition(self, log_group: aws.cloudwatch.LogGroup) -> aws.ecs.TaskDefinition:
        args = self._args
        execution, task = self._create_roles(log_group)
        definitions = pulumi.Output.all(
            args.image_ref, args.container_secrets, log_group.name
        ).apply(
            lambda values: container_definitions(
                image=values[0],
                environment=args.environment,
                secrets=values[1],
                log_group=values[2],
                region=args.region,
                stop_timeout_seconds=args.settings.container_stop_timeout_seconds,
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

    def _create_autoscaling(self, cluster: aws.ecs.Cluster, service: aws.ecs.Service) -> None:
        args = self._args
        target = aws.appautoscaling.Target(
            f"{self._name}-scaling",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
            min_capacity=args.settings.min_tasks,
            max_capacity=args.settings.max_tasks,
            opts=self._child,
        )
        request_label = pulumi.Output.concat(args.alb_arn_suffix, "/", args.target_group_arn_suffix)
        sizing = args.settings
        policies: list[tuple[str, str, pulumi.Input[str] | None, int]] = [
            ("cpu", "ECSServiceAverageCPUUtilization", None, sizing.cpu_target_percent),
            ("requests", "ALBRequestCountPerTarget", request_label, sizing.requests_per_target),
        ]
        for role, metric, label, target_value in policies:
            aws.appautoscaling.Policy(
                f"{self._name}-scale-on-{role}",
                name=f"{args.prefix}-scale-on-{role}",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                    target_value=target_value,
                    predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                        predefined_metric_type=metric, resource_label=label
                    ),
                    scale_in_cooldown=300,
                    scale_out_cooldown=60,
                ),
                opts=self._child,
            )
