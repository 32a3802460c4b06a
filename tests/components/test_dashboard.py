import json
from typing import Any

import pytest

from app.contract import (
    APP_METRICS_NAMESPACE,
    BOOKING_FAILED_METRIC,
    CLIENT_METRICS_NAMESPACE,
    STATUS_CLASSES,
)
from components.dashboard import Dashboard, DashboardArgs, _dashboard_body
from components.signals import HTTP_5XX_RATE, SIGNALS
from tests.components.edge_alarm_fixtures import capture, render

DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"


@pytest.fixture(scope="module")
def body(alarm_settings, signal_scope) -> Any:
    return json.loads(_dashboard_body(SIGNALS, alarm_settings, signal_scope, "eu-central-1"))


def _metric_names(widget: dict[str, Any]) -> set[str]:
    return {row[1] for row in widget["properties"]["metrics"] if isinstance(row[0], str)}


def _widget_titled(body: Any, prefix: str) -> Any:
    (widget,) = [w for w in body["widgets"] if w["properties"]["title"].startswith(prefix)]
    return widget


def _lines(widget: dict[str, Any]) -> dict[str, float]:
    horizontal = widget["properties"].get("annotations", {}).get("horizontal", [])
    return {line["label"]: line["value"] for line in horizontal}


def test_body_is_deterministic(alarm_settings, signal_scope):
    first = _dashboard_body(SIGNALS, alarm_settings, signal_scope, "eu-central-1")
    second = _dashboard_body(SIGNALS, alarm_settings, signal_scope, "eu-central-1")

    assert first == second
    assert first == json.dumps(json.loads(first), sort_keys=True)


def test_every_signal_of_the_catalogue_is_drawn_in_its_panel(body):
    widgets = {widget["properties"]["title"]: widget for widget in body["widgets"]}

    assert list(widgets) == list(dict.fromkeys(signal.panel.title for signal in SIGNALS))
    for signal in SIGNALS:
        widget = widgets[signal.panel.title]
        if signal.severity is None:
            labels = [row[-1].get("label") for row in widget["properties"]["metrics"]]
            assert signal.query.label in labels, signal.key
        else:
            assert signal.key in _lines(widget), signal.key


def test_dashboard_shows_every_alarm_signal(body):
    shown = set().union(*(_metric_names(widget) for widget in body["widgets"]))

    assert shown >= {
        "RequestCount",
        "HTTPCode_Target_5XX_Count",
        "HTTPCode_ELB_5XX_Count",
        "TargetResponseTime",
        "HealthyHostCount",
        "UnHealthyHostCount",
        "CPUUtilization",
        "MemoryUtilization",
        "miko-prod-database-health-failures",
        "HealthCheckStatus",
    }


def test_5xx_widget_plots_the_alarm_expression_with_thresholds(body):
    widget = _widget_titled(body, "5xx")

    expressions = [
        row[0]["expression"] for row in widget["properties"]["metrics"] if isinstance(row[0], dict)
    ]
    assert HTTP_5XX_RATE.steps[-1][1] in expressions
    assert _lines(widget) == {"http-5xx-critical": 5, "http-5xx-warning": 1}


def test_latency_widget_shows_p95_and_p99_with_thresholds(body):
    widget = _widget_titled(body, "Target response time")

    stats = [row[-1]["stat"] for row in widget["properties"]["metrics"]]
    assert stats == ["p95", "p99"]
    assert _lines(widget) == {"latency-p95-critical": 3, "latency-p95-warning": 1}


def test_external_check_widget_reads_us_east_1(body):
    widget = _widget_titled(body, "External /health")

    assert widget["properties"]["region"] == "us-east-1"
    assert widget["properties"]["metrics"] == [
        ["AWS/Route53", "HealthCheckStatus", "HealthCheckId", "hc-1234", {"stat": "Minimum"}]
    ]


