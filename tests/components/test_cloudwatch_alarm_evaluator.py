"""The alarm evaluator against the examples AWS documents.

Source of truth: Amazon CloudWatch User Guide, "How alarm state is evaluated when data is
missing" (AlarmThatSendsEmail.html#alarms-evaluating-missing-data): its two tables, for
Datapoints to Alarm 3 of Evaluation Periods 3 and 2 of 3, with the 5 most recent datapoints
retrieved (0 not breaching, X breaching, - missing; oldest first). "Retain" is "Retain current
state". The window rules: "Alarm evaluation window" (alarm-evaluation-window.html).
"""

from typing import Any

import pytest

from tests.components.cloudwatch_alarm_evaluator import Alarm, Sample, first, states, walk

PERIOD = 300
COLUMNS = ("missing", "ignore", "breaching", "notBreaching")
THREE_OF_THREE = [
    ("0-X-X", ("OK", "OK", "OK", "OK")),
    ("0----", ("OK", "OK", "OK", "OK")),
    ("-----", ("INSUFFICIENT_DATA", "Retain", "ALARM", "OK")),
    ("0XX-X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    ("----X", ("INSUFFICIENT_DATA", "Retain", "ALARM", "OK")),
    ("X----", ("ALARM", "Retain", "ALARM", "OK")),
]
TWO_OF_THREE = [
    ("0-X-X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    ("00X0X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    ("0-X--", ("OK", "OK", "ALARM", "OK")),
    ("----0", ("OK", "OK", "ALARM", "OK")),
    ("----X", ("INSUFFICIENT_DATA", "Retain", "ALARM", "OK")),
]


def _cases(table, datapoints_to_alarm):
    for points, expected in table:
        for treatment, state in zip(COLUMNS, expected, strict=True):
            yield pytest.param(
                points,
                datapoints_to_alarm,
                treatment,
                state,
                id=f"{points}-M{datapoints_to_alarm}-{treatment}",
            )


def _samples(points: str) -> list[Sample]:
    """One sample in the middle of each period of [0, 5 * PERIOD), oldest first."""
    value = {"0": 1.0, "X": 5.0}
    return [
        Sample(index * PERIOD + PERIOD / 2, value[point])
        for index, point in enumerate(points)
        if point != "-"
    ]


@pytest.mark.parametrize(
    ("points", "datapoints_to_alarm", "treatment", "expected"),
    [*_cases(THREE_OF_THREE, 3), *_cases(TWO_OF_THREE, 2)],
)
def test_documented_missing_data_table(points, datapoints_to_alarm, treatment, expected):
    alarm = Alarm(
        period=PERIOD,
        evaluation_periods=3,
        datapoints_to_alarm=datapoints_to_alarm,
        threshold=3,
        comparison="GreaterThanThreshold",
        statistic="Maximum",
        treat_missing_data=treatment,
        wall_clock=True,
    )
    at = 5 * PERIOD  # the five retrieved periods end here
    for previous in ("OK", "ALARM"):
        state = alarm.evaluate(_samples(points), at, previous=previous, extra_periods=2)
        assert state == (previous if expected == "Retain" else expected)


def test_wall_clock_window_evaluates_whole_days_sliding_the_last_24_hours():
    day = 86_400
    success = [Sample(day + 3 * 3600, 1)]  # day 1 at 03:00
    common: dict[str, Any] = {
        "period": day,
        "evaluation_periods": 1,
        "datapoints_to_alarm": 1,
        "threshold": 1,
        "comparison": "LessThanThreshold",
        "statistic": "Sum",
        "treat_missing_data": "breaching",
    }
    wall = Alarm(**common, wall_clock=True)
    sliding = Alarm(**common)
    # Day 2 at 04:00: the wall clock window still judges day 1 (a success); the sliding window's
    # last 24 hours (day 1 04:00 to day 2 04:00) hold none.
    at = 2 * day + 4 * 3600
    assert wall.evaluate(success, at, extra_periods=0) == "OK"
    assert sliding.evaluate(success, at, extra_periods=0) == "ALARM"
    # The evaluation range reaching further back finds day 1's success for the sliding window.
    assert sliding.evaluate(success, at, extra_periods=1) == "OK"


@pytest.mark.parametrize(
    ("statistic", "values", "expected"),
    [
        ("Sum", (1, 2, 3), 6),
        ("Minimum", (4, 2, 9), 2),
        ("Maximum", (4, 2, 9), 9),
        ("Average", (1, 2, 6), 3),
        ("SampleCount", (7, 7), 2),
    ],
)
def test_statistics_aggregate_a_periods_samples(statistic, values, expected):
    alarm = Alarm(60, 1, 1, 0, "GreaterThanThreshold", statistic, wall_clock=True)
    samples = [Sample(10 + index, value) for index, value in enumerate(values)]
    assert alarm.datapoints(samples, 60, extra_periods=0) == [expected]


@pytest.mark.parametrize(
    ("comparison", "breaching"),
    [
        ("GreaterThanThreshold", (False, False, True)),
        ("GreaterThanOrEqualToThreshold", (False, True, True)),
        ("LessThanThreshold", (True, False, False)),
        ("LessThanOrEqualToThreshold", (True, True, False)),
    ],
)
def test_comparison_operators(comparison, breaching):
    alarm = Alarm(60, 1, 1, 2, comparison, "Sum")
    assert tuple(alarm.breaches(value) for value in (1, 2, 3)) == breaching


def test_fill_turns_missing_periods_into_values_when_the_series_has_data():
    alarm = Alarm(60, 3, 3, 1, "LessThanThreshold", "Sum", wall_clock=True, fill=0)
    assert alarm.datapoints([Sample(30, 1)], 180, extra_periods=0) == [1, 0, 0]
    assert alarm.datapoints([], 180, extra_periods=0) == [None, None, None]


def test_rendered_metric_math_fill_is_read():
    inputs = {
        "metricQueries": [
            {"id": "m", "returnData": False, "metric": {"period": 86400, "stat": "Sum"}},
            {"id": "e", "expression": "FILL(m, 0)", "returnData": True},
        ],
        "evaluationWindow": {"wallClockWindow": {"timezone": "UTC"}},
        "evaluationPeriods": 7,
        "datapointsToAlarm": 7,
        "threshold": 1,
        "comparisonOperator": "LessThanThreshold",
        "treatMissingData": "breaching",
    }
    alarm = Alarm.from_rendered(inputs)
    assert (alarm.period, alarm.statistic, alarm.fill, alarm.wall_clock) == (86400, "Sum", 0, True)
    with pytest.raises(NotImplementedError):
        Alarm.from_rendered(
            {**inputs, "evaluationWindow": {"wallClockWindow": {"timezone": "Europe/Paris"}}}
        )


def test_walk_reports_each_evaluation():
    alarm = Alarm(60, 1, 1, 0, "GreaterThanThreshold", "Sum", "notBreaching", wall_clock=True)
    evaluations = walk(alarm, [Sample(130, 1)], start=60, end=300, step=60, extra_periods=0)
    assert [e.state for e in evaluations] == ["OK", "OK", "ALARM", "OK", "OK"]
    assert first(evaluations, "ALARM") == 180
    assert states(evaluations) == {"OK", "ALARM"}
