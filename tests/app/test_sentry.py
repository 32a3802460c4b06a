import pytest
import sentry_sdk
from pydantic import SecretStr

import app.sentry
from app.settings import Settings

pytestmark = pytest.mark.usefixtures("clean_environment")


def test_nothing_is_initialised_without_a_dsn(monkeypatch):
    calls = []
    monkeypatch.setattr(sentry_sdk, "init", lambda **kwargs: calls.append(kwargs))
    assert app.sentry.init_sentry(Settings()) is False
    assert calls == []


def test_dsn_initialises_with_redaction_and_no_pii(monkeypatch):
    calls = []
    monkeypatch.setattr(sentry_sdk, "init", lambda **kwargs: calls.append(kwargs))
    settings = Settings(
        sentry_dsn=SecretStr("https://public@o1.ingest.sentry.io/1"), app_env="development"
    )
    assert app.sentry.init_sentry(settings) is True
    (options,) = calls
    assert options["dsn"] == "https://public@o1.ingest.sentry.io/1"
    assert options["send_default_pii"] is False
    assert options["environment"] == "development"
    event = {
        "request": {"url": "https://a/?token=abc", "headers": {"Cookie": "abc"}},
        "extra": {"password": "abc"},
    }
    assert "abc" not in repr(options["before_send"](event, {}))
