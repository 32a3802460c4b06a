"""Alarms for the platform's alert rules, delivered through KMS-encrypted SNS topics.

One CloudWatch alarm per alarmed signal of the catalogue (components/signals.py), tagged `alarm`
with the signal's key, plus the log metric filter of a signal counted from the app's logs, the
Route 53 health check the external-health-check signal reads, and the failed-deployment event
rule (components/deployment_events.py).

Only critical alarms page on-call (assessment: "Page on-call for critical alerts"). Critical
alarms notify a critical topic (emails and the pager) on ALARM and on OK; warning alarms, and the
failed-deployment event (a rolled-back deploy is not an outage), notify the warning topic (emails
only) on ALARM. An alarm whose metric lives in us-east-1 notifies the topic of its severity
there (components/alarm_topics.py). `alarm-delivery-failed` watches the failed deliveries of both
paging topics, one alarm in each topic's region, and emails (warning topics): a page that failed
cannot be announced by the pager.
"""

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.alarm_topics import AlarmTopics, Subscribers, create_alarm_topics
from components.deployment_events import DEPLOYMENT_FAILED_KEY, create_deployment_failed_rule
from components.external_health_check import create_site_health_check
from components.runbooks import alarm_description
from components.signal_model import Metric, MetricMath, Signal, SignalScope, SignalSources
from components.signals import SIGNALS
from config.sections import AlarmSettings

# What MetricAlarm takes as `statistic`; percentiles (p95) and the like are `extended_statistic`.
STATISTICS = frozenset({"SampleCount", "Average", "Sum", "Minimum", "Maximum"})


def alarm_name(prefix: str, key: str) -> str:
    """Physical CloudWatch alarm name for an alarm key."""
    return f"{prefix}-{key}"


def alarm_names_for_rollback(prefix: str) -> list[str]:
    """Names of the alarms whose ALARM state rolls an ECS deployment back.

    A pure function of the prefix, so the service's deployment `alarms` block can name them
    before this component exists (the alarms depend on the service, not the other way round).
    """
    return [alarm_name(prefix, signal.key) for signal in SIGNALS if signal.rolls_back_deployments]


def _query_properties(
    query: Metric | MetricMath, scope: SignalScope, period: int
) -> dict[str, Any]:
    """The MetricAlarm properties that say what it watches: one metric, or metric math."""
    if isinstance(query, Metric):
        return {
            "namespace": query.namespace,
            "metric_name": query.metric_name(scope.prefix),
            "dimensions": dict(query.dimensions(scope)),
            "period": period,
            ("statistic" if query.stat in STATISTICS else "extended_statistic"): query.stat,
        }
    inputs: list[aws.cloudwatch.MetricAlarmMetricQueryArgsDict] = [
        {
            "id": query_id,
            "return_data": False,
            "metric": {
                "namespace": metric.namespace,
                "metric_name": metric.metric_name(scope.prefix),
                "dimensions": dict(metric.dimensions(scope)),
                "stat": metric.stat,
                "period": period,
            },
        }
        for query_id, metric in query.inputs
    ]
    *steps, (result_id, result) = query.steps
    hidden: list[aws.cloudwatch.MetricAlarmMetricQueryArgsDict] = [
        {"id": step_id, "expression": expression, "return_data": False}
        for step_id, expression in steps
    ]
    returned: aws.cloudwatch.MetricAlarmMetricQueryArgsDict = {
        "id": result_id,
        "expression": result,
        "label": query.label,
        "return_data": True,
    }
    return {"metric_queries": [*inputs, *hidden, returned]}


def _alarm_properties(
    signal: Signal, settings: AlarmSettings, scope: SignalScope
) -> dict[str, Any]:
    """A signal's MetricAlarm properties, but for its name and notifications."""
    threshold = signal.threshold_value(settings)
    return {
        "alarm_description": alarm_description(
            signal.description.format(threshold=threshold), signal.alarm_key
        ),
        **_query_properties(signal.query, scope, signal.period or settings.period_seconds),
        "evaluation_periods": signal.evaluation_periods_value(settings),
        **(
            {"datapoints_to_alarm": signal.datapoints_to_alarm_value(settings)}
            if signal.datapoints_to_alarm is not None
            else {}
        ),
        "comparison_operator": signal.comparison,
        "threshold": threshold,
        "treat_missing_data": signal.missing_data,
        "tags": {"alarm": signal.alarm_key},
    }


def _notifications(signal: Signal, topics: AlarmTopics) -> dict[str, Any]:
    """Critical alarms notify their region's critical topic on ALARM and OK; warnings their
    region's warning topic on ALARM."""
    if signal.severity == "warning":
        warning = topics.warning if signal.region is None else topics.us_east_1_warning
        return {"alarm_actions": [warning]}
    if signal.severity == "critical":
        topic = topics.critical if signal.region is None else topics.us_east_1
        return {"alarm_actions": [topic], "ok_actions": [topic]}
    raise ValueError(f"signal {signal.key}: no {signal.severity} topic in {signal.region}")


