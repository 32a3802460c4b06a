"""The section models on their own, without Pulumi: keys, relations and the Pulumi.yaml schema."""

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from config.secrets import ROTATED_ON_KEYS, SECRET_KEYS
from config.sections import (
    AlarmSettings,
    ImageSettings,
    ServiceSettings,
    TimingSettings,
    camel_key,
)
from config.stack import SECTIONS, describe

PULUMI_YAML = Path(__file__).resolve().parents[2] / "Pulumi.yaml"
TIMINGS = {
    "albIdleTimeoutSeconds": "60",
    "appKeepAliveSeconds": "75",
    "containerStopTimeoutSeconds": "30",
    "appShutdownGraceSeconds": "20",
    "deregistrationDelaySeconds": "30",
}


def problems_of(model, flat):
    with pytest.raises(ValidationError) as error:
        model.model_validate(flat)
    return describe(error.value)


def test_keys_are_camel_cased_as_pulumi_yaml_spells_them():
    assert camel_key("http_5xx_critical_percent") == "http5xxCriticalPercent"
    assert camel_key("app_keep_alive_seconds") == "appKeepAliveSeconds"


def test_every_key_the_models_read_is_declared_in_pulumi_yaml_and_every_declared_key_is_read():
    declared = set(yaml.safe_load(PULUMI_YAML.read_text())["config"])
    read = {key for section in SECTIONS for key in section.config_keys()}
    read |= set(SECRET_KEYS) | set(ROTATED_ON_KEYS)
    assert read - declared == set(), "keys read but not described in Pulumi.yaml"
    assert declared - read == set(), "keys described in Pulumi.yaml that nothing reads"


def test_timings_that_nest_are_accepted():
    timings = TimingSettings.model_validate(TIMINGS)
    assert timings.app_keep_alive_seconds == 75
    assert timings.alb_idle_timeout_seconds == 60


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"albIdleTimeoutSeconds": "75"}, ("appKeepAliveSeconds", "albIdleTimeoutSeconds 75")),
        (
            {"containerStopTimeoutSeconds": "20"},
            ("appShutdownGraceSeconds", "containerStopTimeoutSeconds 20"),
        ),
    ],
)
def test_timings_that_do_not_nest_are_refused_naming_both_keys(change, named):
    [problem] = problems_of(TimingSettings, TIMINGS | change)
    for key in named:
        assert key in problem


def test_one_bad_value_does_not_hide_another_in_the_same_section():
    flat = {
        "taskCpu": "512",
        "taskMemory": "5120",
        "minTasksFloor": "2",
        "minTasks": "1",
        "maxTasks": "4",
        "cpuTargetPercent": "60",
        "requestsPerTarget": "800",
        "healthCheckGraceSeconds": "60",
        "logLevel": "LOUD",
        "logRetentionFloorDays": "90",
        "logRetentionDays": "30",
        "allowedOrigins": '["http://insecure.example.com"]',
    }
    problems = problems_of(ServiceSettings, flat)
    for key in ("taskMemory", "minTasks", "logLevel", "logRetentionDays", "allowedOrigins"):
        assert any(problem.startswith(f"{key}:") for problem in problems), (key, problems)


def test_booleans_are_true_or_false_only():
    flat = {
        "imageBuildOnPreview": "yes",
        "untaggedImageExpiryDays": "7",
        "imageRef": "",
        "imagePromoteFrom": "",
    }
    assert problems_of(ImageSettings, flat) == [
        "imageBuildOnPreview: expected true or false, got 'yes'"
    ]
    accepted = ImageSettings.model_validate(flat | {"imageBuildOnPreview": "false"})
    assert accepted.build_on_preview is False


ALARMS = {
    "alarmEmails": '["oncall@example.com"]',
    "http5xxCriticalPercent": "5",
    "http5xxWarningPercent": "1",
    "latencyP95CriticalSeconds": "3",
    "latencyP95WarningSeconds": "1",
    "ecsCpuHighPercent": "80",
    "ecsMemoryHighPercent": "80",
    "databaseFailuresPerPeriod": "3",
    "bookingFailuresPerPeriod": "3",
    "cspViolationsPerPeriod": "50",
    "alarmEvaluationPeriods": "3",
    "availabilityEvaluationPeriods": "2",
}


def test_valid_alarm_thresholds_are_accepted():
    alarms = AlarmSettings.model_validate(ALARMS)
    assert alarms.http_5xx_warning_percent < alarms.http_5xx_critical_percent
    assert alarms.emails == ("oncall@example.com",)


def test_every_alarm_threshold_problem_is_listed_at_once():
    problems = problems_of(
        AlarmSettings,
        ALARMS
        | {
            "ecsCpuHighPercent": "120",
            "alarmEvaluationPeriods": "0",
            "latencyP95WarningSeconds": "4",
            "http5xxWarningPercent": "5",
        },
    )
    assert problems == [
        "http5xxWarningPercent: 5.0 must be below http5xxCriticalPercent 5.0",
        "latencyP95WarningSeconds: 4.0 must be below latencyP95CriticalSeconds 3.0",
        "ecsCpuHighPercent: Input should be less than or equal to 100, got '120'",
        "alarmEvaluationPeriods: Input should be greater than or equal to 1, got '0'",
    ]
