"""A CloudWatch dashboard showing the signals the alarms watch, with their thresholds drawn in."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.alarms import (
    APP_METRICS_NAMESPACE,
    BOOKING_FAILED_METRIC,
    CLIENT_METRICS_NAMESPACE,
    HTTP_5XX_RATE_EXPRESSION,
    HTTP_ERRORS_EXPRESSION,
    HTTP_RESPONSES_EXPRESSION,
    AlarmThresholds,
    database_failure_metric_name,
)

ALB = "AWS/ApplicationELB"
WIDGET_WIDTH = 12
WIDGET_HEIGHT = 6
GRID_COLUMNS = 24
# Route 53 publishes health-check metrics only in us-east-1.
HEALTH_CHECK_METRICS_REGION = "us-east-1"


@dataclass
class DashboardArgs:
    name_prefix: str
    """Prefix of the dashboard name, e.g. miko-prod (dashboard <prefix>-operations)."""
    region: str
    """Stack region: where the dashboard and the ALB/ECS/app metrics live."""
    alb_arn_suffix: pulumi.Input[str]
    """Load balancer ARN suffix, the LoadBalancer dimension."""
    target_group_arn_suffix: pulumi.Input[str]
    """Target group ARN suffix, the TargetGroup dimension."""
    cluster_name: pulumi.Input[str]
    """ECS cluster name."""
    service_name: pulumi.Input[str]
    """ECS service name."""
    health_check_id: pulumi.Input[str]
    """Route 53 health check ID (Alarms.health_check_id)."""
    app_environment: str
    """The app's APP_ENV, the Environment dimension of the browser metrics."""
    thresholds: AlarmThresholds
    """The alarms' thresholds, drawn as horizontal annotations."""


@dataclass(frozen=True)
class _Sources:
    load_balancer: str
    target_group: str
    cluster_name: str
    service_name: str
    health_check_id: str
    app_environment: str


def dashboard_name(name_prefix: str) -> str:
    return f"{name_prefix}-operations"


def _dashboard_url(region: str, name: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home"
        f"?region={region}#dashboards:name={name}"
    )


def _line(label: str, value: float) -> dict[str, Any]:
    return {"label": label, "value": value}


def _widget(
    title: str,
    metrics: Sequence[Sequence[Any]],
    region: str,
    *,
    stat: str = "Sum",
    annotations: Sequence[dict[str, Any]] = (),
    y_label: str = "",
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "title": title,
        "metrics": [list(metric) for metric in metrics],
        "region": region,
        "stat": stat,
        "period": 60,
        "view": "timeSeries",
        "stacked": False,
        "yAxis": {"left": {"min": 0, "label": y_label, "showUnits": False}},
    }
    if annotations:
        properties["annotations"] = {"horizontal": list(annotations)}
    return {"type": "metric", "properties": properties}


