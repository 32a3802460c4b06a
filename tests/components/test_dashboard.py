import json
from typing import Any

from components.alarms import (
    CLIENT_METRICS_NAMESPACE,
    HTTP_5XX_RATE_EXPRESSION,
    database_failure_metric_name,
)
from components.dashboard import Dashboard, DashboardArgs, _dashboard_body, _Sources
from tests.components.edge_alarm_fixtures import STAGING_THRESHOLDS, capture, render

SOURCES = _Sources(
    load_balancer="app/miko-prod/0123",
    target_group="targetgroup/miko-prod/4567",
    cluster_name="miko-prod-cluster",
    service_name="miko-prod-app",
    health_check_id="hc-1234",
    app_environment="production",
)


def _body() -> Any:
    return json.loads(_dashboard_body(SOURCES, "eu-central-1", "miko-prod", STAGING_THRESHOLDS))


def _metric_names(widget: dict[str, Any]) -> set[str]:
    return {row[1] for row in widget["properties"]["metrics"] if isinstance(row[0], str)}


def _widget_titled(prefix: str) -> Any:
    (widget,) = [w for w in _body()["widgets"] if w["properties"]["title"].startswith(prefix)]
    return widget


def test_body_is_deterministic():
    first = _dashboard_body(SOURCES, "eu-central-1", "miko-prod", STAGING_THRESHOLDS)
    second = _dashboard_body(SOURCES, "eu-central-1", "miko-prod", STAGING_THRESHOLDS)

    assert first == second
    assert first == json.dumps(json.loads(first), sort_keys=True)


def test_dashboard_shows_every_alarm_signal():
    shown = set().union(*(_metric_names(widget) for widget in _body()["widgets"]))

    assert shown >= {
        "RequestCount",
        "HTTPCode_Target_5XX_Count",
        "HTTPCode_ELB_5XX_Count",
        "TargetResponseTime",
        "HealthyHostCount",
        "UnHealthyHostCount",
        "CPUUtilization",
        "MemoryUtilization",
        database_failure_metric_name("miko-prod"),
        "HealthCheckStatus",
    }


def test_5xx_widget_plots_the_alarm_expression_with_thresholds():
    widget = _widget_titled("5xx")

    expressions = [
        row[0]["expression"] for row in widget["properties"]["metrics"] if isinstance(row[0], dict)
    ]
    assert HTTP_5XX_RATE_EXPRESSION in expressions
    lines = {
        line["label"]: line["value"] for line in widget["properties"]["annotations"]["horizontal"]
    }
    assert lines == {"critical": 5, "warning": 1}


def test_latency_widget_shows_p95_and_p99_with_thresholds():
    widget = _widget_titled("Target response time")

    stats = [row[-1]["stat"] for row in widget["properties"]["metrics"]]
    assert stats == ["p95", "p99"]
    lines = {
        line["label"]: line["value"] for line in widget["properties"]["annotations"]["horizontal"]
    }
    assert lines == {"p95 critical": 3, "p95 warning": 1}


def test_external_check_widget_reads_us_east_1():
    widget = _widget_titled("External /health")

    assert widget["properties"]["region"] == "us-east-1"
    assert widget["properties"]["metrics"] == [
        ["AWS/Route53", "HealthCheckStatus", "HealthCheckId", "hc-1234"]
    ]


def test_widgets_do_not_overlap():
    cells = set()
    for widget in _body()["widgets"]:
        for column in range(widget["x"], widget["x"] + widget["width"]):
            for row in range(widget["y"], widget["y"] + widget["height"]):
                assert (column, row) not in cells
                cells.add((column, row))
        assert widget["x"] + widget["width"] <= 24


def _render_dashboard(outputs: dict[str, Any]):
    def build():
        dashboard = Dashboard(
            "dashboard",
            DashboardArgs(
                name_prefix="miko-prod",
                region="eu-central-1",
                alb_arn_suffix="app/miko-prod/0123",
                target_group_arn_suffix="targetgroup/miko-prod/4567",
                cluster_name="miko-prod-cluster",
                service_name="miko-prod-app",
                health_check_id="hc-1234",
                app_environment="production",
                thresholds=STAGING_THRESHOLDS,
            ),
        )
        return capture(dashboard.dashboard_url, outputs, "url")

    return render(build)


def test_component_registers_the_dashboard_and_its_url():
    outputs: dict[str, Any] = {}
    mocks = _render_dashboard(outputs)

    (dashboard,) = mocks.of_type("aws:cloudwatch/dashboard:Dashboard")
    assert dashboard.inputs["dashboardName"] == "miko-prod-operations"
    assert json.loads(dashboard.inputs["dashboardBody"]) == _body()
    assert outputs["url"] == (
        "https://eu-central-1.console.aws.amazon.com/cloudwatch/home"
        "?region=eu-central-1#dashboards:name=miko-prod-operations"
    )


def test_two_renders_give_identical_dashboard_inputs():
    first = _render_dashboard({}).of_type("aws:cloudwatch/dashboard:Dashboard")[0].inputs
    second = _render_dashboard({}).of_type("aws:cloudwatch/dashboard:Dashboard")[0].inputs

    assert first == second


def test_failed_bookings_are_drawn_with_the_warning_threshold():
    widget = next(
        w for w in _body()["widgets"] if w["properties"]["title"].startswith("Appointment bookings")
    )
    [metric] = widget["properties"]["metrics"]
    assert metric[:4] == [CLIENT_METRICS_NAMESPACE, "booking_failed", "Environment", "production"]
    assert widget["properties"]["annotations"]["horizontal"] == [
        {"label": "warning at", "value": STAGING_THRESHOLDS.booking_failures_per_period}
    ]
