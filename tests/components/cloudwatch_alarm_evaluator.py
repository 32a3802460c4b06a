"""A small evaluator of CloudWatch metric alarms, to walk datapoint sequences through an alarm's
rendered configuration (the MetricAlarm inputs, as the engine names them).

What it encodes, from the Amazon CloudWatch User Guide:

- "Evaluating an alarm" (AlarmThatSendsEmail.html#alarm-evaluation): each period's datapoint is
  the statistic of the samples in it; the alarm looks at the most recent Evaluation Periods (N)
  datapoints and goes to ALARM when Datapoints to Alarm (M) of them breach, consecutive or not.
- "Configuring how CloudWatch alarms treat missing data" (AlarmThatSendsEmail.html
  #alarms-and-missing-data), section "How alarm state is evaluated when data is missing":
  CloudWatch retrieves more datapoints than N (the evaluation range: 5 for N = 3 in the
  documented tables, modelled as N + `extra_periods`, 2 by default). With at least N existing
  datapoints it evaluates the most recent N of them and the missing-data setting is not used;
  with fewer, it evaluates every existing one plus as few filled-in ones as make N
  (`breaching`/`notBreaching`). `missing` goes to INSUFFICIENT_DATA when nothing exists and
  `ignore` keeps the state; with a few existing datapoints both decide only when those do (the
  rows of the documented tables, tests/components/test_cloudwatch_alarm_evaluator.py).
- "Alarm evaluation window" (alarm-evaluation-window.html): a SlidingWindow ends at the
  evaluation time; a WallClockWindow ends at the last clock boundary of the period (midnight for
  a day), so it evaluates complete, calendar-aligned periods.

Also: metric math alarms whose returned expression is a metric's id or `FILL(id, value)` (a
period without data takes `value`; a series with no data at all in the range stays empty).

Not modelled: other metric math, percentiles, high-resolution periods, time zones other than UTC,
weekly wall clock periods (the start of the calendar week), metric publication delay, and the
exact size of the evaluation range for long periods (undocumented; the backup alarm tests pass
for several sizes).
"""

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

State = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
MissingData = Literal["breaching", "notBreaching", "ignore", "missing"]

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
STATISTICS: dict[str, Callable[[list[float]], float]] = {
    "Sum": sum,
    "Minimum": min,
    "Maximum": max,
    "Average": lambda values: sum(values) / len(values),
    "SampleCount": len,
}
WALL_CLOCK_PERIODS = (60, 300, 3600, 86_400)
"""Periods a wall clock window aligns here (604800, the calendar week, is not modelled)."""
_FILL = re.compile(r"^FILL\(\s*(\w+)\s*,\s*(-?[\d.]+)\s*\)$")


@dataclass(frozen=True)
class Sample:
    """One value published to the metric at `time` (seconds since the epoch, UTC)."""

    time: float
    value: float