def _widgets(
    sources: _Sources, region: str, name_prefix: str, thresholds: AlarmThresholds
) -> list[dict[str, Any]]:
    lb = ("LoadBalancer", sources.load_balancer)
    target = (*lb, "TargetGroup", sources.target_group)
    service = ("ClusterName", sources.cluster_name, "ServiceName", sources.service_name)
    hidden = {"visible": False}
    return [
        _widget("Requests", [[ALB, "RequestCount", *lb, {"label": "Requests"}]], region),
        _widget(
            "5xx responses (% of requests)",
            [
                [ALB, "HTTPCode_Target_5XX_Count", *lb, {"id": "target_5xx", **hidden}],
                [ALB, "HTTPCode_ELB_5XX_Count", *lb, {"id": "elb_5xx", **hidden}],
                [ALB, "RequestCount", *lb, {"id": "requests", **hidden}],
                [{"expression": HTTP_ERRORS_EXPRESSION, "id": "errors", **hidden}],
                [{"expression": HTTP_RESPONSES_EXPRESSION, "id": "responses", **hidden}],
                [{"expression": HTTP_5XX_RATE_EXPRESSION, "id": "error_rate", "label": "5xx %"}],
            ],
            region,
            annotations=[
                _line("critical", thresholds.http_5xx_critical_percent),
                _line("warning", thresholds.http_5xx_warning_percent),
            ],
            y_label="%",
        ),
        _widget(
            "Target response time",
            [
                [ALB, "TargetResponseTime", *target, {"stat": "p95", "label": "p95"}],
                [ALB, "TargetResponseTime", *target, {"stat": "p99", "label": "p99"}],
            ],
            region,
            stat="p95",
            annotations=[
                _line("p95 critical", thresholds.latency_p95_critical_seconds),
                _line("p95 warning", thresholds.latency_p95_warning_seconds),
            ],
            y_label="seconds",
        ),
        _widget(
            "Targets behind the load balancer",
            [
                [ALB, "HealthyHostCount", *target, {"stat": "Minimum", "label": "healthy"}],
                [ALB, "UnHealthyHostCount", *target, {"stat": "Maximum", "label": "unhealthy"}],
            ],
            region,
            stat="Minimum",
            annotations=[_line("no healthy hosts below", 1)],
        ),
        _widget(
            "ECS service CPU and memory",
            [
                ["AWS/ECS", "CPUUtilization", *service, {"label": "CPU %"}],
                ["AWS/ECS", "MemoryUtilization", *service, {"label": "memory %"}],
            ],
            region,
            stat="Average",
            annotations=[
                _line("CPU high", thresholds.cpu_high_percent),
                _line("memory high", thresholds.memory_high_percent),
            ],
            y_label="%",
        ),
        _widget(
            "Database health check failures",
            [[APP_METRICS_NAMESPACE, database_failure_metric_name(name_prefix)]],
            region,
            annotations=[_line("alarm at", thresholds.database_failures_per_period)],
        ),
        _widget(
            "Appointment bookings that failed in browsers",
            [
                [
                    CLIENT_METRICS_NAMESPACE,
                    BOOKING_FAILED_METRIC,
                    "Environment",
                    sources.app_environment,
                    {"label": "failed bookings"},
                ]
            ],
            region,
            annotations=[_line("warning at", thresholds.booking_failures_per_period)],
        ),
        _widget(
            "External /health check (Route 53, 1 = healthy)",
            [["AWS/Route53", "HealthCheckStatus", "HealthCheckId", sources.health_check_id]],
            HEALTH_CHECK_METRICS_REGION,
            stat="Minimum",
            annotations=[_line("failing below", 1)],
        ),
    ]


def _dashboard_body(
    sources: _Sources, region: str, name_prefix: str, thresholds: AlarmThresholds
) -> str:
    """Dashboard JSON, serialised with sorted keys so an unchanged stack renders the same bytes."""
    widgets = _widgets(sources, region, name_prefix, thresholds)
    columns = GRID_COLUMNS // WIDGET_WIDTH
    placed = [
        {
            **widget,
            "x": (index % columns) * WIDGET_WIDTH,
            "y": (index // columns) * WIDGET_HEIGHT,
            "width": WIDGET_WIDTH,
            "height": WIDGET_HEIGHT,
        }
        for index, widget in enumerate(widgets)
    ]
    return json.dumps({"widgets": placed}, sort_keys=True)


class Dashboard(pulumi.ComponentResource):
    """The on-call dashboard: the same signals as the alarms, as graphs."""

    dashboard_url: pulumi.Output[str]
    """Console URL of the dashboard."""

    def __init__(
        self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:observability:Dashboard", name, None, opts)
        body = pulumi.Output.all(
            args.alb_arn_suffix,
            args.target_group_arn_suffix,
            args.cluster_name,
            args.service_name,
            args.health_check_id,
            args.app_environment,
        ).apply(
            lambda values: _dashboard_body(
                _Sources(*values),
                args.region,
                args.name_prefix,
                args.thresholds,
            )
        )
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=dashboard_name(args.name_prefix),
            dashboard_body=body,
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.dashboard_url = dashboard.dashboard_name.apply(
            lambda created: _dashboard_url(args.region, created)
        )
        self.register_outputs({"dashboard_url": self.dashboard_url})
