"""Sequences of runs walked through each backup alarm's, and the database-health alarm's,
rendered configuration (both stacks), with the evaluator of CloudWatch's documented rules.

Sources of truth: the Amazon CloudWatch User Guide pages the evaluator encodes
(tests/components/cloudwatch_alarm_evaluator.py: alarm evaluation, missing data, evaluation
windows), and CloudWatch Logs' metric filters: a matching log event publishes the filter's value,
any other event of the log group its default value
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/MonitoringLogData.html). The size of
the evaluation range for day-long periods is not documented, so every verdict on the committed
alarms must hold for several sizes (EXTRA_PERIODS).
"""

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from app.contract import DATABASE_CHECK_INTERVAL_SECONDS
from tests.components.cloudwatch_alarm_evaluator import (
    Alarm,
    Evaluation,
    Sample,
    first,
    states,
    walk,
)

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SCHEDULE = "aws:scheduler/schedule:Schedule"
HOUR, DAY = 3600, 86_400
EXTRA_PERIODS = (0, 1, 2, 5)
"""Datapoints CloudWatch may retrieve beyond the evaluation periods (documented example: 2)."""
START = datetime.datetime(2026, 11, 2, tzinfo=datetime.UTC).timestamp()
"""A Monday, 00:00 UTC: day 0 of every sequence."""
SIMULATED_DAYS = 28
RUN_SECONDS = 300
"""A run prints its start line a minute in, its result line five minutes in."""
CHECK_SECONDS = 3
"""A failing database check may take up to the app's check timeout (3 s by default)."""


def _start_offset(schedule_expression: str) -> int:
    """Seconds after midnight of a cron(min hour ...) schedule with one fixed time."""
    minute, hour = schedule_expression.removeprefix("cron(").split()[:2]
    return int(hour) * HOUR + int(minute) * 60


def _run(start: float, *, ok: bool, matches: bool) -> list[tuple[float, bool]]:
    """A run's log events: (time, whether the success filter matches); a failed run's result
    line does not match, a line of the other job never does."""
    return [(start + 60, False), (start + RUN_SECONDS, ok and matches)]


def _filter_samples(events: Iterable[tuple[float, bool]]) -> list[Sample]:
    """The success metric filter: value 1 for a matching event, default 0 for any other."""
    return [Sample(time, 1.0 if matched else 0.0) for time, matched in events]


def _success_alarm(rendering, key: str) -> Alarm:
    return Alarm.from_rendered(rendering.get(ALARM, f"backups-jobs-{key}").inputs)


def _schedule(rendering, command: str) -> int:
    expression = rendering.get(SCHEDULE, f"backups-jobs-{command}").inputs["scheduleExpression"]
    return _start_offset(expression)


def _dump_events(
    rendering, *, late: Mapping[int, float] | None = None, missed=(), failed=()
) -> list[tuple[float, bool]]:
    offset = _schedule(rendering, "dump")
    events: list[tuple[float, bool]] = []
    for day in range(SIMULATED_DAYS):
        if day in missed:
            continue
        start = START + day * DAY + offset + (late or {}).get(day, 0)
        events += _run(start, ok=day not in failed, matches=True)
    return events


def _walk(alarm: Alarm, events, *, from_day: int, extra_periods: int) -> list[Evaluation]:
    return walk(
        alarm,
        _filter_samples(events),
        start=START + from_day * DAY,
        end=START + SIMULATED_DAYS * DAY,
        step=900,
        extra_periods=extra_periods,
    )


# --- the daily dump --------------------------------------------------------------------------


@pytest.mark.parametrize("extra_periods", EXTRA_PERIODS)
def test_dump_alarm_stays_ok_when_every_run_succeeds_on_time(rendering, extra_periods):
    alarm = _success_alarm(rendering, "backup-dump-failed")
    evaluations = _walk(alarm, _dump_events(rendering), from_day=1, extra_periods=extra_periods)
    assert states(evaluations) == {"OK"}


