"""The failed-deployment event rule (Alarms' child): an ECS event, not a metric signal.

ECS reports a failed deployment (circuit breaker or alarm rollback) as an event. The service
rolled back to the running version, so this is a warning, not a page; the critical rate and
latency alarms page if the failed rollout hurt users.
"""

import json

import pulumi
import pulumi_aws as aws

from components.runbooks import RULE_DESCRIPTION_MAX, alarm_description, runbook_link

DEPLOYMENT_FAILED_KEY = "deployment-failed"
"""The rule's `alarm` tag and its key in Alarms.alarm_names."""


def create_deployment_failed_rule(
    name: str,
    rule_name: str,
    *,
    cluster_name: pulumi.Input[str],
    service_name: pulumi.Input[str],
    warning_topic_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> aws.cloudwatch.EventRule:
    """The rule matching this service's failed deployments, notifying the warning topic."""
    rule = aws.cloudwatch.EventRule(
        f"{name}-{DEPLOYMENT_FAILED_KEY}",
        name=rule_name,
        description=alarm_description(
            "An ECS deployment of the service failed and was rolled back",
            DEPLOYMENT_FAILED_KEY,
            limit=RULE_DESCRIPTION_MAX,
        ),
        event_pattern=pulumi.Output.all(cluster_name, service_name).apply(
            lambda values: _deployment_failed_pattern(values[0], values[1])
        ),
        tags={"alarm": DEPLOYMENT_FAILED_KEY},
        opts=opts,
    )
    aws.cloudwatch.EventTarget(
        f"{name}-{DEPLOYMENT_FAILED_KEY}-target",
        rule=rule.name,
        arn=warning_topic_arn,
        target_id="alarm-topic",
        input_transformer={
            "input_paths": {
                "service": "$.resources[0]",
                "reason": "$.detail.reason",
                "time": "$.time",
            },
            "input_template": (
                '"ECS deployment failed for <service> at <time>: <reason>. '
                f'Runbook: {runbook_link(DEPLOYMENT_FAILED_KEY)}"'
            ),
        },
        opts=opts,
    )
    return rule


def _deployment_failed_pattern(cluster_name: str, service_name: str) -> str:
    return json.dumps(
        {
            "source": ["aws.ecs"],
            "detail-type": ["ECS Deployment State Change"],
            "resources": [{"suffix": f":service/{cluster_name}/{service_name}"}],
            "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]},
        },
        sort_keys=True,
    )
