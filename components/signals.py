"""The signal catalogue: each signal the platform watches, once, for its alarm and its graph.

The alarms component makes one CloudWatch alarm per alarmed signal (and the log metric filter
that publishes its metric, where a signal has one); the dashboard draws every signal in its panel
with the alarm thresholds as horizontal lines. A new signal is one entry in `SIGNALS`. Pure data:
no resources are created here.
"""

from collections.abc import Mapping
from typing import Final, Literal

import pulumi

from app.contract import (
    APP_METRICS_NAMESPACE,
    BOOKING_FAILED_METRIC,
    CHECKED_DEPENDENCIES,
    CLIENT_METRICS_NAMESPACE,
    CSP_VIOLATION_REPORTED,
    DATABASE_CHECK_FAILED,
    DATABASE_CHECK_INTERVAL_SECONDS,
    EMF_DEPENDENCY_FAILURES,
    EMF_INGEST,
    EMF_LATENCY,
    EMF_REQUESTS,
    ENVIRONMENT_DIMENSION,
    HEALTH_PATH,
    INGEST_OUTCOMES,
    STATUS_CLASSES,
    emf_metric,
)
from components.alarm_topics import critical_topic_name, us_east_1_topic_name
from components.signal_model import (
    Dimensions,
    Metric,
    MetricMath,
    Panel,
    Signal,
    SignalScope,
    SignalSources,
)
from config.sections import AlarmSettings

__all__ = ["SIGNALS", "Signal", "SignalScope", "SignalSources"]

ALB = "AWS/ApplicationELB"
# Route 53 publishes health-check metrics only in us-east-1.
HEALTH_CHECK_METRICS_REGION: Final = "us-east-1"


def _load_balancer(scope: SignalScope) -> Mapping[str, pulumi.Input[str]]:
    return {"LoadBalancer": scope.sources.load_balancer}


def _target_group(scope: SignalScope) -> Mapping[str, pulumi.Input[str]]:
    return {**_load_balancer(scope), "TargetGroup": scope.sources.target_group}


def _ecs_service(scope: SignalScope) -> Mapping[str, pulumi.Input[str]]:
    return {"ClusterName": scope.sources.cluster_name, "ServiceName": scope.sources.service_name}


def _app_environment(scope: SignalScope) -> Mapping[str, pulumi.Input[str]]:
    return {ENVIRONMENT_DIMENSION: scope.sources.environment}


def _health_check(scope: SignalScope) -> Mapping[str, pulumi.Input[str]]:
    return {"HealthCheckId": scope.health_check_id}


def _stack_wide(scope: SignalScope) -> Mapping[str, pulumi.Input[str]]:
    return {}


def _critical_topic(scope: SignalScope) -> Mapping[str, pulumi.Input[str]]:
    return {"TopicName": critical_topic_name(scope.prefix)}


def _us_east_1_topic(scope: SignalScope) -> Mapping[str, pulumi.Input[str]]:
    return {"TopicName": us_east_1_topic_name(scope.prefix)}


def checks_per_period(interval_seconds: int, period_seconds: int) -> int:
    """Database checks one task starts in an alarm period: the database-health threshold.

    Each task runs the check every `interval_seconds` (one worker per task checks), so one task
    whose checks all fail reaches this count in a period on its own, whatever the task count:
    the alarm fires at the service's minimum task count with a single failing target.
    """
    if interval_seconds > period_seconds:
        raise ValueError(
            f"the database check interval ({interval_seconds} s) exceeds the alarm period "
            f"({period_seconds} s): a failing task would not fail a check every period"
        )
    return period_seconds // interval_seconds


DATABASE_FAILURES_PER_TASK_PERIOD: Final = checks_per_period(
    DATABASE_CHECK_INTERVAL_SECONDS, AlarmSettings.period_seconds
)

