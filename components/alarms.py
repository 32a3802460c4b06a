"""Alarms for the platform's alert rules, delivered through KMS-encrypted SNS topics.

Keys (tag `alarm` on every alarm-type resource): http-5xx-critical, http-5xx-warning,
latency-p95-critical, latency-p95-warning, no-healthy-hosts, unhealthy-hosts, ecs-cpu-high,
ecs-memory-high, external-health-check, database-health-failures, deployment-failed.

Only critical alarms page on-call (assessment: "Page on-call for critical alerts"). Critical
alarms notify the critical topic (emails and the pager) on ALARM and on OK; warning alarms, and the
failed-deployment event (a rolled-back deploy is not an outage), notify the warning topic (emails
only) on ALARM.

Route 53 publishes health-check metrics only in us-east-1, so the external-health-check alarm
lives there and notifies a critical topic in us-east-1 (emails and the pager). That topic exists
in every stack, whatever the main region, so both stacks have the same shape.

The topics are encrypted with customer-managed keys created here, one per region, shared by the
topics of that region: CloudWatch cannot publish to a topic under the AWS-managed `alias/aws/sns`
key (its policy cannot grant cloudwatch.amazonaws.com), and granting CloudWatch and EventBridge
use of the secrets key would widen the policy of the key that guards every integration secret.
One key serves both main-region topics: a key per topic would add a key (and its monthly charge)
without narrowing anything, as each topic's own policy already limits who may publish to it
(CloudWatch to every topic, EventBridge rules only to the warning topic).
"""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

APP_METRICS_NAMESPACE = "MiKO/App"
# Where the app writes the browser's metrics as CloudWatch EMF (app/ingest/client_metrics.py).
CLIENT_METRICS_NAMESPACE = "MiKO/Client"
BOOKING_FAILED_METRIC = "booking_failed"

# The app prints one JSON line per failed check; the lead reconciles this with app/ logging.
DATABASE_HEALTH_FAILURE_PATTERN = (
    '{ ($.event = "health_check") && ($.check = "database") '
    '&& ($.status = "unhealthy" || $.status = "error") }'
)

# Route 53 needs at least three checker regions when regions are given.
HEALTH_CHECK_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-1")
HEALTH_CHECK_PATH = "/health"
HEALTH_CHECK_INTERVAL_SECONDS = 30
HEALTH_CHECK_FAILURE_THRESHOLD = 3

ROLLBACK_ALARM_KEYS = ("http-5xx-critical", "latency-p95-critical")
ALARM_PUBLISHER = "cloudwatch.amazonaws.com"
EVENT_PUBLISHER = "events.amazonaws.com"
CRITICAL_TOPIC_PUBLISHERS = (ALARM_PUBLISHER,)
WARNING_TOPIC_PUBLISHERS = (ALARM_PUBLISHER, EVENT_PUBLISHER)
MAIN_KEY_PUBLISHERS = WARNING_TOPIC_PUBLISHERS
US_EAST_1_KEY_PUBLISHERS = CRITICAL_TOPIC_PUBLISHERS

# Metric math for the 5xx rate, shared with the dashboard. Requests the load balancer answers
# itself with a 5xx (no healthy target) are not in RequestCount, so with errors and no counted
# requests the rate is 100%.
HTTP_ERRORS_EXPRESSION = "FILL(target_5xx, 0) + FILL(elb_5xx, 0)"
HTTP_RESPONSES_EXPRESSION = "FILL(requests, 0)"
HTTP_5XX_RATE_EXPRESSION = "IF(responses > 0, 100 * errors / responses, IF(errors > 0, 100, 0))"


