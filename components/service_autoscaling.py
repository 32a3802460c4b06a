"""Autoscaling of the app service: its task count tracks CPU and requests per target.

The scalable target owns the service's desired count (the service ignores changes to it), so a
deploy never resets the number of running tasks.
"""

import pulumi
import pulumi_aws as aws

from config.sections import ServiceSettings

# Scale out within a minute of load; scale in only after five quiet minutes.
SCALE_OUT_COOLDOWN_SECONDS = 60
SCALE_IN_COOLDOWN_SECONDS = 300


def create_autoscaling(
    name: str,
    *,
    prefix: str,
    settings: ServiceSettings,
    service_resource_id: pulumi.Input[str],
    request_count_label: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> None:
    """The target (min..max tasks) and one target-tracking policy per metric."""
    target = aws.appautoscaling.Target(
        f"{name}-scaling",
        service_namespace="ecs",
        scalable_dimension="ecs:service:DesiredCount",
        resource_id=service_resource_id,
        min_capacity=settings.min_tasks,
        max_capacity=settings.max_tasks,
        opts=opts,
    )
    policies: list[tuple[str, str, pulumi.Input[str] | None, int]] = [
        ("cpu", "ECSServiceAverageCPUUtilization", None, settings.cpu_target_percent),
        ("requests", "ALBRequestCountPerTarget", request_count_label, settings.requests_per_target),
    ]
    for role, metric, label, target_value in policies:
        aws.appautoscaling.Policy(
            f"{name}-scale-on-{role}",
            name=f"{prefix}-scale-on-{role}",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=target_value,
                predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type=metric, resource_label=label
                ),
                scale_in_cooldown=SCALE_IN_COOLDOWN_SECONDS,
                scale_out_cooldown=SCALE_OUT_COOLDOWN_SECONDS,
            ),
            opts=opts,
        )
