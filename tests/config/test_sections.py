"""The section models on their own, without Pulumi: keys, relations and the Pulumi.yaml schema."""

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from config.secrets import ROTATED_ON_KEYS, SECRET_KEYS
from config.sections import (
    AlarmSettings,
    BackupSettings,
    ImageSettings,
    ServiceSettings,
    TimingSettings,
    camel_key,
    cold_storage_problem,
)
from config.stack import SECTIONS, describe
from plan.render import stack_config

PULUMI_YAML = Path(__file__).resolve().parents[2] / "Pulumi.yaml"
TIMINGS = {
    "albIdleTimeoutSeconds": "930",
    "appKeepAliveSeconds": "960",
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
    assert timings.app_keep_alive_seconds == 960
    assert timings.alb_idle_timeout_seconds == 930


@pytest.mark.parametrize("idle", ["60", "899", "900"])
def test_an_idle_timeout_not_above_cloudflares_origin_keep_alive_is_refused(idle):
    """Cloudflare reuses idle origin connections for up to 900 s; an ALB closing them sooner
    races its requests (520s)."""
    [problem] = problems_of(TimingSettings, TIMINGS | {"albIdleTimeoutSeconds": idle})
    assert problem == (
        f"albIdleTimeoutSeconds: the load balancer's idle timeout ({idle} s) must exceed "
        "Cloudflare's origin keep-alive (900 s, its Proxy Idle Timeout), or Cloudflare reuses "
        "connections the load balancer closed (520s)"
    )


def test_one_second_above_cloudflares_keep_alive_is_accepted():
    timings = TimingSettings.model_validate(TIMINGS | {"albIdleTimeoutSeconds": "901"})
    assert timings.alb_idle_timeout_seconds == 901


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"albIdleTimeoutSeconds": "960"}, ("appKeepAliveSeconds", "albIdleTimeoutSeconds 960")),
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
    "databaseFailingMinutes": "3",
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


# --- the dump lifecycle: a transition must not pay a storage minimum past the expiry ---------
# Source of truth: S3's documented minimum storage durations ("Comparing the Amazon S3 storage
# classes", https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-class-intro.html#sc-compare:
# Standard-IA and One Zone-IA 30 days, Glacier Instant and Flexible Retrieval 90, Deep Archive
# 180) and the lifecycle rule that objects stay 30 days in S3 Standard before a move to
# Standard-IA or One Zone-IA (lifecycle-transition-general-considerations.html).


def backup_settings_of(stack: str) -> dict[str, str]:
    """The stack's backup keys, as the CLI hands them to the program."""
    values, _ = stack_config(stack)
    keys = BackupSettings.config_keys()
    return {key: values[f"miko-platform:{key}"] for key in keys}


@pytest.mark.parametrize(("cold", "expire"), [("30", "35"), ("30", "119"), ("1", "90")])
def test_a_move_to_glacier_ir_that_expires_within_its_minimum_is_refused(cold, expire):
    flat = backup_settings_of("prod") | {
        "backupColdStorageAfterDays": cold,
        "backupExpireAfterDays": expire,
    }
    [problem] = problems_of(BackupSettings, flat)
    assert problem.startswith("backupExpireAfterDays: ")
    for named in (f"backupColdStorageAfterDays {cold}", f"backupExpireAfterDays {expire}"):
        assert named in problem
    assert "GLACIER_IR" in problem
    assert "90 days" in problem
    assert f"at least {int(cold) + 90}" in problem


@pytest.mark.parametrize(("cold", "expire"), [("30", "120"), ("30", "400"), ("0", "35")])
def test_a_move_whose_minimum_ends_by_the_expiry_or_no_move_is_accepted(cold, expire):
    flat = backup_settings_of("prod") | {
        "backupColdStorageAfterDays": cold,
        "backupExpireAfterDays": expire,
    }
    settings = BackupSettings.model_validate(flat)
    assert settings.cold_storage_days == (int(cold) or None)


def test_both_committed_stacks_pass_and_staging_moves_nothing():
    staging = BackupSettings.model_validate(backup_settings_of("staging"))
    prod = BackupSettings.model_validate(backup_settings_of("prod"))
    assert staging.cold_storage_days is None
    assert prod.cold_storage_days is not None


@pytest.mark.parametrize(
    ("storage_class", "after", "expire", "problem"),
    [
        ("GLACIER_IR", 30, 120, None),
        ("GLACIER_IR", 30, 119, "billed for at least 90 days"),
        ("GLACIER", 10, 99, "billed for at least 90 days"),
        ("DEEP_ARCHIVE", 30, 209, "billed for at least 180 days"),
        ("DEEP_ARCHIVE", 30, 210, None),
        ("STANDARD_IA", 30, 60, None),
        ("STANDARD_IA", 30, 59, "billed for at least 30 days"),
        ("ONEZONE_IA", 29, 400, "only after 30 days in S3 Standard"),
        ("INTELLIGENT_TIERING", 1, 2, None),
        ("GLACIER_IR", 35, 35, "must be below 35"),
    ],
)
def test_each_storage_class_minimum(storage_class, after, expire, problem):
    found = cold_storage_problem(storage_class, after, expire)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


# --- backup schedules: a run finishes inside the UTC day its success alarm evaluates ---------
# (the alarms use a wall clock window of whole UTC days: components/backup_success_alarms.py;
# EventBridge Scheduler's cron fields: minutes hours day-of-month month day-of-week year,
# https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html)


@pytest.mark.parametrize(
    ("key", "expression", "named"),
    [
        ("backupDumpSchedule", "cron(30 22 * * ? *)", "22:30 UTC"),
        ("backupDumpSchedule", "cron(0 3,19 * * ? *)", "19:00 UTC"),
        ("backupVerifySchedule", "cron(1 18 ? * SUN *)", "18:01 UTC"),
        ("backupDumpSchedule", "rate(1 day)", "no fixed time of day"),
        ("backupVerifySchedule", "cron(0/30 4 ? * SUN *)", "fixed minutes and hours"),
    ],
)
def test_a_backup_schedule_without_slack_before_midnight_is_refused(key, expression, named):
    flat = backup_settings_of("prod") | {key: expression}
    [problem] = problems_of(BackupSettings, flat)
    assert problem.startswith(f"{key}: ")
    assert named in problem
    if "UTC" in named:
        assert "by 18:00 UTC" in problem
        assert "6 h before midnight" in problem


@pytest.mark.parametrize("expression", ["cron(0 18 * * ? *)", "cron(15 3 * * ? *)"])
def test_a_backup_schedule_with_slack_before_midnight_is_accepted(expression):
    flat = backup_settings_of("prod") | {"backupDumpSchedule": expression}
    assert BackupSettings.model_validate(flat).dump_schedule == expression
