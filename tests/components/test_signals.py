"""The signal catalogue, and the alarm and widget builders it drives, mostly without Pulumi."""

import json
from dataclasses import replace
from string import Formatter
from typing import Any

import pytest

from app.contract import (
    APP_METRICS_NAMESPACE,
    CLIENT_METRICS_NAMESPACE,
    DATABASE_CHECK_FAILED,
    EMF_METRIC_NAMES,
    ENVIRONMENT_DIMENSION,
)
from components import alarms
from components.alarm_topics import AlarmTopics
from components.alarms import _alarm_properties, _notifications
from components.dashboard import _dashboard_body
from components.signal_model import Metric, Panel, Signal
from components.signals import (
    ALB,
    APP_SIGNALS,
    INGEST_REJECTION_MIN_POSTS,
    INGEST_REJECTION_RATE,
    SIGNALS,
)
from config.sections import AlarmSettings

METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
NEW_SIGNAL = Signal(
    "ecs-running-tasks-low",
    Panel("Running tasks"),
    Metric(
        "ECS/ContainerInsights",
        "RunningTaskCount",
        lambda scope: {"ClusterName": scope.sources.cluster_name},
        "Minimum",
    ),
    severity="warning",
    threshold=1,
    comparison="LessThanThreshold",
    description="Fewer than {threshold} running task",
)


def _signal(key: str) -> Signal:
    (signal,) = [signal for signal in SIGNALS if signal.key == key]
    return signal


def _widgets_by_title(body: str) -> dict[str, Any]:
    return {widget["properties"]["title"]: widget for widget in json.loads(body)["widgets"]}


# --- the catalogue --------------------------------------------------------------------------


def test_keys_are_unique():
    keys = [signal.key for signal in SIGNALS]

    assert len(keys) == len(set(keys))


def test_every_alarm_has_a_description_naming_no_other_placeholder():
    for signal in SIGNALS:
        if signal.severity is not None:
            fields = {field for _, field, _, _ in Formatter().parse(signal.description) if field}
            assert signal.description, signal.key
            assert fields <= {"threshold"}, signal.key


def test_every_named_setting_is_a_number_of_the_section(alarm_settings):
    for signal in SIGNALS:
        if signal.severity is not None:
            assert isinstance(signal.threshold_value(alarm_settings), int | float), signal.key
            assert isinstance(signal.evaluation_periods_value(alarm_settings), int), signal.key


def test_the_database_signal_counts_the_line_the_contract_names():
    signal = _signal("database-health-failures")

    assert signal.log_filter == DATABASE_CHECK_FAILED
    assert isinstance(signal.query, Metric)
    assert signal.query.namespace == APP_METRICS_NAMESPACE
    assert signal.query.metric_name("miko-prod") == "miko-prod-database-health-failures"


def test_failed_bookings_are_read_where_the_app_writes_them(signal_scope):
    query = _signal("booking-failures").query

    assert isinstance(query, Metric)
    assert query.namespace == CLIENT_METRICS_NAMESPACE
    assert query.dimensions(signal_scope) == {ENVIRONMENT_DIMENSION: "production"}


def test_only_the_critical_rate_and_latency_alarms_roll_back():
    assert alarms.alarm_names_for_rollback("miko-prod") == [
        "miko-prod-http-5xx-critical",
        "miko-prod-latency-p95-critical",
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"threshold": "no_such_field"}, "not AlarmSettings fields"),
        ({"evaluation_periods": "emails_count"}, "not AlarmSettings fields"),
        ({"severity": None}, "needs a severity and a threshold"),
        ({"rolls_back_deployments": True}, "only a critical alarm"),
        ({"log_filter": DATABASE_CHECK_FAILED}, "per-stack Metric"),
        ({"severity": None, "threshold": None, "alarm": "x"}, "only an alarmed signal"),
    ],
)
def test_an_inconsistent_entry_is_refused_at_import(change, problem):
    with pytest.raises(ValueError, match=problem):
        replace(_signal("http-5xx-warning"), **change)


# --- builders -------------------------------------------------------------------------------


def test_alarm_properties_come_from_the_entry_and_the_settings(alarm_settings, signal_scope):
    properties = _alarm_properties(_signal("latency-p95-critical"), alarm_settings, signal_scope)

    assert properties == {
        "alarm_description": (
            "p95 target response time above 3.0 s (critical). "
            "Runbook: docs/runbooks/alarms.md#latency-p95-critical"
        ),
        "namespace": ALB,
        "metric_name": "TargetResponseTime",
        "dimensions": {
            "LoadBalancer": "app/miko-prod/0123456789abcdef",
            "TargetGroup": "targetgroup/miko-prod/fedcba9876543210",
        },
        "period": AlarmSettings.period_seconds,
        "extended_statistic": "p95",
        "evaluation_periods": 5,
        "comparison_operator": "GreaterThanThreshold",
        "threshold": 3.0,
        "treat_missing_data": "notBreaching",
        "tags": {"alarm": "latency-p95-critical"},
    }