@dataclass(frozen=True)
class AlarmThresholds:
    """Alarm thresholds from stack config; invalid combinations fail with every problem listed."""

    http_5xx_critical_percent: float
    """5xx responses as a percentage of requests above which the critical alarm fires."""
    http_5xx_warning_percent: float
    """Same rate for the warning alarm (below the critical one)."""
    latency_p95_critical_seconds: float
    """p95 target response time above which the critical alarm fires."""
    latency_p95_warning_seconds: float
    """p95 target response time for the warning alarm (below the critical one)."""
    cpu_high_percent: float
    """ECS service average CPU utilisation above which ecs-cpu-high fires."""
    memory_high_percent: float
    """ECS service average memory utilisation above which ecs-memory-high fires."""
    database_failures_per_period: int
    """Failed database health checks in one period at or above which the alarm fires."""
    booking_failures_per_period: int
    """Failed appointment bookings reported by browsers in one period at or above which the
    booking-failures warning fires."""
    evaluation_periods: int
    """Consecutive periods over threshold before rate, latency and resource alarms fire."""
    availability_evaluation_periods: int
    """Consecutive periods before the no-healthy-hosts and external-health-check alarms fire."""
    period_seconds: int = 60
    """Length of one evaluation period (a multiple of 60)."""

    def __post_init__(self) -> None:
        problems = _threshold_problems(self)
        if problems:
            raise ValueError("invalid alarm thresholds: " + "; ".join(problems))


def _threshold_problems(thresholds: AlarmThresholds) -> list[str]:
    problems = [
        f"{name} must be above 0 and at most 100, got {value}"
        for name, value in (
            ("http_5xx_critical_percent", thresholds.http_5xx_critical_percent),
            ("http_5xx_warning_percent", thresholds.http_5xx_warning_percent),
            ("cpu_high_percent", thresholds.cpu_high_percent),
            ("memory_high_percent", thresholds.memory_high_percent),
        )
        if not 0 < value <= 100
    ]
    problems += [
        f"{name} must be at least 1, got {value}"
        for name, value in (
            ("database_failures_per_period", thresholds.database_failures_per_period),
            ("booking_failures_per_period", thresholds.booking_failures_per_period),
            ("evaluation_periods", thresholds.evaluation_periods),
            ("availability_evaluation_periods", thresholds.availability_evaluation_periods),
        )
        if value < 1
    ]
    if thresholds.latency_p95_warning_seconds <= 0:
        problems.append("latency_p95_warning_seconds must be above 0")
    if thresholds.http_5xx_warning_percent >= thresholds.http_5xx_critical_percent:
        problems.append("http_5xx_warning_percent must be below http_5xx_critical_percent")
    if thresholds.latency_p95_warning_seconds >= thresholds.latency_p95_critical_seconds:
        problems.append("latency_p95_warning_seconds must be below latency_p95_critical_seconds")
    if thresholds.period_seconds < 60 or thresholds.period_seconds % 60:
        problems.append(f"period_seconds must be a multiple of 60, got {thresholds.period_seconds}")
    return problems


def alarm_name(name_prefix: str, key: str) -> str:
    """Physical CloudWatch alarm name for an alarm key."""
    return f"{name_prefix}-{key}"


def alarm_names_for_rollback(name_prefix: str) -> list[str]:
    """Names of the alarms whose ALARM state rolls an ECS deployment back.

    A pure function of the prefix, so the service's deployment `alarms` block can name them
    before this component exists (the alarms depend on the service, not the other way round).
    """
    return [alarm_name(name_prefix, key) for key in ROLLBACK_ALARM_KEYS]


def database_failure_metric_name(name_prefix: str) -> str:
    """Per-stack metric name, so staging and prod in one account do not add up their failures."""
    return f"{name_prefix}-database-health-failures"


@dataclass(frozen=True)
class _AlarmDefinition:
    key: str
    critical: bool
    properties: Mapping[str, Any] = field(default_factory=dict)


def _simple_metric(
    namespace: str,
    metric_name: str,
    dimensions: Mapping[str, pulumi.Input[str]],
    period: int,
    *,
    statistic: str | None = None,
    percentile: str | None = None,
) -> dict[str, Any]:
    """One metric's MetricAlarm properties: a statistic (Sum, Average...) or a percentile (p95)."""
    chosen = {"statistic": statistic} if percentile is None else {"extended_statistic": percentile}
    return {
        "namespace": namespace,
        "metric_name": metric_name,
        "dimensions": dict(dimensions),
        "period": period,
        **chosen,
    }