REQUESTS = Panel("Requests")
HTTP_5XX = Panel("5xx responses (% of requests)", unit="%")
LATENCY = Panel("Target response time", unit="seconds")
TARGETS = Panel("Targets behind the load balancer")
ECS_SERVICE = Panel("ECS service CPU and memory", unit="%")
DATABASE = Panel("Database health check failures")
BOOKINGS = Panel("Appointment bookings that failed in browsers")
CSP_REPORTS = Panel("Content-Security-Policy violations reported by browsers")
EXTERNAL_CHECK = Panel(f"External {HEALTH_PATH} check (Route 53, 1 = healthy)")
# A panel reads one region: one per paging topic.
DELIVERY_FAILURES = Panel("Alarm notifications SNS failed to deliver (critical topic)")
DELIVERY_FAILURES_US_EAST_1 = Panel(
    "Alarm notifications SNS failed to deliver (us-east-1 critical topic)"
)
# The app's own series, from its EMF lines (app/emf.py): namespace APP_METRICS_NAMESPACE,
# dimension Environment, names from app/contract.py.
APP_REQUESTS = Panel("App responses by status class (requests a minute)")
APP_LATENCY = Panel("App response time by route class", unit="ms")
DEPENDENCY_FAILURES = Panel("Dependency check failures (app checks)")
INGEST_OUTCOMES_PANEL = Panel("Browser ingestion POSTs by outcome")
INGEST_REJECTIONS = Panel("Browser ingestion POSTs refused (% of taken or refused)", unit="%")

ALARM_DELIVERY_FAILED: Final = "alarm-delivery-failed"
"""The alarm on failed deliveries of the paging topics: one alarm in each topic's region (SNS
publishes a topic's metrics in the topic's region), both tagged and documented under this key."""
DELIVERY_FAILURE_PERIOD_SECONDS: Final = 300
"""Failed deliveries are summed over five minutes: one failure is enough to alarm."""


def _delivery_failed(
    key: str,
    panel: Panel,
    dimensions: Dimensions,
    topic: str,
    region: Literal["us-east-1"] | None = None,
) -> Signal:
    """A warning (emails, not the pager) when SNS fails to deliver a notification of `topic`,
    once its retries (the subscription's delivery policy) are spent. Delivery-status logging
    would say which one, but its entries record the endpoint, and the pager's URL carries its
    integration key (components/alarm_topics.py)."""
    return Signal(
        key,
        panel,
        Metric("AWS/SNS", "NumberOfNotificationsFailed", dimensions, "Sum", "failed deliveries"),
        severity="warning",
        threshold=1,
        comparison="GreaterThanOrEqualToThreshold",
        evaluation_periods=1,
        missing_data="notBreaching",
        period=DELIVERY_FAILURE_PERIOD_SECONDS,
        description=(
            f"SNS failed to deliver {{threshold}}+ notification(s) of {topic} in five minutes: "
            "a page or alarm email may not have arrived"
        ),
        region=region,
        alarm=ALARM_DELIVERY_FAILED,
    )


# Requests the load balancer answers itself with a 5xx (no healthy target) are not in
# RequestCount, so with errors and no counted requests the rate is 100%.
HTTP_5XX_RATE = MetricMath(
    inputs=(
        ("target_5xx", Metric(ALB, "HTTPCode_Target_5XX_Count", _load_balancer, "Sum")),
        ("elb_5xx", Metric(ALB, "HTTPCode_ELB_5XX_Count", _load_balancer, "Sum")),
        ("requests", Metric(ALB, "RequestCount", _load_balancer, "Sum")),
    ),
    steps=(
        ("errors", "FILL(target_5xx, 0) + FILL(elb_5xx, 0)"),
        ("responses", "FILL(requests, 0)"),
        ("error_rate", "IF(responses > 0, 100 * errors / responses, IF(errors > 0, 100, 0))"),
    ),
    label="5xx responses (% of requests)",
)
P95_LATENCY = Metric(ALB, "TargetResponseTime", _target_group, "p95", label="p95")


def _app_metric(name: str, stat: str, label: str) -> Metric:
    return Metric(APP_METRICS_NAMESPACE, name, _app_environment, stat, label)