@pytest.mark.parametrize("extra_periods", EXTRA_PERIODS)
def test_dump_alarm_ignores_a_run_hours_later_than_the_day_before(rendering, extra_periods):
    # Day 9's run starts 14 hours late (after the start retries, a slow Fargate launch...) and
    # still succeeds that UTC day: the day has its success.
    alarm = _success_alarm(rendering, "backup-dump-failed")
    events = _dump_events(rendering, late={9: 14 * HOUR, 10: 2 * HOUR})
    evaluations = _walk(alarm, events, from_day=1, extra_periods=extra_periods)
    assert states(evaluations) == {"OK"}


@pytest.mark.parametrize("extra_periods", EXTRA_PERIODS)
@pytest.mark.parametrize("outcome", ["missed", "failed"])
def test_dump_alarm_fires_at_the_midnight_after_a_missed_or_failed_run(
    rendering, extra_periods, outcome
):
    alarm = _success_alarm(rendering, "backup-dump-failed")
    bad_day = 12
    outcome_of: dict[str, Any] = {outcome: (bad_day,)}
    events = _dump_events(rendering, **outcome_of)
    evaluations = _walk(alarm, events, from_day=1, extra_periods=extra_periods)

    scheduled = START + bad_day * DAY + _schedule(rendering, "dump")
    fired = first(evaluations, "ALARM")
    assert fired == START + (bad_day + 1) * DAY  # the midnight that ends the bad day
    assert scheduled < fired <= scheduled + DAY
    # The next day's success clears it at the following midnight, and nothing else alarms.
    alarmed = {e.time for e in evaluations if e.state == "ALARM"}
    assert min(alarmed) == fired
    assert max(alarmed) < START + (bad_day + 2) * DAY


def _old_dump_alarm() -> Alarm:
    """The dump alarm as committed before: Sum < 1 over one sliding 86400 s period, missing data
    breaching, no metric math."""
    return Alarm.from_rendered(
        {
            "period": 86400,
            "statistic": "Sum",
            "evaluationPeriods": 1,
            "datapointsToAlarm": 1,
            "threshold": 1,
            "comparisonOperator": "LessThanThreshold",
            "treatMissingData": "breaching",
        }
    )


def test_old_sliding_dump_alarm_raised_a_spurious_alarm_for_a_late_run(staging):
    # Judged on the last 24 hours only (no look-back), yesterday's 03:20 success leaves the
    # window at 03:20 today: ALARM until today's late run finishes, then OK.
    events = _dump_events(staging, late={9: 4 * HOUR})
    evaluations = _walk(_old_dump_alarm(), events, from_day=1, extra_periods=0)
    alarmed = [e.time for e in evaluations if e.state == "ALARM"]
    assert alarmed
    assert all(START + 9 * DAY < t < START + 10 * DAY for t in alarmed)


def test_old_sliding_dump_alarm_missed_a_skipped_day_when_cloudwatch_looks_back(staging):
    # With the documented look-back (the 5 most recent datapoints for 3 periods), the missing
    # day is judged by the day before's success: a single missed dump never alarmed.
    events = _dump_events(staging, missed=(12,))
    evaluations = _walk(_old_dump_alarm(), events, from_day=1, extra_periods=2)
    assert states(evaluations) == {"OK"}


def test_wall_clock_without_fill_would_miss_a_skipped_day_too(staging):
    # Why the committed alarm evaluates FILL(succeeded, 0): a day without any log line is
    # missing data, and the look-back then finds the day before's success.
    rendered = dict(staging.get(ALARM, "backups-jobs-backup-dump-failed").inputs)
    alarm = Alarm.from_rendered(rendered)
    unfilled = Alarm(**{**alarm.__dict__, "fill": None})
    events = _dump_events(staging, missed=(12,))
    assert states(_walk(unfilled, events, from_day=1, extra_periods=2)) == {"OK"}
    assert "ALARM" in states(_walk(alarm, events, from_day=1, extra_periods=2))


# --- the weekly verify -----------------------------------------------------------------------


