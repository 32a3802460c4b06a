import pytest

from policies._props import plain
from policies.observability import PROMISED_ALARMS
from tests.policies.conftest import KEY_ARN, TOPIC_ARN, stack_resource

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
TOPIC = "aws:sns/topic:Topic"


def test_log_group_with_retention_and_key_passes(run_resource):
    props = {"retentionInDays": 90, "kmsKeyId": KEY_ARN}
    assert (
        run_resource("log-group-retention", LOG_GROUP, props, config={"minRetentionDays": 90.0})
        == []
    )
    assert run_resource("log-group-encrypted", LOG_GROUP, props) == []


@pytest.mark.parametrize("days", [None, 0, 7])
def test_log_group_kept_forever_or_too_briefly_is_reported(run_resource, days):
    props = {"retentionInDays": days} if days is not None else {}
    assert run_resource("log-group-retention", LOG_GROUP, props, config={"minRetentionDays": 30})


def test_unencrypted_log_group_is_reported(run_resource):
    assert run_resource("log-group-encrypted", LOG_GROUP, {"retentionInDays": 90})


def alarm_stack(keys=PROMISED_ALARMS, *, wire=True, ok_actions=True):
    topic = stack_resource(
        TOPIC,
        {"name": "miko-alarms", "arn": TOPIC_ARN, "kmsMasterKeyId": KEY_ARN},
        name="alarms-topic",
    )
    resources = [topic]
    for key in keys:
        if key == "deployment-failed":
            rule = stack_resource(
                EVENT_RULE, {"name": "miko-deploy-failed", "tags": {"alarm": key}}, name=key
            )
            resources.append(rule)
            if wire:
                target = stack_resource(
                    EVENT_TARGET,
                    {"rule": "miko-deploy-failed", "arn": TOPIC_ARN},
                    name=f"{key}-target",
                    depends_on={"rule": [rule], "arn": [topic]},
                )
                resources.append(target)
            continue
        props = {"tags": {"alarm": key}, "alarmActions": [TOPIC_ARN] if wire else []}
        if ok_actions:
            props["okActions"] = [TOPIC_ARN]
        resources.append(
            stack_resource(
                METRIC_ALARM,
                props,
                name=key,
                depends_on={"alarmActions": [topic]} if wire else None,
            )
        )
    return resources


def test_all_promised_alarms_present_passes(run_stack):
    assert run_stack("promised-alarms-present", alarm_stack()) == []


def test_missing_alarm_is_reported_by_key(run_stack):
    reported = run_stack(
        "promised-alarms-present",
        alarm_stack([k for k in PROMISED_ALARMS if k != "no-healthy-hosts"]),
    )
    assert len(reported) == 1
    assert "no-healthy-hosts" in reported[0][0]


def test_empty_stack_misses_every_alarm(run_stack):
    reported = run_stack("promised-alarms-present", [])
    assert all(key in reported[0][0] for key in PROMISED_ALARMS)


def test_required_alarm_list_comes_from_config(run_stack):
    config = {"requiredAlarms": [*PROMISED_ALARMS, "restore-test-failed"]}
    reported = run_stack("promised-alarms-present", alarm_stack(), config)
    assert reported
    assert "restore-test-failed" in reported[0][0]


def test_wired_alarms_pass(run_stack):
    assert run_stack("alarms-notify-topic", alarm_stack()) == []


def test_unwired_alarms_are_reported_by_urn(run_stack):
    resources = alarm_stack(wire=False)
    reported = run_stack("alarms-notify-topic", resources)
    alarm_urns = {r.urn for r in resources if r.resource_type in (METRIC_ALARM, EVENT_RULE)}
    assert {urn for _, urn in reported} == alarm_urns
    assert any("EventTarget" in message for message, _ in reported)


def test_alarm_with_actions_disabled_is_reported(run_stack):
    resources = alarm_stack()
    muted = next(r for r in resources if r.name == "http-5xx-warning")
    resources[resources.index(muted)] = stack_resource(
        METRIC_ALARM,
        {**dict(plain(muted.props)), "actionsEnabled": False},
        name=muted.name,
        depends_on=muted.property_dependencies,
    )
    reported = run_stack("alarms-notify-topic", resources)
    assert len(reported) == 1
    assert "'http-5xx-warning'" in reported[0][0]
    assert "actionsEnabled is false" in reported[0][0]


def test_untagged_alarm_is_reported(run_stack):
    untagged = stack_resource(METRIC_ALARM, {"alarmActions": [TOPIC_ARN]}, name="stray")
    reported = run_stack("alarms-notify-topic", [*alarm_stack(), untagged])
    assert [urn for _, urn in reported] == [untagged.urn]
    assert "no 'alarm' tag" in reported[0][0]


def test_critical_alarm_without_ok_actions_is_reported(run_stack):
    reported = run_stack("alarms-notify-topic", alarm_stack(ok_actions=False))
    assert sorted(message.split("'")[1] for message, _ in reported) == [
        "http-5xx-critical",
        "latency-p95-critical",
    ]


# Source of truth: the evaluation windows of
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation-window.html
# (a wall clock window judges whole, calendar-aligned periods; a sliding one the time before).
DAILY_MATH = [
    {"id": "m", "returnData": False, "metric": {"period": 86400, "stat": "Sum"}},
    {"id": "e", "expression": "FILL(m, 0)", "returnData": True},
]


def backup_alarm(**props):
    base = {
        "tags": {"alarm": "backup-dump-failed"},
        "metricQueries": DAILY_MATH,
        "evaluationWindow": {"wallClockWindow": {"timezone": "UTC"}},
    }
    return stack_resource(METRIC_ALARM, {**base, **props}, name="backup-dump-failed")


def test_backup_alarm_on_whole_utc_days_passes(run_stack):
    assert run_stack("backup-alarms-wall-clock-window", [backup_alarm()]) == []
    untagged = backup_alarm(tags={"alarm": "http-5xx-warning"}, evaluationWindow=None)
    assert run_stack("backup-alarms-wall-clock-window", [untagged]) == []


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"evaluationWindow": None}, "wallClockWindow"),
        ({"evaluationWindow": {"slidingWindow": {}}}, "wallClockWindow"),
        ({"evaluationWindow": {"wallClockWindow": {"timezone": "Europe/Paris"}}}, "UTC"),
        (
            {"metricQueries": [{**DAILY_MATH[0], "metric": {"period": 3600, "stat": "Sum"}}]},
            "86400",
        ),
        ({"metricQueries": None, "period": 604800}, "86400"),
    ],
)
def test_backup_alarm_not_on_whole_utc_days_is_reported(run_stack, props, expected):
    reported = run_stack("backup-alarms-wall-clock-window", [backup_alarm(**props)])
    assert len(reported) == 1
    assert "backup-dump-failed" in reported[0][0]
    assert expected in reported[0][0]
