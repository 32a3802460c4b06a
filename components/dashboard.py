"""A CloudWatch dashboard drawing every signal of the catalogue, alarm thresholds as lines.

One widget per panel of components/signals.py, in catalogue order; each alarmed signal draws its
threshold as a horizontal line labelled with its alarm key.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.signal_model import Metric, MetricMath, Panel, Signal, SignalScope, SignalSources
from components.signals import SIGNALS
from config.sections import AlarmSettings

WIDGET_WIDTH = 12
WIDGET_HEIGHT = 6
GRID_COLUMNS = 24


@dataclass
class DashboardArgs:
    prefix: str
    """Prefix of the dashboard name, e.g. miko-prod (dashboard <prefix>-operations)."""
    region: str
    """Stack region: where the dashboard and the signals without a region of their own live."""
    settings: AlarmSettings
    """The alarms' settings, whose thresholds are drawn as horizontal lines."""
    sources: SignalSources
    """The load balancer, target group and service the signals watch."""
    health_check_id: pulumi.Input[str]
    """Route 53 health check ID (Alarms.health_check_id)."""


def dashboard_name(prefix: str) -> str:
    return f"{prefix}-operations"


def _dashboard_url(region: str, name: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home"
        f"?region={region}#dashboards:name={name}"
    )


def _metric_row(metric: Metric, scope: SignalScope, options: dict[str, Any]) -> list[Any]:
    """A graph line: namespace, name, dimension names and values, then its options."""
    dimensions = [part for pair in metric.dimensions(scope).items() for part in pair]
    label = {"label": metric.label} if metric.label else {}
    return [metric.namespace, metric.metric_name(scope.prefix), *dimensions, {**options, **label}]


def _rows(query: Metric | MetricMath, scope: SignalScope) -> list[list[Any]]:
    """The lines of one query; metric math shows only its result, as the alarm returns it."""
    if isinstance(query, Metric):
        return [_metric_row(query, scope, {"stat": query.stat})]
    hidden = {"visible": False}
    *steps, (result_id, result) = query.steps
    return [
        *(
            _metric_row(metric, scope, {"id": query_id, "stat": metric.stat, **hidden})
            for query_id, metric in query.inputs
        ),
        *([{"expression": expression, "id": step_id, **hidden}] for step_id, expression in steps),
        [{"expression": result, "id": result_id, "label": query.label}],
    ]


def _widget(
    panel: Panel,
    signals: Sequence[Signal],
    settings: AlarmSettings,
    scope: SignalScope,
    region: str,
) -> dict[str, Any]:
    """One panel's widget: each distinct query once, each alarm's threshold as a line."""
    regions = {signal.region or region for signal in signals}
    if len(regions) > 1:
        raise ValueError(f"panel {panel.title!r} mixes metrics of regions {sorted(regions)}")
    queries = list(dict.fromkeys(signal.query for signal in signals))
    first = queries[0] if isinstance(queries[0], Metric) else queries[0].inputs[0][1]
    properties: dict[str, Any] = {
        "title": panel.title,
        "metrics": [row for query in queries for row in _rows(query, scope)],
        "region": regions.pop(),
        "stat": first.stat,
        "period": settings.period_seconds,
        "view": "timeSeries",
        "stacked": False,
        "yAxis": {"left": {"min": 0, "label": panel.unit, "showUnits": False}},
    }
    lines = [
        {"label": signal.key, "value": signal.threshold_value(settings)}
        for signal in signals
        if signal.severity is not None
    ]
    if lines:
        properties["annotations"] = {"horizontal": lines}
    return {"type": "metric", "properties": properties}


def _dashboard_body(
    signals: Sequence[Signal], settings: AlarmSettings, scope: SignalScope, region: str
) -> str:
    """Dashboard JSON, serialised with sorted keys so an unchanged stack renders the same bytes."""
    panels: dict[Panel, list[Signal]] = {}
    for signal in signals:
        panels.setdefault(signal.panel, []).append(signal)
    columns = GRID_COLUMNS // WIDGET_WIDTH
    placed = [
        {
            **_widget(panel, members, settings, scope, region),
            "x": (index % columns) * WIDGET_WIDTH,
            "y": (index // columns) * WIDGET_HEIGHT,
            "width": WIDGET_WIDTH,
            "height": WIDGET_HEIGHT,
        }
        for index, (panel, members) in enumerate(panels.items())
    ]
    return json.dumps({"widgets": placed}, sort_keys=True)


def _resolved_body(args: DashboardArgs, values: list[str]) -> str:
    """The body once the sources and the health check ID are known."""
    load_balancer, target_group, cluster_name, service_name, health_check_id = values
    sources = SignalSources(
        load_balancer, target_group, cluster_name, service_name, args.sources.environment
    )
    scope = SignalScope(args.prefix, sources, health_check_id)
    return _dashboard_body(SIGNALS, args.settings, scope, args.region)


class Dashboard(pulumi.ComponentResource):
    """The on-call dashboard: the signals of the alarms, and a few graph-only ones, as graphs."""

    dashboard_url: pulumi.Output[str]
    """Console URL of the dashboard."""

    def __init__(
        self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:observability:Dashboard", name, None, opts)
        sources = args.sources
        body = pulumi.Output.all(
            sources.load_balancer,
            sources.target_group,
            sources.cluster_name,
            sources.service_name,
            args.health_check_id,
        ).apply(lambda values: _resolved_body(args, values))
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=dashboard_name(args.prefix),
            dashboard_body=body,
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.dashboard_url = dashboard.dashboard_name.apply(
            lambda created: _dashboard_url(args.region, created)
        )
        self.register_outputs({"dashboard_url": self.dashboard_url})
