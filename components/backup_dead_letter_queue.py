"""A backup schedule's dead-letter queue and the alarm on it: a run the scheduler could not start.

EventBridge Scheduler retries a failed RunTask (the schedule's retry policy), then sends the
invocation to the schedule's dead-letter queue
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html): an IAM
error, a task definition it may not run, no Fargate capacity. No task starts, so no log line is
written; the job's success alarm would only notice at the next midnight. The alarm here fires
within minutes of the first message and stays in ALARM until the queue is drained
(docs/runbooks/restore.md).
"""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.backup_job_specs import dead_letter_queue_policy
from components.runbooks import alarm_description

MESSAGE_RETENTION_SECONDS = 14 * 86_400
"""SQS's longest retention: a dead letter stays readable for the investigation."""
QUEUE_ALARM_PERIOD_SECONDS = 300
"""A dead letter alarms within minutes; the queue metrics are approximate anyway
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html)."""


@dataclass
class BackupDeadLetterQueueArgs:
    prefix: str
    """Name prefix of the stack's AWS resources."""
    command: str
    """The backup command whose schedule sends here (dump, verify)."""
    alarm_key: str
    """The alarm's key: its name suffix and `alarm` tag."""
    schedule_arn: pulumi.Input[str]
    """The only schedule that may send here."""
    sender_role_arn: pulumi.Input[str]
    """The schedule's execution role, which sends the dead letters."""
    kms_key_arn: pulumi.Input[str]
    """The stack's key: dead letters carry the invocation (task definition, subnets)."""
    alarm_topic_arn: pulumi.Input[str]


class BackupDeadLetterQueue(pulumi.ComponentResource):
    queue_arn: pulumi.Output[str]
    """ARN of the queue, the schedule's `dead_letter_config`."""
    queue_name: pulumi.Output[str]
    alarm_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: BackupDeadLetterQueueArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("miko:backup:BackupDeadLetterQueue", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        queue = aws.sqs.Queue(
            f"{name}-queue",
            name=f"{args.prefix}-backup-{args.command}-dead-letters",
            kms_master_key_id=args.kms_key_arn,
            message_retention_seconds=MESSAGE_RETENTION_SECONDS,
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-policy",
            queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, args.schedule_arn, args.sender_role_arn).apply(
                lambda values: dead_letter_queue_policy(values[0], values[1], values[2])
            ),
            opts=child,
        )
        alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-alarm",
            name=f"{args.prefix}-{args.alarm_key}",
            alarm_description=alarm_description(
                f"The scheduler could not start `backup {args.command}` (a dead letter is "
                "waiting in its queue)",
                args.alarm_key,
            ),
            namespace="AWS/SQS",
            metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": queue.name},
            statistic="Maximum",
            period=QUEUE_ALARM_PERIOD_SECONDS,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            comparison_operator="GreaterThanThreshold",
            threshold=0,
            # An inactive (empty, untouched) queue publishes nothing: no data, no dead letter.
            treat_missing_data="notBreaching",
            alarm_actions=[args.alarm_topic_arn],
            ok_actions=[args.alarm_topic_arn],
            tags={"alarm": args.alarm_key},
            opts=child,
        )
        self.queue_arn = queue.arn
        self.queue_name = queue.name
        self.alarm_name = alarm.name
        self.register_outputs(
            {"queue_arn": self.queue_arn, "queue_name": self.queue_name, "alarm_name": alarm.name}
        )
