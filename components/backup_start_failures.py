"""Backup runs that never got going: tasks ECS could not start, invocations the scheduler lost.

Two signals besides the dead-letter queues (backup_dead_letter_queue.py), both on the backup
topic, both within minutes rather than at the next midnight:

- an EventBridge rule on ECS task state change events: a backup task stopped with `stopCode`
  TaskFailedToStart (image pull, secret, network errors: RunTask succeeded, the container never
  ran; https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html);
- an alarm on EventBridge Scheduler's own metrics for the stack's schedule group: invocations
  dropped, or that could not be sent to the dead-letter queue (a queue policy or key error would
  otherwise hide every other failure; AWS/Scheduler, dimension ScheduleGroup,
  https://docs.aws.amazon.com/scheduler/latest/UserGuide/monitoring-cloudwatch.html).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.backup_job_specs import task_failed_to_start_pattern
from components.runbooks import RULE_DESCRIPTION_MAX, alarm_description, runbook_link

TASK_FAILED_TO_START_KEY = "backup-task-failed-to-start"
SCHEDULE_UNDELIVERED_KEY = "backup-schedule-undelivered"
SCHEDULER_NAMESPACE = "AWS/Scheduler"
SCHEDULER_FAILURE_METRICS = (
    ("dropped", "InvocationDroppedCount"),
    ("undelivered", "InvocationsFailedToBeSentToDeadLetterCount"),
)
SCHEDULER_ALARM_PERIOD_SECONDS = 300


@dataclass
class BackupStartFailuresArgs:
    prefix: str
    cluster_arn: pulumi.Input[str]
    task_families: Sequence[str]
    """Families of the backup task definitions (RunTask puts each task in `family:<family>`)."""
    schedule_group_name: pulumi.Input[str]
    """The stack's schedule group: the ScheduleGroup dimension of the scheduler metrics."""
    alarm_topic_arn: pulumi.Input[str]


def scheduler_failure_queries(
    group: pulumi.Input[str],
) -> list[aws.cloudwatch.MetricAlarmMetricQueryArgsDict]:
    """Dropped plus undeliverable invocations of the group, per period (0 where none)."""
    inputs: list[aws.cloudwatch.MetricAlarmMetricQueryArgsDict] = [
        {
            "id": query_id,
            "return_data": False,
            "metric": {
                "namespace": SCHEDULER_NAMESPACE,
                "metric_name": metric,
                "dimensions": {"ScheduleGroup": group},
                "period": SCHEDULER_ALARM_PERIOD_SECONDS,
                "stat": "Sum",
            },
        }
        for query_id, metric in SCHEDULER_FAILURE_METRICS
    ]
    total = " + ".join(f"FILL({query_id}, 0)" for query_id, _ in SCHEDULER_FAILURE_METRICS)
    return [
        *inputs,
        {"id": "lost", "expression": total, "label": "lost invocations", "return_data": True},
    ]


class BackupStartFailures(pulumi.ComponentResource):
    alarm_names: pulumi.Output[dict[str, str]]
    """Alarm (or event rule) name by key."""

    def __init__(
        self,
        name: str,
        args: BackupStartFailuresArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("miko:backup:BackupStartFailures", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        families = list(args.task_families)
        rule = aws.cloudwatch.EventRule(
            f"{name}-task-failed-to-start",
            name=f"{args.prefix}-{TASK_FAILED_TO_START_KEY}",
            description=alarm_description(
                "A scheduled backup task stopped before its container ran",
                TASK_FAILED_TO_START_KEY,
                limit=RULE_DESCRIPTION_MAX,
            ),
            event_pattern=pulumi.Output.from_input(args.cluster_arn).apply(
                lambda cluster: task_failed_to_start_pattern(cluster, families)
            ),
            tags={"alarm": TASK_FAILED_TO_START_KEY},
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-task-failed-to-start-topic",
            rule=rule.name,
            arn=args.alarm_topic_arn,
            target_id="alarm-topic",
            input_transformer={
                "input_paths": {
                    "group": "$.detail.group",
                    "task": "$.detail.taskArn",
                    "reason": "$.detail.stoppedReason",
                },
                "input_template": (
                    '"Backup task <task> (<group>) failed to start: <reason>. '
                    f'Runbook: {runbook_link(TASK_FAILED_TO_START_KEY)}"'
                ),
            },
            opts=child,
        )
        alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-schedule-undelivered",
            name=f"{args.prefix}-{SCHEDULE_UNDELIVERED_KEY}",
            alarm_description=alarm_description(
                "EventBridge Scheduler dropped a backup invocation or could not put it on the "
                "dead-letter queue",
                SCHEDULE_UNDELIVERED_KEY,
            ),
            metric_queries=scheduler_failure_queries(args.schedule_group_name),
            evaluation_periods=1,
            datapoints_to_alarm=1,
            comparison_operator="GreaterThanThreshold",
            threshold=0,
            # No count published is nothing lost.
            treat_missing_data="notBreaching",
            alarm_actions=[args.alarm_topic_arn],
            ok_actions=[args.alarm_topic_arn],
            tags={"alarm": SCHEDULE_UNDELIVERED_KEY},
            opts=child,
        )
        self.alarm_names = pulumi.Output.all(
            **{TASK_FAILED_TO_START_KEY: rule.name, SCHEDULE_UNDELIVERED_KEY: alarm.name}
        )
        self.register_outputs({"alarm_names": self.alarm_names})