@dataclass
class AlarmsArgs:
    prefix: str
    """Prefix of every physical name (alarms, topics, rule), e.g. miko-prod."""
    settings: AlarmSettings
    """Who is alerted, and the thresholds the signal catalogue names."""
    sources: SignalSources
    """The load balancer, target group and service the signals watch."""
    app_log_group_name: pulumi.Input[str]
    """CloudWatch log group the app's container writes to (log-filtered signals)."""
    site_hostname: pulumi.Input[str]
    """Public hostname the external health check calls over HTTPS."""
    pager_url: pulumi.Input[str] | None
    """HTTPS pager endpoint (secret config alarmPagerUrl) on the critical topics; None: no pager."""
    us_east_1_provider: aws.Provider
    """Explicit aws provider for us-east-1 (same default tags) for the health-check alarm."""
    protect: bool
    """Protect the topic keys: deleting a key makes what it encrypted unreadable."""


class Alarms(pulumi.ComponentResource):
    """Alarm topics, one alarm per alarmed signal, the external check and deployment events."""

    topic_arn: pulumi.Output[str]
    """ARN of the main-region critical topic (emails and pager)."""
    warning_topic_arn: pulumi.Output[str]
    """ARN of the main-region warning topic (emails only)."""
    us_east_1_topic_arn: pulumi.Output[str]
    """ARN of the us-east-1 critical topic the external-health-check alarm notifies."""
    us_east_1_warning_topic_arn: pulumi.Output[str]
    """ARN of the us-east-1 warning topic (emails only): failed deliveries of the us-east-1
    critical topic."""
    alarm_names: pulumi.Output[dict[str, str]]
    """Physical alarm name (or event rule name) by signal key: the alarm key, but for the
    us-east-1 alarm of an alarm watched in two regions, whose signal has a key of its own."""
    health_check_id: pulumi.Output[str]
    """ID of the Route 53 health check on the site's /health."""

    def __init__(
        self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:observability:Alarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        in_us_east_1 = pulumi.ResourceOptions(parent=self, provider=args.us_east_1_provider)

        topics = create_alarm_topics(
            name,
            args.prefix,
            Subscribers(args.settings.emails, args.pager_url),
            protect=args.protect,
            opts=child,
            us_east_1_opts=in_us_east_1,
        )
        health_check = create_site_health_check(name, args.prefix, args.site_hostname, child)
        scope = SignalScope(args.prefix, args.sources, health_check.id)
        names: dict[str, str] = {}
        for signal in SIGNALS:
            if signal.severity is not None:
                names[signal.key] = self._create_alarm(name, signal, args, scope, topics)
        names[DEPLOYMENT_FAILED_KEY] = alarm_name(args.prefix, DEPLOYMENT_FAILED_KEY)
        create_deployment_failed_rule(
            name,
            names[DEPLOYMENT_FAILED_KEY],
            cluster_name=args.sources.cluster_name,
            service_name=args.sources.service_name,
            warning_topic_arn=topics.warning,
            opts=child,
        )

        self.topic_arn = topics.critical
        self.warning_topic_arn = topics.warning
        self.us_east_1_topic_arn = topics.us_east_1
        self.us_east_1_warning_topic_arn = topics.us_east_1_warning
        self.alarm_names = pulumi.Output.from_input(dict(sorted(names.items())))
        self.health_check_id = health_check.id
        self.register_outputs(
            {
                "topic_arn": self.topic_arn,
                "warning_topic_arn": self.warning_topic_arn,
                "us_east_1_topic_arn": self.us_east_1_topic_arn,
                "us_east_1_warning_topic_arn": self.us_east_1_warning_topic_arn,
                "alarm_names": self.alarm_names,
                "health_check_id": self.health_check_id,
            }
        )

    def _create_alarm(
        self,
        name: str,
        signal: Signal,
        args: AlarmsArgs,
        scope: SignalScope,
        topics: AlarmTopics,
    ) -> str:
        """The signal's alarm, in the region of its metric, and its log metric filter if any."""
        physical_name = alarm_name(args.prefix, signal.key)
        provider = args.us_east_1_provider if signal.region else None
        opts = pulumi.ResourceOptions(parent=self, provider=provider)
        aws.cloudwatch.MetricAlarm(
            f"{name}-{signal.key}",
            name=physical_name,
            **_notifications(signal, topics),
            **_alarm_properties(signal, args.settings, scope),
            opts=opts,
        )
        if signal.log_filter is not None and isinstance(signal.query, Metric):
            metric_name = signal.query.metric_name(args.prefix)
            aws.cloudwatch.LogMetricFilter(
                f"{name}-{signal.key}-filter",
                name=metric_name,
                log_group_name=args.app_log_group_name,
                pattern=signal.log_filter.filter_pattern(),
                metric_transformation={
                    "name": metric_name,
                    "namespace": signal.query.namespace,
                    "value": "1",
                    "default_value": "0",
                    "unit": "Count",
                },
                opts=opts,
            )
        return physical_name