def _verify_events(
    rendering, *, late: Mapping[int, float] | None = None, missed=(), failed=()
) -> list[tuple[float, bool]]:
    """Dump lines every day (they reach the verify filter as its default 0) and a verify run
    every Sunday (day 6, 13, 20, 27)."""
    events = [(time, False) for time, _ in _dump_events(rendering)]
    offset = _schedule(rendering, "verify")
    for sunday in range(6, SIMULATED_DAYS, 7):
        if sunday in missed:
            continue
        start = START + sunday * DAY + offset + (late or {}).get(sunday, 0)
        events += _run(start, ok=sunday not in failed, matches=True)
    return events


def test_verify_schedule_is_weekly_on_sunday(rendering):
    expression = rendering.get(SCHEDULE, "backups-jobs-verify").inputs["scheduleExpression"]
    assert expression.split()[4] == "SUN"
    assert datetime.datetime.fromtimestamp(START + 6 * DAY, datetime.UTC).strftime("%a") == "Sun"


@pytest.mark.parametrize("extra_periods", EXTRA_PERIODS)
def test_verify_alarm_stays_ok_on_time_and_when_hours_late(rendering, extra_periods):
    alarm = _success_alarm(rendering, "backup-verify-failed")
    for late in ({}, {13: 12 * HOUR}, {20: 6 * HOUR}):
        events = _verify_events(rendering, late=late)
        evaluations = _walk(alarm, events, from_day=7, extra_periods=extra_periods)
        assert states(evaluations) == {"OK"}, late


@pytest.mark.parametrize("extra_periods", EXTRA_PERIODS)
@pytest.mark.parametrize("outcome", ["missed", "failed"])
def test_verify_alarm_fires_at_the_midnight_after_a_missed_or_failed_week(
    rendering, extra_periods, outcome
):
    alarm = _success_alarm(rendering, "backup-verify-failed")
    bad_sunday = 13
    outcome_of: dict[str, Any] = {outcome: (bad_sunday,)}
    events = _verify_events(rendering, **outcome_of)
    evaluations = _walk(alarm, events, from_day=7, extra_periods=extra_periods)

    scheduled = START + bad_sunday * DAY + _schedule(rendering, "verify")
    fired = first(evaluations, "ALARM")
    assert fired == START + (bad_sunday + 1) * DAY
    assert scheduled < fired <= scheduled + DAY
    assert max(e.time for e in evaluations if e.state == "ALARM") < START + 21 * DAY


# --- runs that never start -------------------------------------------------------------------


@pytest.mark.parametrize("command", ["dump", "verify"])
def test_dead_letter_alarm_fires_within_minutes_and_clears_when_drained(rendering, command):
    alarm = Alarm.from_rendered(
        rendering.get(ALARM, f"backups-jobs-{command}-dead-letters-alarm").inputs
    )
    arrived = START + DAY + _schedule(rendering, command) + HOUR  # after the start retries
    drained = arrived + 6 * HOUR
    # SQS reports the visible messages each minute while the queue is active.
    visible = [Sample(t, 1) for t in range(int(arrived), int(drained), 60)]
    evaluations = walk(alarm, visible, start=START, end=START + 2 * DAY, step=60)
    fired = first(evaluations, "ALARM")
    assert fired is not None
    assert arrived < fired <= arrived + 2 * alarm.period
    assert evaluations[-1].state == "OK"
    # An empty queue publishes nothing: no alarm.
    assert states(walk(alarm, [], start=START, end=START + DAY, step=3600)) == {"OK"}