INGEST_REJECTION_MIN_POSTS: Final = 10
"""Fewer POSTs a minute than this read as 0%: a handful of junk posts is no trend."""
INGEST_REJECTION_RATE = MetricMath(
    inputs=(
        ("accepted", _app_metric(emf_metric(EMF_INGEST, "accepted"), "Sum", "accepted")),
        ("rejected", _app_metric(emf_metric(EMF_INGEST, "rejected"), "Sum", "rejected")),
    ),
    steps=(
        ("posts", "FILL(accepted, 0) + FILL(rejected, 0)"),
        (
            "rejected_rate",
            f"IF(posts >= {INGEST_REJECTION_MIN_POSTS}, 100 * FILL(rejected, 0) / posts, 0)",
        ),
    ),
    label="refused %",
)
"""What an alarm on the ingestion endpoints would watch: a release whose browser payloads the
API refuses (4xx) loses every browser log and metric, failed bookings included; the load
balancer's 4xx count cannot tell these routes from any other. Graph-only for now."""

APP_SIGNALS: tuple[Signal, ...] = (
    *(
        Signal(
            f"app-requests-{status}",
            APP_REQUESTS,
            _app_metric(emf_metric(EMF_REQUESTS, status), "Sum", status),
        )
        for status in STATUS_CLASSES
    ),
    *(
        Signal(
            f"app-latency-{route}-{stat}",
            APP_LATENCY,
            _app_metric(emf_metric(EMF_LATENCY, route), stat, f"{route} {stat}"),
        )
        for route in ("page", "ingest")
        for stat in ("p95", "p99")
    ),
    *(
        Signal(
            f"dependency-failures-{name}",
            DEPENDENCY_FAILURES,
            _app_metric(emf_metric(EMF_DEPENDENCY_FAILURES, name), "Sum", name),
        )
        for name in CHECKED_DEPENDENCIES
    ),
    *(
        Signal(
            f"ingest-{outcome.replace('_', '-')}",
            INGEST_OUTCOMES_PANEL,
            _app_metric(emf_metric(EMF_INGEST, outcome), "Sum", outcome),
        )
        for outcome in INGEST_OUTCOMES
    ),
    Signal("ingest-rejection-rate", INGEST_REJECTIONS, INGEST_REJECTION_RATE),
)
"""Graph-only signals of the app's EMF series: they add no alarm (the load balancer's 5xx and
latency alarms already watch the same requests from outside)."""

