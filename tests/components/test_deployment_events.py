"""The failed-deployment rule, evaluated on moto's event bus against AWS's documented events.

Source of truth: the sample events of "Amazon ECS service deployment state change events"
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_deployment_events.html),
copied below as published: an initial deployment in progress, a rollback in progress, a
completed deployment and a failed one, all of the service `servicetest` of the cluster
`default`. The tests put them on moto's EventBridge, where a rule carries the rendered pattern
and an SQS queue is its target with the rendered input transformer, and read what the queue
received. The events of "this service" are the documented ones with `resources` naming the
stack's rendered cluster and service, in the documented ARN form.
"""

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from components.deployment_events import DEPLOYMENT_FAILED_KEY
from plan.render import Rendering

RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
REGION = "us-west-2"
ACCOUNT = "111122223333"
RULE_NAME = f"alarms-{DEPLOYMENT_FAILED_KEY}"

# The documented samples, verbatim (backquoted placeholders of the page left as printed).
IN_PROGRESS_INITIAL = """
{
   "version": "0",
   "id": "ddca6449-b258-46c0-8653-e0e3a6EXAMPLE",
   "detail-type": "ECS Deployment State Change",
   "source": "aws.ecs",
   "account": "111122223333",
   "time": "2020-05-23T12:31:14Z",
   "region": "us-west-2",
   "resources": [
        "arn:aws:ecs:us-west-2:111122223333:service/default/servicetest"
   ],
   "detail": {
        "eventType": "INFO",
        "eventName": "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "deploymentId": "ecs-svc/`123`",
        "updatedAt": "2020-05-23T11:11:11Z",
        "reason": "ECS deployment `deploymentId` in progress."
   }
}
"""
IN_PROGRESS_ROLLBACK = """
{
   "version": "0",
   "id": "ddca6449-b258-46c0-8653-e0e3aEXAMPLE",
   "detail-type": "ECS Deployment State Change",
   "source": "aws.ecs",
   "account": "111122223333",
   "time": "2020-05-23T12:31:14Z",
   "region": "us-west-2",
   "resources": [
        "arn:aws:ecs:us-west-2:111122223333:service/default/servicetest"
   ],
   "detail": {
        "eventType": "INFO",
        "eventName": "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "deploymentId": "ecs-svc/123",
        "updatedAt": "2020-05-23T11:11:11Z",
        "reason": "ECS deployment circuit breaker: rolling back to deploymentId `deploymentID`."
   }
}
"""
COMPLETED = """
{
   "version": "0",
   "id": "ddca6449-b258-46c0-8653-e0e3aEXAMPLE",
   "detail-type": "ECS Deployment State Change",
   "source": "aws.ecs",
   "account": "111122223333",
   "time": "2020-05-23T12:31:14Z",
   "region": "us-west-2",
   "resources": [
        "arn:aws:ecs:us-west-2:111122223333:service/default/servicetest"
   ],
   "detail": {
        "eventType": "INFO",
        "eventName": "SERVICE_DEPLOYMENT_COMPLETED",
        "deploymentId": "ecs-svc/123",
        "updatedAt": "2020-05-23T11:11:11Z",
        "reason": "ECS deployment `deploymentID` completed."
   }
}
"""
FAILED = """
{
   "version": "0",
   "id": "ddca6449-b258-46c0-8653-e0e3aEXAMPLE",
   "detail-type": "ECS Deployment State Change",
   "source": "aws.ecs",
   "account": "111122223333",
   "time": "2020-05-23T12:31:14Z",
   "region": "us-west-2",
   "resources": [
        "arn:aws:ecs:us-west-2:111122223333:service/default/servicetest"
   ],
   "detail": {
        "eventType": "ERROR",
        "eventName": "SERVICE_DEPLOYMENT_FAILED",
        "deploymentId": "ecs-svc/123",
        "updatedAt": "2020-05-23T11:11:11Z",
        "reason": "ECS deployment circuit breaker: task failed to start."
   }
}
"""
SAMPLES = {
    "in-progress": IN_PROGRESS_INITIAL,
    "rollback-in-progress": IN_PROGRESS_ROLLBACK,
    "completed": COMPLETED,
    "failed": FAILED,
}


def service_names(rendering: Rendering) -> tuple[str, str]:
    """The stack's cluster and service, as ECS names them (from the rendered resources)."""
    (cluster,) = rendering.of_type("aws:ecs/cluster:Cluster")
    (service,) = rendering.of_type("aws:ecs/service:Service")
    return cluster.outputs["name"], service.outputs["name"]


def service_arn(cluster: str, service: str) -> str:
    """The documented ARN form: `arn:aws:ecs:<region>:<account>:service/<cluster>/<service>`."""
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{service}"


def sample(kind: str, resource: str | None = None) -> dict[str, Any]:
    """A documented event, for `resource` instead of `default/servicetest` when given."""
    event: dict[str, Any] = json.loads(SAMPLES[kind])
    if resource is not None:
        event["resources"] = [resource]
    return event


def deliver(rendering: Rendering, event: dict[str, Any]) -> list[str]:
    """The bodies the rendered rule and target put on a queue for this event."""
    rule = rendering.get(RULE, RULE_NAME)
    (target,) = [t for t in rendering.of_type(TARGET) if t.inputs["rule"] == rule.inputs["name"]]
    transformer = target.inputs["inputTransformer"]
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="deployment-failed")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(Name="deployment-failed", EventPattern=rule.inputs["eventPattern"])
        events.put_targets(
            Rule="deployment-failed",
            Targets=[
                {
                    "Id": "queue",
                    "Arn": queue_arn,
                    "InputTransformer": {
                        "InputPathsMap": transformer["inputPaths"],
                        "InputTemplate": transformer["inputTemplate"],
                    },
                }
            ],
        )
        [entry] = events.put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "Resources": event["resources"],
                    "Time": event["time"],
                }
            ]
        )["Entries"]
        assert "EventId" in entry, entry
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
    return [message["Body"] for message in messages]


def test_a_failed_deployment_of_this_service_reaches_the_topic_with_its_reason(rendering):
    cluster, service = service_names(rendering)
    arn = service_arn(cluster, service)

    [body] = deliver(rendering, sample("failed", arn))

    assert arn in body
    assert "ECS deployment circuit breaker: task failed to start." in body


@pytest.mark.parametrize("kind", ["in-progress", "rollback-in-progress", "completed"])
def test_other_deployment_states_of_this_service_do_not(rendering, kind):
    cluster, service = service_names(rendering)

    assert deliver(rendering, sample(kind, service_arn(cluster, service))) == []


@pytest.mark.parametrize(
    "other",
    [
        "documented",  # default/servicetest, as published
        "another service in this cluster",
        "this service name in another cluster",
        "a service whose name ends with this one",
        "a cluster whose name ends with this one",
    ],
)
def test_a_failed_deployment_of_another_service_does_not(rendering, other):
    cluster, service = service_names(rendering)
    resource = {
        "documented": None,
        "another service in this cluster": service_arn(cluster, "worker"),
        "this service name in another cluster": service_arn("other", service),
        "a service whose name ends with this one": service_arn(cluster, f"old-{service}"),
        "a cluster whose name ends with this one": service_arn(f"old-{cluster}", service),
    }[other]

    assert deliver(rendering, sample("failed", resource)) == []