def test_metric_math_returns_only_its_last_step(alarm_settings, signal_scope):
    queries = _alarm_properties(_signal("http-5xx-critical"), alarm_settings, signal_scope)[
        "metric_queries"
    ]

    assert [query["id"] for query in queries if query["return_data"]] == ["error_rate"]
    assert {query["metric"]["stat"] for query in queries if "metric" in query} == {"Sum"}


def test_each_region_s_alarms_notify_that_region_s_topic_of_their_severity():
    topics = AlarmTopics(critical="c", warning="w", us_east_1="e", us_east_1_warning="ew")  # type: ignore[arg-type]
    east_warning = replace(_signal("external-health-check"), severity="warning")

    assert _notifications(_signal("external-health-check"), topics) == {
        "alarm_actions": ["e"],
        "ok_actions": ["e"],
    }
    assert _notifications(east_warning, topics) == {"alarm_actions": ["ew"]}
    assert _notifications(_signal("alarm-delivery-failed-us-east-1"), topics) == {
        "alarm_actions": ["ew"]
    }
    assert _notifications(_signal("alarm-delivery-failed"), topics) == {"alarm_actions": ["w"]}


def test_an_alarm_watched_in_two_regions_has_one_alarm_key():
    main, east = _signal("alarm-delivery-failed"), _signal("alarm-delivery-failed-us-east-1")

    assert main.alarm_key == east.alarm_key == "alarm-delivery-failed"
    assert (main.region, east.region) == (None, "us-east-1")
    assert _signal("requests").alarm_key == "requests"


def test_a_panel_cannot_mix_regions(alarm_settings, signal_scope):
    east_requests = replace(_signal("requests"), region="us-east-1")

    with pytest.raises(ValueError, match="mixes metrics of regions"):
        _dashboard_body(
            [_signal("requests"), replace(east_requests, key="east")],
            alarm_settings,
            signal_scope,
            "eu-central-1",
        )


# --- one entry is all a new signal takes ---------------------------------------------------


def test_a_new_entry_gets_a_widget_with_its_threshold(alarm_settings, signal_scope):
    body = _dashboard_body((*SIGNALS, NEW_SIGNAL), alarm_settings, signal_scope, "eu-central-1")

    widget = _widgets_by_title(body)["Running tasks"]
    assert widget["properties"]["metrics"][0][:2] == ["ECS/ContainerInsights", "RunningTaskCount"]
    assert widget["properties"]["annotations"]["horizontal"] == [
        {"label": "ecs-running-tasks-low", "value": 1}
    ]


def test_a_new_entry_gets_its_alarm(monkeypatch, render_alarms):
    monkeypatch.setattr(alarms, "SIGNALS", (*SIGNALS, NEW_SIGNAL))
    outputs: dict[str, Any] = {}

    mocks = render_alarms(outputs=outputs)

    (alarm,) = [a for a in mocks.of_type(METRIC_ALARM) if a.name == "alarms-ecs-running-tasks-low"]
    assert alarm.inputs["metricName"] == "RunningTaskCount"
    assert alarm.inputs["alarmDescription"] == (
        "Fewer than 1 running task. Runbook: docs/runbooks/alarms.md#ecs-running-tasks-low"
    )
    assert outputs["alarm_names"]["ecs-running-tasks-low"] == "miko-prod-ecs-running-tasks-low"


# --- the app's own series (EMF, app/emf.py) -----------------------------------------------------


def _emf_metrics(query: Metric | Any) -> list[Metric]:
    return [query] if isinstance(query, Metric) else [metric for _, metric in query.inputs]


def test_app_signals_read_the_emf_series_the_app_writes(signal_scope):
    metrics = [metric for signal in APP_SIGNALS for metric in _emf_metrics(signal.query)]
    assert metrics
    for metric in metrics:
        assert metric.namespace == APP_METRICS_NAMESPACE
        assert metric.metric_name("miko-prod") in EMF_METRIC_NAMES
        assert metric.dimensions(signal_scope) == {ENVIRONMENT_DIMENSION: "production"}
        assert not metric.per_stack  # the Environment dimension keeps the stacks apart
    assert set(APP_SIGNALS) <= set(SIGNALS)


def test_app_signals_graph_every_status_class_dependency_and_ingest_outcome():
    graphed = {m.name for signal in APP_SIGNALS for m in _emf_metrics(signal.query)}
    counted = {name for name in EMF_METRIC_NAMES if not name.startswith("Latency_")}
    assert counted - {"DependencyChecks"} <= graphed
    latency = {
        signal.query.stat
        for signal in APP_SIGNALS
        if isinstance(signal.query, Metric) and signal.query.name.startswith("Latency_")
    }
    assert latency == {"p95", "p99"}


def test_app_signals_add_no_alarm():
    assert all(signal.severity is None for signal in APP_SIGNALS)


def test_ingest_rejection_rate_ignores_a_handful_of_posts():
    (result_id, expression) = INGEST_REJECTION_RATE.steps[-1]
    assert result_id == "rejected_rate"
    assert f"IF(posts >= {INGEST_REJECTION_MIN_POSTS}," in expression
    assert [query_id for query_id, _ in INGEST_REJECTION_RATE.inputs] == ["accepted", "rejected"]