@dataclass(frozen=True)
class Alarm:
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    statistic: str
    treat_missing_data: MissingData = "missing"
    wall_clock: bool = False
    fill: float | None = None
    """FILL(metric, fill) as the alarm's expression; None: the metric itself."""

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS:
            raise NotImplementedError(f"comparison {self.comparison}")
        if self.statistic not in STATISTICS:
            raise NotImplementedError(f"statistic {self.statistic}")
        if self.wall_clock and self.period not in WALL_CLOCK_PERIODS:
            raise NotImplementedError(f"wall clock period {self.period}")
        if not 1 <= self.datapoints_to_alarm <= self.evaluation_periods:
            raise ValueError("datapoints to alarm must be between 1 and evaluation periods")

    @classmethod
    def from_rendered(cls, inputs: Mapping[str, Any]) -> "Alarm":
        """The alarm as a rendered `aws:cloudwatch/metricAlarm:MetricAlarm` describes it."""
        window = inputs.get("evaluationWindow") or {}
        wall_clock = window.get("wallClockWindow")
        if wall_clock is not None and wall_clock.get("timezone", "UTC") != "UTC":
            raise NotImplementedError(f"time zone {wall_clock['timezone']}")
        period, statistic, fill = _query(inputs)
        evaluation_periods = int(inputs["evaluationPeriods"])
        return cls(
            period=period,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=int(inputs.get("datapointsToAlarm", evaluation_periods)),
            threshold=float(inputs["threshold"]),
            comparison=inputs["comparisonOperator"],
            statistic=statistic,
            treat_missing_data=inputs.get("treatMissingData", "missing"),
            wall_clock=wall_clock is not None,
            fill=fill,
        )

    def breaches(self, value: float) -> bool:
        return bool(COMPARISONS[self.comparison](value, self.threshold))

    def window_end(self, at: float) -> float:
        """Where the evaluated range ends when evaluating at `at`."""
        return math.floor(at / self.period) * self.period if self.wall_clock else at

    def datapoints(
        self, samples: Sequence[Sample], at: float, extra_periods: int = 2
    ) -> list[float | None]:
        """The evaluation range's datapoints, oldest first (None: missing)."""
        end = self.window_end(at)
        count = self.evaluation_periods + extra_periods
        values: list[float | None] = []
        for index in range(count, 0, -1):
            start = end - index * self.period
            inside = [s.value for s in samples if start <= s.time < start + self.period]
            values.append(STATISTICS[self.statistic](inside) if inside else None)
        if self.fill is not None and any(value is not None for value in values):
            values = [self.fill if value is None else value for value in values]
        return values

    def evaluate(
        self,
        samples: Sequence[Sample],
        at: float,
        previous: State = "INSUFFICIENT_DATA",
        extra_periods: int = 2,
    ) -> State:
        return self.state_of(self.datapoints(samples, at, extra_periods), previous)

    def state_of(self, values: Sequence[float | None], previous: State) -> State:
        """The state for an evaluation range's datapoints (oldest first)."""
        n, m = self.evaluation_periods, self.datapoints_to_alarm
        existing = [value for value in values if value is not None]
        if len(existing) >= n:
            return _verdict(sum(map(self.breaches, existing[-n:])), m)
        missing = n - len(existing)
        if self.treat_missing_data == "breaching":
            return _verdict(sum(map(self.breaches, existing)) + missing, m)
        if self.treat_missing_data == "notBreaching":
            return _verdict(sum(map(self.breaches, existing)), m)
        return self._few_existing(values, existing, previous)

    def _few_existing(
        self, values: Sequence[float | None], existing: Sequence[float], previous: State
    ) -> State:
        """`missing` and `ignore` with fewer existing datapoints than evaluation periods."""
        undecided: State = "INSUFFICIENT_DATA" if self.treat_missing_data == "missing" else previous
        breaching = sum(map(self.breaches, existing))
        if existing and breaching >= self.datapoints_to_alarm:
            return "ALARM"
        if breaching < len(existing):
            return "OK"
        # Nothing, or only breaching datapoints too few to alarm. The documented sixth row: with
        # `missing`, the alarm goes to ALARM when the range's oldest datapoint is breaching.
        if existing and self.treat_missing_data == "missing" and values[0] is not None:
            return "ALARM"
        return undecided


def _verdict(breaching: int, datapoints_to_alarm: int) -> State:
    return "ALARM" if breaching >= datapoints_to_alarm else "OK"


def _query(inputs: Mapping[str, Any]) -> tuple[int, str, float | None]:
    """Period, statistic and FILL value of a single-metric alarm or FILL(metric) math."""
    queries = inputs.get("metricQueries")
    if not queries:
        return int(inputs["period"]), inputs["statistic"], None
    metrics = {q["id"]: q["metric"] for q in queries if q.get("metric")}
    [returned] = [q for q in queries if q.get("returnData")]
    if returned.get("metric"):
        metric, fill = returned["metric"], None
    else:
        expression = returned["expression"].strip()
        fill_match = _FILL.fullmatch(expression)
        if fill_match:
            metric, fill = metrics[fill_match[1]], float(fill_match[2])
        elif expression in metrics:
            metric, fill = metrics[expression], None
        else:
            raise NotImplementedError(f"metric math {expression!r}")
    return int(metric["period"]), metric["stat"], fill


@dataclass(frozen=True)
class Evaluation:
    time: float
    state: State


def walk(
    alarm: Alarm,
    samples: Iterable[Sample],
    *,
    start: float,
    end: float,
    step: float = 900,
    extra_periods: int = 2,
    initial: State = "INSUFFICIENT_DATA",
) -> list[Evaluation]:
    """Evaluate the alarm every `step` seconds from `start` to `end`; each evaluation's state."""
    ordered = sorted(samples, key=lambda sample: sample.time)
    state: State = initial
    evaluations = []
    at = start
    while at <= end:
        visible = [sample for sample in ordered if sample.time < at]
        state = alarm.evaluate(visible, at, state, extra_periods)
        evaluations.append(Evaluation(at, state))
        at += step
    return evaluations


def first(evaluations: Sequence[Evaluation], state: State) -> float | None:
    """Time of the first evaluation in `state`, or None."""
    return next((e.time for e in evaluations if e.state == state), None)


def states(evaluations: Sequence[Evaluation]) -> set[State]:
    return {evaluation.state for evaluation in evaluations}