def _http_5xx_rate_queries(
    load_balancer: pulumi.Input[str], period: int
) -> list[aws.cloudwatch.MetricAlarmMetricQueryArgsDict]:
    def alb_sum(query_id: str, metric_name: str) -> aws.cloudwatch.MetricAlarmMetricQueryArgsDict:
        return {
            "id": query_id,
            "return_data": False,
            "metric": {
                "namespace": "AWS/ApplicationELB",
                "metric_name": metric_name,
                "dimensions": {"LoadBalancer": load_balancer},
                "stat": "Sum",
                "period": period,
            },
        }

    return [
        alb_sum("target_5xx", "HTTPCode_Target_5XX_Count"),
        alb_sum("elb_5xx", "HTTPCode_ELB_5XX_Count"),
        alb_sum("requests", "RequestCount"),
        {"id": "errors", "expression": HTTP_ERRORS_EXPRESSION, "return_data": False},
        {"id": "responses", "expression": HTTP_RESPONSES_EXPRESSION, "return_data": False},
        {
            "id": "error_rate",
            "expression": HTTP_5XX_RATE_EXPRESSION,
            "label": "5xx responses (% of requests)",
            "return_data": True,
        },
    ]


def _metric_alarm_definitions(
    name_prefix: str,
    thresholds: AlarmThresholds,
    *,
    load_balancer: pulumi.Input[str],
    target_group: pulumi.Input[str],
    cluster_name: pulumi.Input[str],
    service_name: pulumi.Input[str],
    app_environment: str,
) -> list[_AlarmDefinition]:
    """Every main-region metric alarm: key, severity and MetricAlarm properties."""
    period = thresholds.period_seconds
    target = {"LoadBalancer": load_balancer, "TargetGroup": target_group}
    service = {"ClusterName": cluster_name, "ServiceName": service_name}
    common = {"period": period, "evaluation_periods": thresholds.evaluation_periods}

    def rate(percent: float, severity: str) -> dict[str, Any]:
        return {
            "alarm_description": f"5xx responses above {percent}% of requests ({severity})",
            "metric_queries": _http_5xx_rate_queries(load_balancer, period),
            "evaluation_periods": thresholds.evaluation_periods,
            "comparison_operator": "GreaterThanThreshold",
            "threshold": percent,
            "treat_missing_data": "notBreaching",
        }

    def latency(seconds: float, severity: str) -> dict[str, Any]:
        return {
            "alarm_description": f"p95 target response time above {seconds} s ({severity})",
            **_simple_metric(
                "AWS/ApplicationELB", "TargetResponseTime", target, period, percentile="p95"
            ),
            "evaluation_periods": thresholds.evaluation_periods,
            "comparison_operator": "GreaterThanThreshold",
            "threshold": seconds,
            "treat_missing_data": "notBreaching",
        }

    def ecs(metric_name: str, percent: float) -> dict[str, Any]:
        return {
            "alarm_description": f"ECS service {metric_name} above {percent}%",
            **_simple_metric("AWS/ECS", metric_name, service, period, statistic="Average"),
            **common,
            "comparison_operator": "GreaterThanThreshold",
            "threshold": percent,
            "treat_missing_data": "notBreaching",
        }

    return [
        _AlarmDefinition(
            "http-5xx-critical", True, rate(thresholds.http_5xx_critical_percent, "critical")
        ),
        _AlarmDefinition(
            "http-5xx-warning", False, rate(thresholds.http_5xx_warning_percent, "warning")
        ),
        _AlarmDefinition(
            "latency-p95-critical",
            True,
            latency(thresholds.latency_p95_critical_seconds, "critical"),
        ),
        _AlarmDefinition(
            "latency-p95-warning", False, latency(thresholds.latency_p95_warning_seconds, "warning")
        ),
        _AlarmDefinition(
            "no-healthy-hosts",
            True,
            {
                "alarm_description": "No healthy target behind the load balancer: the app is down",
                **_simple_metric(
                    "AWS/ApplicationELB", "HealthyHostCount", target, period, statistic="Minimum"
                ),
                "evaluation_periods": thresholds.availability_evaluation_periods,
                "comparison_operator": "LessThanThreshold",
                "threshold": 1,
                # No data from the target group is no evidence of health.
                "treat_missing_data": "breaching",
            },
        ),
        _AlarmDefinition(
            "unhealthy-hosts",
            False,
            {
                "alarm_description": "At least one target fails the load balancer health check",
                **_simple_metric(
                    "AWS/ApplicationELB", "UnHealthyHostCount", target, period, statistic="Maximum"
                ),
                **common,
                "comparison_operator": "GreaterThanThreshold",
                "threshold": 0,
                "treat_missing_data": "notBreaching",
            },
        ),
        _AlarmDefinition("ecs-cpu-high", False, ecs("CPUUtilization", thresholds.cpu_high_percent)),
        _AlarmDefinition(
            "ecs-memory-high", False, ecs("MemoryUtilization", thresholds.memory_high_percent)
        ),
        _AlarmDefinition(
            "database-health-failures",
            True,
            {
                "alarm_description": "The app's database health check keeps failing",
                **_simple_metric(
                    APP_METRICS_NAMESPACE,
                    database_failure_metric_name(name_prefix),
                    {},
                    period,
                    statistic="Sum",
                ),
                "evaluation_periods": 1,
                "comparison_operator": "GreaterThanOrEqualToThreshold",
                "threshold": thresholds.database_failures_per_period,
                "treat_missing_data": "notBreaching",
            },
        ),
        _AlarmDefinition(
            "booking-failures",
            False,
            {
                "alarm_description": "Browsers report failed appointment bookings",
                **_simple_metric(
                    CLIENT_METRICS_NAMESPACE,
                    BOOKING_FAILED_METRIC,
                    {"Environment": app_environment},
                    period,
                    statistic="Sum",
                ),
                "evaluation_periods": 1,
                "comparison_operator": "GreaterThanOrEqualToThreshold",
                "threshold": thresholds.booking_failures_per_period,
                "treat_missing_data": "notBreaching",
            },
        ),
    ]


