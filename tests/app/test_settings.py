from typing import get_args

import pytest
from pydantic import ValidationError

from app import contract
from app.contract import Env, SecretEnv
from app.settings import STATIC_DIR_DEFAULT, AppEnv, Settings, describe_error

pytestmark = pytest.mark.usefixtures("clean_environment")

PRODUCTION = {
    "SUPABASE_URL": "https://abc.supabase.co",
    "SUPABASE_ANON_KEY": "anon-key-value-123",
    "N8N_WEBHOOK_URL": "https://n8n.example.com/webhook/chat",
    "N8N_INSTANCE_ID": "instance-1",
    "GOOGLE_CLIENT_ID": "client.apps.googleusercontent.com",
    "GOOGLE_API_KEY": "google-api-key-value-456",  # pragma: allowlist secret
    "BASE44_APP_ID": "base44-app",
    "ALLOWED_ORIGINS": "https://miko.example.com, https://www.miko.example.com",
    "LOAD_BALANCER_IDLE_TIMEOUT_SECONDS": "60",
    "CONTAINER_STOP_TIMEOUT_SECONDS": "30",
}
REQUIRED = sorted(set(PRODUCTION))


def production_env(monkeypatch, **changes):
    monkeypatch.setenv("APP_ENV", "production")
    for name, value in {**PRODUCTION, **changes}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def test_development_needs_nothing():
    settings = Settings()
    assert (settings.app_env, settings.host, settings.port) == ("development", "127.0.0.1", 8080)
    assert settings.static_dir == STATIC_DIR_DEFAULT
    assert settings.load_balancer_idle_timeout_seconds is None
    assert settings.container_stop_timeout_seconds is None
    assert settings.proxy_hops == 0
    assert "VITE_SUPABASE_URL" not in settings.browser_config()


def test_environment_overrides_defaults(monkeypatch):
    monkeypatch.setenv("PORT", "9090")
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://a.example, http://localhost:5173/")
    monkeypatch.setenv("STATIC_DIR", "/srv/site")
    settings = Settings()
    assert settings.port == 9090
    assert settings.allowed_origins == ["https://a.example", "http://localhost:5173"]
    assert str(settings.static_dir) == "/srv/site"


@pytest.mark.parametrize("app_env", ["staging", "production"])
def test_strict_environment_names_every_missing_variable(monkeypatch, app_env):
    monkeypatch.setenv("APP_ENV", app_env)
    with pytest.raises(ValidationError) as caught:
        Settings()
    message = describe_error(caught.value)
    for name in REQUIRED:
        assert name in message
    assert "DATABASE_URL" not in message


def test_production_complete_is_accepted_and_trusts_one_proxy(monkeypatch):
    production_env(monkeypatch)
    settings = Settings()
    assert settings.proxy_hops == 1
    # Nothing reaches the browser that the stack did not route (BROWSER_CONFIG_FROM unset).
    assert PRODUCTION["SUPABASE_URL"] not in settings.browser_config().values()


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"ALLOWED_ORIGINS": "*"}, "ALLOWED_ORIGINS"),
        ({"ALLOWED_ORIGINS": "http://miko.example.com"}, "ALLOWED_ORIGINS"),
        ({"KEEPALIVE_TIMEOUT_SECONDS": "60"}, "KEEPALIVE_TIMEOUT_SECONDS"),
        ({"SHUTDOWN_GRACE_SECONDS": "30"}, "SHUTDOWN_GRACE_SECONDS"),
    ],
)
def test_production_refuses_unsafe_values(monkeypatch, changes, named):
    production_env(monkeypatch, **changes)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert named in describe_error(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SUPABASE_URL", "not a url"),
        ("ALLOWED_ORIGINS", "https://a.example/path"),
        ("PORT", "http"),
        ("APP_ENV", "prod"),
    ],
)
def test_malformed_values_are_refused_by_name(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert name in describe_error(caught.value)


def test_secrets_never_show(monkeypatch):
    database_url = "postgresql://u:db-password-789@db/x"  # pragma: allowlist secret
    production_env(monkeypatch, DATABASE_URL=database_url)
    settings = Settings()
    shown = repr(settings) + str(settings) + str(settings.model_dump())
    for secret in ("anon-key-value-123", "google-api-key-value-456", "db-password-789"):
        assert secret not in shown


def test_errors_do_not_echo_the_rejected_value(monkeypatch):
    monkeypatch.setenv("SENTRY_TRACES_SAMPLE_RATE", "secret-looking-value")
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert "secret-looking-value" not in describe_error(caught.value)
    assert "secret-looking-value" not in str(caught.value)


@pytest.mark.parametrize(("limit", "workers", "share"), [(100, 1, 100), (100, 3, 33), (1, 4, 1)])
def test_rate_limit_is_shared_between_workers(limit, workers, share):
    assert Settings(rate_limit=limit, web_concurrency=workers).per_worker_rate_limit == share


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        (
            {"KEEPALIVE_TIMEOUT_SECONDS": "60"},
            "KEEPALIVE_TIMEOUT_SECONDS=60 / LOAD_BALANCER_IDLE_TIMEOUT_SECONDS=60: "
            "the app's keep-alive",
        ),
        (
            {"KEEPALIVE_TIMEOUT_SECONDS": "90", "LOAD_BALANCER_IDLE_TIMEOUT_SECONDS": "120"},
            "KEEPALIVE_TIMEOUT_SECONDS=90 / LOAD_BALANCER_IDLE_TIMEOUT_SECONDS=120: "
            "the app's keep-alive",
        ),
        (
            {"SHUTDOWN_GRACE_SECONDS": "40"},
            "SHUTDOWN_GRACE_SECONDS=40 / CONTAINER_STOP_TIMEOUT_SECONDS=30: "
            "the app's shutdown grace",
        ),
        (
            {"SHUTDOWN_GRACE_SECONDS": "60", "CONTAINER_STOP_TIMEOUT_SECONDS": "60"},
            "SHUTDOWN_GRACE_SECONDS=60 / CONTAINER_STOP_TIMEOUT_SECONDS=60: "
            "the app's shutdown grace",
        ),
    ],
)
def test_timings_are_checked_against_the_limits_of_the_stack(monkeypatch, changes, fragment):
    production_env(monkeypatch, **changes)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert fragment in describe_error(caught.value)


