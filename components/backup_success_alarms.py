"""The alarm that notices a backup job not succeeding, failed or never run alike.

Each run prints one JSON result line; a metric filter counts the successful ones, and the alarm
fires when a job's period (a day for the dump, a week for the verify) passes without one.
"""

import pulumi
import pulumi_aws as aws

from app.contract import BACKUP_METRICS_NAMESPACE, backup_succeeded
from components.backup_job_specs import JobSpec

METRIC_NAMESPACE = BACKUP_METRICS_NAMESPACE
DAY_SECONDS = 86_400


def success_filter_pattern(command: str) -> str:
    return backup_succeeded(command).filter_pattern()


def success_alarm(
    name: str,
    job: JobSpec,
    *,
    prefix: str,
    log_group_name: pulumi.Input[str],
    alarm_topic_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> pulumi.Output[str]:
    """The job's success-counting metric filter and its alarm; returns the alarm's name."""
    metric_name = f"{prefix}-{job.succeeded_metric}"
    aws.cloudwatch.LogMetricFilter(
        f"{name}-{job.command}-succeeded",
        log_group_name=log_group_name,
        pattern=success_filter_pattern(job.command),
        metric_transformation={
            "name": metric_name,
            "namespace": METRIC_NAMESPACE,
            "value": "1",
            "default_value": "0",
        },
        opts=opts,
    )
    alarm = aws.cloudwatch.MetricAlarm(
        f"{name}-{job.alarm_key}",
        name=f"{prefix}-{job.alarm_key}",
        alarm_description=(
            f"No successful `backup {job.command}` in {job.days_without_success} day(s): "
            "see docs/runbooks/restore.md"
        ),
        namespace=METRIC_NAMESPACE,
        metric_name=metric_name,
        statistic="Sum",
        period=DAY_SECONDS,
        evaluation_periods=job.days_without_success,
        datapoints_to_alarm=job.days_without_success,
        comparison_operator="LessThanThreshold",
        threshold=1,
        # No data means the job did not run at all: that is a failure too.
        treat_missing_data="breaching",
        alarm_actions=[alarm_topic_arn],
        ok_actions=[alarm_topic_arn],
        tags={"alarm": job.alarm_key},
        opts=opts,
    )
    return alarm.name