def test_lost_scheduler_invocations_fire_within_minutes(rendering):
    inputs = rendering.get(ALARM, "backups-jobs-start-failures-schedule-undelivered").inputs
    *_, returned = inputs["metricQueries"]
    terms = returned["expression"].split(" + ")
    assert len(terms) == 2
    assert all(term.startswith("FILL(") for term in terms)
    # The expression adds the two counts, each filled with 0: one count alone, the other 0
    # (the evaluator reads one metric), is the same sum.
    for term in terms:
        queries = [*inputs["metricQueries"][:-1], {**returned, "expression": term}]
        alarm = Alarm.from_rendered({**inputs, "metricQueries": queries})
        lost = START + 3 * HOUR + 1200
        evaluations = walk(alarm, [Sample(lost, 1)], start=START, end=START + 6 * HOUR, step=60)
        fired = first(evaluations, "ALARM")
        assert fired is not None
        assert lost < fired <= lost + alarm.period
        assert evaluations[-1].state == "OK"


# --- the database-health alarm ---------------------------------------------------------------


def _min_tasks(rendering) -> int:
    return int(
        rendering.get("aws:appautoscaling/target:Target", "app-scaling").inputs["minCapacity"]
    )


def _database_checks(
    tasks: int, *, failing_task: int | None, fails, start: float, end: float
) -> list[Sample]:
    """Each task checks every interval after its previous check ended (taking CHECK_SECONDS);
    `fails(time)` says whether the failing task's check at `time` fails. A failed check prints
    the matched line (1); other app lines that minute publish the default 0."""
    samples = [Sample(t, 0.0) for t in range(int(start), int(end), 60)]
    for task in range(tasks):
        t = start + 7 + 13 * task
        while t < end:
            if task == failing_task and fails(t):
                samples.append(Sample(t + CHECK_SECONDS, 1.0))
            t += DATABASE_CHECK_INTERVAL_SECONDS + CHECK_SECONDS
    return samples


def _database_alarm(rendering) -> Alarm:
    return Alarm.from_rendered(rendering.get(ALARM, "alarms-database-health-failures").inputs)


@pytest.mark.parametrize("failing_from_minute", [10, 31, 47])
def test_one_failing_target_at_the_minimum_task_count_fires_the_database_alarm(
    rendering, failing_from_minute
):
    alarm = _database_alarm(rendering)
    minutes = alarm.evaluation_periods
    tasks = _min_tasks(rendering)
    begin = START + failing_from_minute * 60 + 20
    samples = _database_checks(
        tasks,
        failing_task=tasks - 1,
        fails=lambda t: begin <= t < begin + minutes * 60,
        start=START,
        end=START + 3 * HOUR,
    )
    evaluations = walk(alarm, samples, start=START, end=START + 3 * HOUR, step=60)
    fired = first(evaluations, "ALARM")
    # Within the N failing minutes plus the minute that completes the last one.
    assert fired is not None
    assert begin < fired <= begin + (minutes + 1) * 60
    assert evaluations[-1].state == "OK"


def test_database_failures_spread_thinner_than_the_threshold_do_not_fire(rendering):
    alarm = _database_alarm(rendering)
    tasks = _min_tasks(rendering)
    # The target fails one check in three, for hours: a flaky check, not a down database.
    checks = iter(range(10**6))
    samples = _database_checks(
        tasks,
        failing_task=0,
        fails=lambda _: next(checks) % 3 == 0,
        start=START,
        end=START + 6 * HOUR,
    )
    evaluations = walk(alarm, samples, start=START, end=START + 6 * HOUR, step=60)
    assert sum(s.value for s in samples) > 100
    assert states(evaluations) == {"OK"}


def test_old_database_alarm_could_not_fire_at_two_tasks():
    # Before: Sum >= 3 (prod; 5 in staging) failed checks per 60 s, one period. Two tasks that
    # each check once a minute fail at most 2 checks a minute, even both failing for hours.
    old = Alarm(60, 1, 1, 3, "GreaterThanOrEqualToThreshold", "Sum", "notBreaching")
    samples = [
        sample
        for task in (0, 1)
        for sample in _database_checks(
            2, failing_task=task, fails=lambda _: True, start=START, end=START + 3 * HOUR
        )
    ]
    evaluations = walk(old, samples, start=START, end=START + 3 * HOUR, step=60)
    assert sum(s.value for s in samples) > 300
    assert states(evaluations) == {"OK"}