@pytest.mark.parametrize(
    "changes",
    [
        {"SHUTDOWN_GRACE_SECONDS": "40", "CONTAINER_STOP_TIMEOUT_SECONDS": "60"},
        {"KEEPALIVE_TIMEOUT_SECONDS": "75", "LOAD_BALANCER_IDLE_TIMEOUT_SECONDS": "74"},
        {"KEEPALIVE_TIMEOUT_SECONDS": "130", "LOAD_BALANCER_IDLE_TIMEOUT_SECONDS": "120"},
    ],
)
def test_timings_the_stack_allows_are_accepted(monkeypatch, changes):
    production_env(monkeypatch, **changes)
    settings = Settings()
    assert settings.load_balancer_idle_timeout_seconds == int(
        changes.get(
            "LOAD_BALANCER_IDLE_TIMEOUT_SECONDS", PRODUCTION["LOAD_BALANCER_IDLE_TIMEOUT_SECONDS"]
        )
    )
    assert settings.container_stop_timeout_seconds == int(
        changes.get("CONTAINER_STOP_TIMEOUT_SECONDS", PRODUCTION["CONTAINER_STOP_TIMEOUT_SECONDS"])
    )


@pytest.mark.parametrize(
    "missing", ["LOAD_BALANCER_IDLE_TIMEOUT_SECONDS", "CONTAINER_STOP_TIMEOUT_SECONDS"]
)
def test_strict_environments_need_the_limits_of_the_stack(monkeypatch, missing):
    production_env(monkeypatch, **{missing: None})
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert f"needs these variables set: {missing}" in describe_error(caught.value)


def test_development_checks_the_limits_it_is_given(monkeypatch):
    monkeypatch.setenv("CONTAINER_STOP_TIMEOUT_SECONDS", "20")
    with pytest.raises(ValidationError) as caught:
        Settings()
    message = describe_error(caught.value)
    assert "APP_ENV=development refuses" in message
    assert "SHUTDOWN_GRACE_SECONDS=20 / CONTAINER_STOP_TIMEOUT_SECONDS=20" in message
    monkeypatch.setenv("CONTAINER_STOP_TIMEOUT_SECONDS", "21")
    monkeypatch.setenv("LOAD_BALANCER_IDLE_TIMEOUT_SECONDS", "74")
    settings = Settings()
    assert (
        settings.container_stop_timeout_seconds,
        settings.load_balancer_idle_timeout_seconds,
    ) == (21, 74)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOAD_BALANCER_IDLE_TIMEOUT_SECONDS", "0"),
        ("LOAD_BALANCER_IDLE_TIMEOUT_SECONDS", "4001"),
        ("CONTAINER_STOP_TIMEOUT_SECONDS", "0"),
        ("CONTAINER_STOP_TIMEOUT_SECONDS", "121"),
    ],
)
def test_limits_of_the_stack_are_bounded(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert name in describe_error(caught.value)


def test_the_variables_the_infrastructure_sets_are_the_ones_the_app_reads():
    """Each contract name of the service's environment is a setting (pydantic reads the field
    named like the variable); the backup job's own variables and its scratch database are not."""
    backup_only = {Env.BACKUP_BUCKET, Env.BACKUP_KMS_KEY_ID, Env.BACKUP_PREFIX}
    names = (
        {
            value
            for holder in (Env, SecretEnv)
            for key, value in vars(holder).items()
            if key.isupper()
        }
        - backup_only
        - {SecretEnv.SCRATCH_DATABASE_URL}
    )
    assert "LOAD_BALANCER_IDLE_TIMEOUT_SECONDS" in names
    fields = {name.upper() for name in Settings.model_fields}
    assert names - fields == set()


def test_app_environments_and_port_are_the_contract_s():
    assert get_args(AppEnv) == contract.APP_ENVIRONMENTS
    assert Settings().port == contract.APP_PORT