def _key_policy(account_id: str, publisher_services: Sequence[str]) -> str:
    """Key policy: the account administers the key; the publishing services encrypt with it.

    The service grant is the statement AWS documents for service publishers to encrypted topics
    (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services),
    with no source conditions: the topic policy limits publishing to this account, and this key
    protects nothing but the alarm topics.
    """
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministersKey",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "AlarmPublishersEncrypt",
                    "Effect": "Allow",
                    "Principal": {"Service": sorted(publisher_services)},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                },
            ],
        },
        sort_keys=True,
    )


def _topic_policy(topic_arn: str, account_id: str, publisher_services: Sequence[str]) -> str:
    """Topic policy: only this account's alarms and event rules publish, and only over TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AlarmPublishersFromThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": sorted(publisher_services)},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                },
                {
                    "Sid": "DenyPublishWithoutTls",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        },
        sort_keys=True,
    )


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


def _email_logical_suffix(email: str) -> str:
    """Stable, order-independent suffix: adding an address never renames the others."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:10]


@dataclass(frozen=True)
class _Topic:
    logical_name: str
    physical_name: str
    publishers: Sequence[str]
    """Services allowed to publish (CloudWatch alarms, EventBridge rules)."""
    page: bool
    """Whether the pager subscribes (critical topics only)."""


@dataclass(frozen=True)
class _Routes:
    critical: pulumi.Output[str]
    warning: pulumi.Output[str]

    def topic_for(self, definition: _AlarmDefinition) -> pulumi.Output[str]:
        return self.critical if definition.critical else self.warning


