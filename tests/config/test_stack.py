"""Invalid stack config fails with one message listing every problem, before any resource.

The whole program runs (under Pulumi's mocks) so that "before any resource" is checked for real.
"""

import pytest

from config.catalogues import FARGATE_SIZES
from config.stack import InvalidConfigError
from plan.render import RenderFailed, render_stack
from tests.components.conftest import DUMMY_SECRETS


def render_with(stack: str, config: dict[str, object]):
    return render_stack(stack, config=config, secret_values=DUMMY_SECRETS)


def config_problems(stack: str, config: dict[str, object], secrets=None) -> str:
    """Render with the given config; assert it failed on config with nothing registered."""
    with pytest.raises(RenderFailed) as failure:
        render_stack(
            stack, config=config, secret_values=DUMMY_SECRETS if secrets is None else secrets
        )
    assert isinstance(failure.value.cause, InvalidConfigError), failure.value.cause
    assert failure.value.resources == (), [r.urn for r in failure.value.resources]
    return str(failure.value.cause)


@pytest.mark.parametrize(
    ("stack", "config", "expected"),
    [
        (
            "staging",
            {"taskCpu": 256, "taskMemory": 4096},
            "taskMemory: taskCpu 256 with taskMemory 4096 MiB is not a Fargate size",
        ),
        ("prod", {"taskCpu": 300, "taskMemory": 1024}, "taskCpu 300 with taskMemory 1024 MiB"),
        (
            "staging",
            {"vpcCidr": "10.40.0.0/33"},
            "vpcCidr: '10.40.0.0/33' is not an IPv4 CIDR block",
        ),
        ("staging", {"vpcCidr": "10.40.0.0/24"}, "vpcCidr: 10.40.0.0/24 must be a /16../20 block"),
        (
            "prod",
            {"databaseEgressCidrs": ["10.1.2.3/8"]},
            "databaseEgressCidrs: '10.1.2.3/8' is not",
        ),
        (
            "prod",
            {"logRetentionDays": 30},
            "logRetentionDays: 30 is below logRetentionFloorDays 365",
        ),
        (
            "prod",
            {"flowLogRetentionDays": 14},
            "flowLogRetentionDays: 14 is below logRetentionFloorDays 365",
        ),
        (
            "staging",
            {"flowLogRetentionDays": 180},
            "flowLogRetentionDays: 180 is below 365 days",
        ),
        (
            "staging",
            {"logRetentionDays": 45},
            "logRetentionDays: 45 days is not a CloudWatch retention",
        ),
        ("prod", {"minTasks": 1}, "minTasks: 1 is below minTasksFloor 2"),
        ("prod", {"maxTasks": 1, "minTasks": 2}, "maxTasks: 1 is below minTasks 2"),
        (
            "staging",
            {"alarmEmails": ["oncall-at-example.com"]},
            "alarmEmails: 'oncall-at-example.com' is not an email",
        ),
        ("staging", {"alarmEmails": []}, "alarmEmails: at least one address"),
        (
            "staging",
            {"albIdleTimeoutSeconds": 990},
            "appKeepAliveSeconds: the app's keep-alive (960 s) must exceed the load balancer's "
            "idle timeout (990 s) (albIdleTimeoutSeconds 990)",
        ),
        (
            "prod",
            {"albIdleTimeoutSeconds": 60, "appKeepAliveSeconds": 75},
            "albIdleTimeoutSeconds: the load balancer's idle timeout (60 s) must exceed "
            "Cloudflare's origin keep-alive (900 s",
        ),
        (
            "prod",
            {"appShutdownGraceSeconds": 30},
            "appShutdownGraceSeconds: the app's shutdown grace (30 s) must be below the container "
            "stop timeout (30 s) (containerStopTimeoutSeconds 30)",
        ),
        (
            "prod",
            {"containerStopTimeoutSeconds": 300},
            "containerStopTimeoutSeconds: Input should be less than or equal to 120, got '300'",
        ),
        (
            "staging",
            {"natMode": "two"},
            "natMode: Input should be 'none', 'single' or 'per-az', got 'two'",
        ),
        (
            "staging",
            {"natMode": "none", "vpcEndpoints": False},
            "vpcEndpoints: natMode 'none' needs vpcEndpoints: true",
        ),
        (
            "staging",
            {"taskCpu": "lots"},
            "taskCpu: Input should be a valid integer, unable to parse string as an integer, "
            "got 'lots'",
        ),
        ("staging", {"vpcEndpoints": "yes"}, "vpcEndpoints: expected true or false, got 'yes'"),
        (
            "staging",
            {"siteDomain": "www.example.org"},
            "siteDomain: 'www.example.org' is not inside zone",
        ),
        ("staging", {"allowedOrigins": ["*"]}, "allowedOrigins: '*' must be an https origin"),
        ("prod", {"allowedOrigins": []}, "allowedOrigins: at least one https origin"),
        (
            "staging",
            {"sentryDsnRotatedOn": "last week"},
            "sentryDsnRotatedOn: Input should be a valid date",
        ),
        ("staging", {"siteDomain": None}, "siteDomain: missing"),
        (
            "prod",
            {"http5xxWarningPercent": "6"},
            "http5xxWarningPercent: 6.0 must be below http5xxCriticalPercent 5.0",
        ),
        (
            "prod",
            {"backupRetentionDays": 14},
            "backupRetentionDays: 14 is below backupRetentionFloorDays 35",
        ),
        (
            "staging",
            {"backupObjectLockMode": "LEGAL_HOLD"},
            "backupObjectLockMode: Input should be 'GOVERNANCE' or 'COMPLIANCE', got 'LEGAL_HOLD'",
        ),
        (
            "prod",
            {"backupExpireAfterDays": 30},
            "backupExpireAfterDays: 30 is below backupObjectLockDays 35",
        ),
        (
            "staging",
            {"backupColdStorageAfterDays": 35},
            "backupExpireAfterDays: backupColdStorageAfterDays 35 must be below 35",
        ),
        (
            "prod",
            {"backupCopyRegion": "us-west-2"},
            "backupCopyRegion: 'us-west-2' must be another AWS region than awsRegion 'us-west-2'",
        ),
        (
            "prod",
            {"backupVaultLockCoolingOffDays": 2},
            "backupVaultLockCoolingOffDays: 2 is below AWS's minimum of 3",
        ),
        (
            "staging",
            {"backupDumpSchedule": "every day at 3"},
            "backupDumpSchedule: 'every day at 3' is not a cron(...) or rate(...) expression",
        ),
        (
            "prod",
            {"protectStatefulResources": "yes"},
            "protectStatefulResources: expected true or false, got 'yes'",
        ),
    ],
)
def test_each_mistake_is_named(stack, config, expected):
    assert expected in config_problems(stack, config)


