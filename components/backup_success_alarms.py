"""The alarm that notices a backup job not succeeding, failed or never run alike.

Each run prints one JSON result line; a metric filter counts the successful ones, and the alarm
fires when a job's period (a day for the dump, a week for the verify) passes without one.

The alarm evaluates whole UTC days (a wall clock evaluation window,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation-window.html):
after each midnight it looks at the day that just ended (the dump) or the seven days that just
ended (the verify). A run that starts later than the day before, but finishes the same day, lands
in the same day and changes nothing; with the default sliding window the 24 hours before each
evaluation would have missed it until it finished (a spurious ALARM, then OK).

Each day's value is `FILL(succeeded, 0)`: a day without a log line counts as 0 successes rather
than as missing data. CloudWatch looks further back than the evaluation periods when data is
missing and evaluates the most recent datapoints it finds ("How alarm state is evaluated when
data is missing"), so without the fill a missed day could be judged by the day before's success.
The schedules must leave the run time to finish inside its UTC day (BackupSettings checks it).
"""

import pulumi
import pulumi_aws as aws

from app.contract import BACKUP_METRICS_NAMESPACE, backup_succeeded
from components.backup_job_specs import JobSpec
from components.runbooks import alarm_description

METRIC_NAMESPACE = BACKUP_METRICS_NAMESPACE
DAY_SECONDS = 86_400
EVALUATION_TIMEZONE = "UTC"
"""The wall clock the days are cut on: the schedules' time zone too (backup_jobs.py)."""


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
        alarm_description=alarm_description(
            f"No successful `backup {job.command}` in the last {job.days_without_success} UTC "
            "day(s)",
            job.alarm_key,
        ),
        metric_queries=[
            {
                "id": "succeeded",
                "return_data": False,
                "metric": {
                    "namespace": METRIC_NAMESPACE,
                    "metric_name": metric_name,
                    "period": DAY_SECONDS,
                    "stat": "Sum",
                },
            },
            {
                "id": "successes",
                "expression": "FILL(succeeded, 0)",
                "label": f"successful backup {job.command} runs a day",
                "return_data": True,
            },
        ],
        evaluation_window={"wall_clock_window": {"timezone": EVALUATION_TIMEZONE}},
        evaluation_periods=job.days_without_success,
        datapoints_to_alarm=job.days_without_success,
        comparison_operator="LessThanThreshold",
        threshold=1,
        # No data at all means the job did not run: that is a failure too.
        treat_missing_data="breaching",
        alarm_actions=[alarm_topic_arn],
        ok_actions=[alarm_topic_arn],
        tags={"alarm": job.alarm_key},
        opts=opts,
    )
    return alarm.name