@dataclass
class AlarmsArgs:
    name_prefix: str
    """Prefix of every physical name (alarms, topics, rule), e.g. miko-prod."""
    alb_arn_suffix: pulumi.Input[str]
    """Load balancer ARN suffix (app/<name>/<id>), the LoadBalancer dimension."""
    target_group_arn_suffix: pulumi.Input[str]
    """Target group ARN suffix (targetgroup/<name>/<id>), the TargetGroup dimension."""
    cluster_name: pulumi.Input[str]
    """ECS cluster name (ClusterName dimension and deployment events)."""
    service_name: pulumi.Input[str]
    """ECS service name (ServiceName dimension and deployment events)."""
    app_log_group_name: pulumi.Input[str]
    """CloudWatch log group the app's container writes to."""
    site_hostname: pulumi.Input[str]
    """Public hostname the external health check calls over HTTPS."""
    app_environment: str
    """The app's APP_ENV, the Environment dimension of the browser metrics it publishes."""
    thresholds: AlarmThresholds
    """Alarm thresholds from stack config."""
    alarm_emails: Sequence[str]
    """Email addresses subscribed to every alarm topic."""
    pager_url: pulumi.Input[str] | None
    """HTTPS pager endpoint (secret config alarmPagerUrl) on the critical topics; None: no pager."""
    us_east_1_provider: aws.Provider
    """Explicit aws provider for us-east-1 (same default tags) for the health-check alarm."""
    protect: bool
    """Protect the topic keys: deleting a key makes what it encrypted unreadable."""


