"""What a signal is: a metric or metric-math query, its panel, and how it alarms.

The catalogue of signals is `components/signals.py`; this module only defines its entries.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pulumi

from app.contract import LogMatch
from config.sections import AlarmSettings

Severity = Literal["critical", "warning"]
Comparison = Literal["GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold"]
MissingData = Literal["notBreaching", "breaching"]


@dataclass(frozen=True)
class SignalSources:
    """The watched resources, as other components output them."""

    load_balancer: pulumi.Input[str]
    """ALB ARN suffix (app/<name>/<id>), the LoadBalancer dimension."""
    target_group: pulumi.Input[str]
    """Target group ARN suffix (targetgroup/<name>/<id>), the TargetGroup dimension."""
    cluster_name: pulumi.Input[str]
    service_name: pulumi.Input[str]
    environment: str
    """APP_ENV, the Environment dimension of the client metrics."""


@dataclass(frozen=True)
class SignalScope:
    """What a signal's metric is read against: the stack's prefix, sources and health check."""

    prefix: str
    sources: SignalSources
    health_check_id: pulumi.Input[str]


Dimensions = Callable[[SignalScope], Mapping[str, pulumi.Input[str]]]


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: Dimensions
    stat: str
    """A statistic (Sum, Average, Minimum, Maximum) or a percentile (p95)."""
    label: str = ""
    per_stack: bool = False
    """Named `<prefix>-<name>`, so staging and prod in one account do not add up (log filters)."""

    def metric_name(self, prefix: str) -> str:
        return f"{prefix}-{self.name}" if self.per_stack else self.name


@dataclass(frozen=True)
class MetricMath:
    inputs: tuple[tuple[str, Metric], ...]
    """Query id and metric of each input the expressions read."""
    steps: tuple[tuple[str, str], ...]
    """Query id and expression of each step; the last one is the signal's value."""
    label: str


@dataclass(frozen=True)
class Panel:
    """A dashboard widget; the signals naming the same panel share it."""

    title: str
    unit: str = ""
    """Label of the left axis (%, seconds)."""


@dataclass(frozen=True)
class Signal:
    key: str
    """The signal's own key, unique in the catalogue: its alarm's name suffix and, unless
    `alarm_key` says otherwise, its `alarm` tag and runbook section."""
    panel: Panel
    query: Metric | MetricMath
    severity: Severity | None = None
    """Critical alarms page; warnings email; None: graph only, no alarm."""
    threshold: str | float | None = None
    """The AlarmSettings field holding the threshold, or a fixed value."""
    comparison: Comparison = "GreaterThanThreshold"
    evaluation_periods: str | int = "evaluation_periods"
    """The AlarmSettings field holding the number of periods, or a fixed number."""
    datapoints_to_alarm: str | int | None = None
    """The AlarmSettings field (or property) holding M of an M-of-N alarm, or a fixed number;
    None: every evaluated period (M = N)."""
    missing_data: MissingData = "notBreaching"
    description: str = ""
    """Alarm description; `{threshold}` is replaced by the threshold's value."""
    region: Literal["us-east-1"] | None = None
    """Where the metric lives when not in the stack's region (the alarms have a provider there)."""
    log_filter: LogMatch | None = None
    """The app log line a metric filter counts into this signal's (per-stack) metric."""
    rolls_back_deployments: bool = False
    """Whether the alarm's ALARM state rolls an ECS deployment back (critical alarms only)."""
    period: int | None = None
    """Seconds of one evaluation period; None: AlarmSettings.period_seconds."""
    alarm: str | None = None
    """The alarm key (tag `alarm`, runbook section) when several signals are one alarm watched in
    two regions (each region's alarm its own signal); None: the signal's key."""

    @property
    def alarm_key(self) -> str:
        """The `alarm` tag of this signal's alarm and the key of its runbook section."""
        return self.alarm or self.key

    def __post_init__(self) -> None:
        settings = (self.threshold, self.evaluation_periods, self.datapoints_to_alarm)
        named = [value for value in settings if isinstance(value, str)]
        unknown = [name for name in named if not _is_setting(name)]
        if unknown:
            raise ValueError(f"signal {self.key}: {unknown} are not AlarmSettings fields")
        if (self.severity is None) != (self.threshold is None):
            raise ValueError(f"signal {self.key}: an alarm needs a severity and a threshold")
        if self.rolls_back_deployments and self.severity != "critical":
            raise ValueError(f"signal {self.key}: only a critical alarm rolls deployments back")
        if self.log_filter and not (isinstance(self.query, Metric) and self.query.per_stack):
            raise ValueError(f"signal {self.key}: a log filter publishes a per-stack Metric")
        if self.alarm is not None and self.severity is None:
            raise ValueError(f"signal {self.key}: only an alarmed signal belongs to an alarm")

    def threshold_value(self, settings: AlarmSettings) -> Any:
        return _setting(settings, self.threshold)

    def evaluation_periods_value(self, settings: AlarmSettings) -> Any:
        return _setting(settings, self.evaluation_periods)

    def datapoints_to_alarm_value(self, settings: AlarmSettings) -> Any:
        if self.datapoints_to_alarm is None:
            return self.evaluation_periods_value(settings)
        return _setting(settings, self.datapoints_to_alarm)


def _is_setting(name: str) -> bool:
    """A field of AlarmSettings, or a property derived from its fields."""
    return name in AlarmSettings.model_fields or isinstance(
        getattr(AlarmSettings, name, None), property
    )


def _setting(settings: AlarmSettings, value: str | float | None) -> Any:
    return getattr(settings, value) if isinstance(value, str) else value
