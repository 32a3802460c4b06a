import pytest
from pydantic import ValidationError

from app.settings import STATIC_DIR_DEFAULT, Settings, describe_error

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
    assert settings.keepalive_timeout_seconds > 60
    assert settings.shutdown_grace_seconds < 30
    assert settings.proxy_hops == 0
    assert settings.integration_urls == []


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
    assert settings.integration_urls == [PRODUCTION["SUPABASE_URL"], PRODUCTION["N8N_WEBHOOK_URL"]]


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