class Alarms(pulumi.ComponentResource):
    """Alarm topics, subscriptions, metric alarms, the external check and deployment events."""

    topic_arn: pulumi.Output[str]
    """ARN of the main-region critical topic (emails and pager)."""
    warning_topic_arn: pulumi.Output[str]
    """ARN of the main-region warning topic (emails only)."""
    us_east_1_topic_arn: pulumi.Output[str]
    """ARN of the us-east-1 critical topic the external-health-check alarm notifies."""
    alarm_names: pulumi.Output[dict[str, str]]
    """Physical alarm name (or event rule name) by alarm key."""
    health_check_id: pulumi.Output[str]
    """ID of the Route 53 health check on the site's /health."""

    def __init__(
        self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:observability:Alarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        in_us_east_1 = pulumi.ResourceOptions(parent=self, provider=args.us_east_1_provider)
        account_id = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id

        main_key = self._create_key(
            name, "", args, account_id=account_id, publishers=MAIN_KEY_PUBLISHERS, opts=child
        )
        critical = _Topic(
            f"{name}-topic", f"{args.name_prefix}-alarms", CRITICAL_TOPIC_PUBLISHERS, page=True
        )
        warning = _Topic(
            f"{name}-warning-topic",
            f"{args.name_prefix}-alarms-warning",
            WARNING_TOPIC_PUBLISHERS,
            page=False,
        )
        us_east_1 = _Topic(
            f"{name}-us-east-1-topic",
            f"{args.name_prefix}-alarms-us-east-1",
            CRITICAL_TOPIC_PUBLISHERS,
            page=True,
        )
        critical_arn = self._create_topic(critical, args, main_key, account_id, child)
        warning_arn = self._create_topic(warning, args, main_key, account_id, child)
        us_east_1_key = self._create_key(
            name,
            "-us-east-1",
            args,
            account_id=account_id,
            publishers=US_EAST_1_KEY_PUBLISHERS,
            opts=in_us_east_1,
        )
        us_east_1_arn = self._create_topic(us_east_1, args, us_east_1_key, account_id, in_us_east_1)
        names = self._create_metric_alarms(name, args, _Routes(critical_arn, warning_arn), child)
        self._create_database_metric_filter(name, args, child)
        health_check = self._create_external_check(
            name, args, us_east_1_arn, opts=child, alarm_opts=in_us_east_1
        )
        names["external-health-check"] = alarm_name(args.name_prefix, "external-health-check")
        names["deployment-failed"] = self._create_deployment_rule(name, args, warning_arn, child)

        self.topic_arn = critical_arn
        self.warning_topic_arn = warning_arn
        self.us_east_1_topic_arn = us_east_1_arn
        self.alarm_names = pulumi.Output.from_input(dict(sorted(names.items())))
        self.health_check_id = health_check.id
        self.register_outputs(
            {
                "topic_arn": self.topic_arn,
                "warning_topic_arn": self.warning_topic_arn,
                "us_east_1_topic_arn": self.us_east_1_topic_arn,
                "alarm_names": self.alarm_names,
                "health_check_id": self.health_check_id,
            }
        )

    def _create_key(
        self,
        name: str,
        suffix: str,
        args: AlarmsArgs,
        *,
        account_id: pulumi.Output[str],
        publishers: Sequence[str],
        opts: pulumi.ResourceOptions,
    ) -> aws.kms.Key:
        """The customer-managed key of one region's alarm topics, with its alias."""
        key = aws.kms.Key(
            f"{name}{suffix}-key",
            description=f"Encrypts the {args.name_prefix}{suffix} alarm topics",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=account_id.apply(lambda account: _key_policy(account, publishers)),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=args.protect)),
        )
        aws.kms.Alias(
            f"{name}{suffix}-key-alias",
            name=f"alias/{args.name_prefix}-alarms{suffix}",
            target_key_id=key.key_id,
            opts=opts,
        )
        return key

    def _create_topic(
        self,
        topic: _Topic,
        args: AlarmsArgs,
        key: aws.kms.Key,
        account_id: pulumi.Output[str],
        opts: pulumi.ResourceOptions,
    ) -> pulumi.Output[str]:
        """A KMS-encrypted topic, its policy, every email and, on critical topics, the pager."""
        resource = aws.sns.Topic(
            topic.logical_name, name=topic.physical_name, kms_master_key_id=key.arn, opts=opts
        )
        aws.sns.TopicPolicy(
            f"{topic.logical_name}-policy",
            arn=resource.arn,
            policy=pulumi.Output.all(resource.arn, account_id).apply(
                lambda values: _topic_policy(values[0], values[1], topic.publishers)
            ),
            opts=opts,
        )
        subscriber_prefix = topic.logical_name.removesuffix("-topic")
        for email in args.alarm_emails:
            aws.sns.TopicSubscription(
                f"{subscriber_prefix}-email-{_email_logical_suffix(email)}",
                topic=resource.arn,
                protocol="email",
                endpoint=email,
                opts=opts,
            )
        if topic.page and args.pager_url is not None:
            # The pager URL embeds the integration key: keep it secret in inputs and state.
            aws.sns.TopicSubscription(
                f"{subscriber_prefix}-pager",
                topic=resource.arn,
                protocol="https",
                endpoint=pulumi.Output.secret(args.pager_url),
                endpoint_auto_confirms=True,
                opts=pulumi.ResourceOptions.merge(
                    opts, pulumi.ResourceOptions(additional_secret_outputs=["endpoint"])
                ),
            )
        return resource.arn

    def _create_metric_alarms(
        self,
        name: str,
        args: AlarmsArgs,
        routes: _Routes,
        opts: pulumi.ResourceOptions,
    ) -> dict[str, str]:
        """Critical alarms notify the critical topic on ALARM and OK; warnings only on ALARM."""
        names: dict[str, str] = {}
        for definition in _metric_alarm_definitions(
            args.name_prefix,
            args.thresholds,
            load_balancer=args.alb_arn_suffix,
            target_group=args.target_group_arn_suffix,
            cluster_name=args.cluster_name,
            service_name=args.service_name,
            app_environment=args.app_environment,
        ):
            names[definition.key] = alarm_name(args.name_prefix, definition.key)
            aws.cloudwatch.MetricAlarm(
                f"{name}-{definition.key}",
                name=names[definition.key],
                alarm_actions=[routes.topic_for(definition)],
                ok_actions=[routes.critical] if definition.critical else None,
                tags={"alarm": definition.key},
                opts=opts,
                **definition.properties,
            )
        return names

    def _create_database_metric_filter(
        self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions
    ) -> aws.cloudwatch.LogMetricFilter:
        return aws.cloudwatch.LogMetricFilter(
            f"{name}-database-health-failures-filter",
            name=database_failure_metric_name(args.name_prefix),
            log_group_name=args.app_log_group_name,
            pattern=DATABASE_HEALTH_FAILURE_PATTERN,
            metric_transformation={
                "name": database_failure_metric_name(args.name_prefix),
                "namespace": APP_METRICS_NAMESPACE,
                "value": "1",
                "default_value": "0",
                "unit": "Count",
            },
            opts=opts,
        )

    def _create_external_check(
        self,
        name: str,
        args: AlarmsArgs,
        us_east_1_topic_arn: pulumi.Output[str],
        *,
        opts: pulumi.ResourceOptions,
        alarm_opts: pulumi.ResourceOptions,
    ) -> aws.route53.HealthCheck:
        """HTTPS /health from several regions; its alarm in us-east-1, where its metrics are."""
        health_check = aws.route53.HealthCheck(
            f"{name}-site-health-check",
            type="HTTPS",
            fqdn=args.site_hostname,
            port=443,
            enable_sni=True,
            resource_path=HEALTH_CHECK_PATH,
            request_interval=HEALTH_CHECK_INTERVAL_SECONDS,
            failure_threshold=HEALTH_CHECK_FAILURE_THRESHOLD,
            regions=list(HEALTH_CHECK_REGIONS),
            measure_latency=True,
            tags={"Name": f"{args.name_prefix}-site-health"},
            opts=opts,
        )
        aws.cloudwatch.MetricAlarm(
            f"{name}-external-health-check",
            name=alarm_name(args.name_prefix, "external-health-check"),
            alarm_description="The site's /health fails from Route 53 checkers in several regions",
            namespace="AWS/Route53",
            metric_name="HealthCheckStatus",
            dimensions={"HealthCheckId": health_check.id},
            statistic="Minimum",
            period=args.thresholds.period_seconds,
            evaluation_periods=args.thresholds.availability_evaluation_periods,
            comparison_operator="LessThanThreshold",
            threshold=1,
            treat_missing_data="breaching",
            alarm_actions=[us_east_1_topic_arn],
            ok_actions=[us_east_1_topic_arn],
            tags={"alarm": "external-health-check"},
            opts=alarm_opts,
        )
        return health_check

    def _create_deployment_rule(
        self,
        name: str,
        args: AlarmsArgs,
        warning_topic_arn: pulumi.Output[str],
        opts: pulumi.ResourceOptions,
    ) -> str:
        """ECS reports a failed deployment (circuit breaker or alarm rollback) as an event.

        The service rolled back to the running version, so this is a warning, not a page; the
        critical rate and latency alarms page if the failed rollout hurt users.
        """
        rule_name = alarm_name(args.name_prefix, "deployment-failed")
        rule = aws.cloudwatch.EventRule(
            f"{name}-deployment-failed",
            name=rule_name,
            description="An ECS deployment of the service failed and was rolled back",
            event_pattern=pulumi.Output.all(args.cluster_name, args.service_name).apply(
                lambda values: _deployment_failed_pattern(values[0], values[1])
            ),
            tags={"alarm": "deployment-failed"},
            opts=opts,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-deployment-failed-target",
            rule=rule.name,
            arn=warning_topic_arn,
            target_id="alarm-topic",
            input_transformer={
                "input_paths": {
                    "service": "$.resources[0]",
                    "reason": "$.detail.reason",
                    "time": "$.time",
                },
                "input_template": '"ECS deployment failed for <service> at <time>: <reason>"',
            },
            opts=opts,
        )
        return rule_name