SIGNALS: tuple[Signal, ...] = (
    Signal("requests", REQUESTS, Metric(ALB, "RequestCount", _load_balancer, "Sum", "Requests")),
    Signal(
        "http-5xx-critical",
        HTTP_5XX,
        HTTP_5XX_RATE,
        severity="critical",
        threshold="http_5xx_critical_percent",
        description="5xx responses above {threshold}% of requests (critical)",
        rolls_back_deployments=True,
    ),
    Signal(
        "http-5xx-warning",
        HTTP_5XX,
        HTTP_5XX_RATE,
        severity="warning",
        threshold="http_5xx_warning_percent",
        description="5xx responses above {threshold}% of requests (warning)",
    ),
    Signal(
        "latency-p95-critical",
        LATENCY,
        P95_LATENCY,
        severity="critical",
        threshold="latency_p95_critical_seconds",
        description="p95 target response time above {threshold} s (critical)",
        rolls_back_deployments=True,
    ),
    Signal(
        "latency-p95-warning",
        LATENCY,
        P95_LATENCY,
        severity="warning",
        threshold="latency_p95_warning_seconds",
        description="p95 target response time above {threshold} s (warning)",
    ),
    Signal("latency-p99", LATENCY, Metric(ALB, "TargetResponseTime", _target_group, "p99", "p99")),
    Signal(
        "no-healthy-hosts",
        TARGETS,
        Metric(ALB, "HealthyHostCount", _target_group, "Minimum", "healthy"),
        severity="critical",
        threshold=1,
        comparison="LessThanThreshold",
        evaluation_periods="availability_evaluation_periods",
        # No data from the target group is no evidence of health.
        missing_data="breaching",
        description="No healthy target behind the load balancer: the app is down",
    ),
    Signal(
        "unhealthy-hosts",
        TARGETS,
        Metric(ALB, "UnHealthyHostCount", _target_group, "Maximum", "unhealthy"),
        severity="warning",
        threshold=0,
        description="At least one target fails the load balancer health check",
    ),
    Signal(
        "ecs-cpu-high",
        ECS_SERVICE,
        Metric("AWS/ECS", "CPUUtilization", _ecs_service, "Average", "CPU %"),
        severity="warning",
        threshold="ecs_cpu_high_percent",
        description="ECS service CPUUtilization above {threshold}%",
    ),
    Signal(
        "ecs-memory-high",
        ECS_SERVICE,
        Metric("AWS/ECS", "MemoryUtilization", _ecs_service, "Average", "memory %"),
        severity="warning",
        threshold="ecs_memory_high_percent",
        description="ECS service MemoryUtilization above {threshold}%",
    ),
    Signal(
        "database-health-failures",
        DATABASE,
        Metric(
            APP_METRICS_NAMESPACE, "database-health-failures", _stack_wide, "Sum", per_stack=True
        ),
        severity="critical",
        # One task's checks in a minute (not a count every task adds to): reachable by a single
        # failing target at the minimum task count.
        threshold=DATABASE_FAILURES_PER_TASK_PERIOD,
        comparison="GreaterThanOrEqualToThreshold",
        evaluation_periods="database_failing_minutes",
        datapoints_to_alarm="database_failing_datapoints",
        description=(
            "The app's database health check keeps failing ({threshold}+ failed checks a "
            "minute, as one task makes them, for several minutes)"
        ),
        log_filter=DATABASE_CHECK_FAILED,
    ),
    Signal(
        "booking-failures",
        BOOKINGS,
        Metric(
            CLIENT_METRICS_NAMESPACE,
            BOOKING_FAILED_METRIC,
            _app_environment,
            "Sum",
            "failed bookings",
        ),
        severity="warning",
        threshold="booking_failures_per_period",
        comparison="GreaterThanOrEqualToThreshold",
        evaluation_periods=1,
        description="Browsers report failed appointment bookings",
    ),
    Signal(
        "csp-violations",
        CSP_REPORTS,
        Metric(APP_METRICS_NAMESPACE, "csp-violations", _stack_wide, "Sum", per_stack=True),
        severity="warning",
        threshold="csp_violations_per_period",
        comparison="GreaterThanOrEqualToThreshold",
        evaluation_periods=1,
        # A spike after a deploy means the policy blocks something the SPA needs (or an
        # injection attempt): worked on in office hours, like failed bookings.
        description="Browsers report {threshold}+ Content-Security-Policy violations a minute",
        log_filter=CSP_VIOLATION_REPORTED,
    ),
    Signal(
        "external-health-check",
        EXTERNAL_CHECK,
        Metric("AWS/Route53", "HealthCheckStatus", _health_check, "Minimum"),
        severity="critical",
        threshold=1,
        comparison="LessThanThreshold",
        evaluation_periods="availability_evaluation_periods",
        missing_data="breaching",
        description=f"The site's {HEALTH_PATH} fails from Route 53 checkers in several regions",
        region=HEALTH_CHECK_METRICS_REGION,
    ),
    _delivery_failed(
        ALARM_DELIVERY_FAILED,
        DELIVERY_FAILURES,
        _critical_topic,
        "the critical alarm topic (pager and emails)",
    ),
    _delivery_failed(
        f"{ALARM_DELIVERY_FAILED}-us-east-1",
        DELIVERY_FAILURES_US_EAST_1,
        _us_east_1_topic,
        "the us-east-1 critical alarm topic (pager and emails)",
        # The topic's region, where SNS publishes its metrics.
        region="us-east-1",
    ),
    *APP_SIGNALS,
)