def test_a_missing_secret_is_named_with_the_command_that_sets_it():
    secrets = {key: value for key, value in DUMMY_SECRETS.items() if key != "sentryDsn"}
    message = config_problems("prod", {}, secrets)
    assert "sentryDsn: secret missing (pulumi config set --secret sentryDsn" in message


def test_a_secret_set_as_plaintext_is_refused():
    secrets = {key: value for key, value in DUMMY_SECRETS.items() if key != "googleApiKey"}
    message = config_problems("staging", {"googleApiKey": "plain-text-key"}, secrets)
    assert "googleApiKey: set as plaintext" in message
    assert "plain-text-key" not in message


@pytest.mark.parametrize(
    ("key", "value", "found"),
    [
        ("originAuthSecret", "Wildcard*OriginSecretLongEnough0000", "1 kind(s) of character"),
        ("originAuthSecret", "Wild?cardOriginSecretLongEnough0000", "1 kind(s) of character"),
        ("originAuthSecret", "short0Secret", "12 characters"),
        ("originAuthSecret", "", "0 characters"),
        ("originAuthSecretPrevious", "dummy-previous-origin-secret-0000000", "kind(s)"),
    ],
)
def test_an_origin_secret_that_is_not_32_letters_and_digits_is_refused(key, value, found):
    """The ALB reads `*` and `?` in a header value as wildcards: such a secret would accept
    other values. The message names the key and the fault, never the value."""
    message = config_problems("prod", {}, {**DUMMY_SECRETS, key: value})
    assert f"{key}: the origin secret must be at least 32 letters and digits" in message
    assert found in message
    if value:
        assert value not in message


def test_the_previous_origin_secret_may_be_empty_or_unset():
    render_stack("staging", secret_values={**DUMMY_SECRETS, "originAuthSecretPrevious": ""})
    unset = {k: v for k, v in DUMMY_SECRETS.items() if k != "originAuthSecretPrevious"}
    render_stack("staging", secret_values=unset)


def test_every_problem_is_listed_in_one_error():
    message = config_problems(
        "prod",
        {
            "taskMemory": 5120,
            "vpcCidr": "not-a-cidr",
            "alarmEmails": ["bad"],
            "logRetentionDays": 7,
        },
        {key: value for key, value in DUMMY_SECRETS.items() if key != "databaseUrl"},
    )
    assert message.startswith("stack 'prod' has 5 config problem(s):")
    for fragment in (
        "taskMemory",
        "vpcCidr",
        "alarmEmails",
        "logRetentionDays",
        "databaseUrl",
    ):
        assert fragment in message


def test_fargate_sizes_match_the_published_table():
    assert FARGATE_SIZES[256] == {512, 1024, 2048}
    assert min(FARGATE_SIZES[4096]) == 8192
    assert max(FARGATE_SIZES[4096]) == 30720
    assert max(FARGATE_SIZES[16384]) == 122880
    assert 5120 not in FARGATE_SIZES[512]


def test_config_that_would_break_the_deployed_app_is_warned_about():
    warnings = render_with("staging", {"databaseEgressCidrs": []}).warnings
    assert any(w.startswith("databaseEgressCidrs is empty") for w in warnings)

    configured = render_with("staging", {"databaseEgressCidrs": ["10.99.0.0/16"]})
    assert configured.warnings == ()