def test_failed_bookings_are_drawn_with_the_warning_threshold(body, alarm_settings):
    widget = _widget_titled(body, "Appointment bookings")

    [metric] = widget["properties"]["metrics"]
    assert metric[:4] == [
        CLIENT_METRICS_NAMESPACE,
        BOOKING_FAILED_METRIC,
        "Environment",
        "production",
    ]
    assert _lines(widget) == {"booking-failures": alarm_settings.booking_failures_per_period}


def test_widgets_do_not_overlap(body):
    cells = set()
    for widget in body["widgets"]:
        for column in range(widget["x"], widget["x"] + widget["width"]):
            for row in range(widget["y"], widget["y"] + widget["height"]):
                assert (column, row) not in cells
                cells.add((column, row))
        assert widget["x"] + widget["width"] <= 24


def _render_dashboard(settings, sources, outputs: dict[str, Any]):
    def build():
        dashboard = Dashboard(
            "dashboard",
            DashboardArgs(
                prefix="miko-prod",
                region="eu-central-1",
                settings=settings,
                sources=sources,
                health_check_id="hc-1234",
            ),
        )
        return capture(dashboard.dashboard_url, outputs, "url")

    return render(build)


def test_component_registers_the_dashboard_and_its_url(alarm_settings, signal_sources, body):
    outputs: dict[str, Any] = {}
    mocks = _render_dashboard(alarm_settings, signal_sources, outputs)

    (dashboard,) = mocks.of_type(DASHBOARD)
    assert dashboard.inputs["dashboardName"] == "miko-prod-operations"
    assert json.loads(dashboard.inputs["dashboardBody"]) == body
    assert outputs["url"] == (
        "https://eu-central-1.console.aws.amazon.com/cloudwatch/home"
        "?region=eu-central-1#dashboards:name=miko-prod-operations"
    )


def test_two_renders_give_identical_dashboard_inputs(alarm_settings, signal_sources):
    first, second = (
        _render_dashboard(alarm_settings, signal_sources, {}).of_type(DASHBOARD)[0].inputs
        for _ in range(2)
    )

    assert first == second


# --- the app's own series (EMF) ---------------------------------------------------------------


def _app_rows(widget: dict[str, Any]) -> list[list[Any]]:
    return [row for row in widget["properties"]["metrics"] if row[0] == APP_METRICS_NAMESPACE]


def test_requests_by_status_class_come_from_the_app_s_emf_lines(body):
    widget = _widget_titled(body, "App responses by status class")

    rows = _app_rows(widget)
    assert [row[1] for row in rows] == [f"Requests_{status}" for status in STATUS_CLASSES]
    assert all(row[2:4] == ["Environment", "production"] for row in rows)
    assert {row[-1]["stat"] for row in rows} == {"Sum"}


def test_app_latency_shows_p95_and_p99_of_the_emf_histograms(body):
    widget = _widget_titled(body, "App response time by route class")

    rows = [(row[1], row[-1]["stat"]) for row in _app_rows(widget)]
    assert rows == [
        ("Latency_page", "p95"),
        ("Latency_page", "p99"),
        ("Latency_ingest", "p95"),
        ("Latency_ingest", "p99"),
    ]
    assert widget["properties"]["yAxis"]["left"]["label"] == "ms"


def test_dependency_failures_and_ingest_outcomes_are_drawn(body):
    failures = _widget_titled(body, "Dependency check failures")
    outcomes = _widget_titled(body, "Browser ingestion POSTs by outcome")
    rate = _widget_titled(body, "Browser ingestion POSTs refused")

    assert {row[1] for row in _app_rows(failures)} == {
        "DependencyFailures_supabase",
        "DependencyFailures_postgres",
        "DependencyFailures_n8n",
        "DependencyFailures_google",
        "DependencyFailures_other",
    }
    assert [row[1] for row in _app_rows(outcomes)] == [
        "Ingest_accepted",
        "Ingest_rejected",
        "Ingest_rate_limited",
    ]
    rows = rate["properties"]["metrics"]
    expressions = [row[0]["expression"] for row in rows if isinstance(row[0], dict)]
    assert expressions[-1].startswith("IF(posts >= ")
    assert "annotations" not in rate["properties"]  # graph-only: no alarm threshold
