from typing import Any

import pytest

from app.redaction import MAX_DEPTH, REDACTED, TOO_DEEP, redact, redact_event, redact_url


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "PassWord",
        "userPassword",
        "token",
        "accessToken",
        "key",
        "apiKey",
        "SECRET",
        "api_key",
        "credentials",
        "Authorization",
        "cookie",
        "Set-Cookie",
    ],
)
def test_sensitive_keys_are_redacted_case_insensitively(key):
    assert redact({key: "value", "name": "kept"}) == {key: REDACTED, "name": "kept"}


def test_nested_dicts_and_lists_are_walked():
    value = {"a": [{"b": {"token": "t"}}, ["x", {"secret": "s"}]], "keep": 1}
    assert redact(value) == {
        "a": [{"b": {"token": REDACTED}}, ["x", {"secret": REDACTED}]],
        "keep": 1,
    }


def test_input_is_not_modified():
    value = {"password": "p"}
    redact(value)
    assert value == {"password": "p"}


def test_depth_is_bounded():
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(MAX_DEPTH + 5):
        cursor["n"] = {}
        cursor = cursor["n"]
    cursor["password"] = "p"
    assert TOO_DEEP in repr(redact(deep))
    assert "'p'" not in repr(redact(deep))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.example/p?token=abc&x=1", f"https://a.example/p?token={REDACTED}&x=1"),
        ("https://a.example/p?API_KEY=abc", f"https://a.example/p?API_KEY={REDACTED}"),
        (
            "https://user:pw@a.example/p",  # pragma: allowlist secret
            f"https://{REDACTED}@a.example/p",
        ),
        ("https://a.example/p?step=2", "https://a.example/p?step=2"),
        ("N/A", "N/A"),
    ],
)
def test_urls_lose_secret_query_values(url, expected):
    assert redact_url(url) == expected


def test_sentry_event_is_scrubbed():
    event = {
        "request": {
            "url": "https://a.example/cb?code=1&access_token=abc",
            "query_string": "access_token=abc&x=1",
            "headers": {"Authorization": "Bearer abc", "Cookie": "s=abc", "Accept": "*/*"},
            "data": {"password": "abc"},
        },
        "extra": {"api_key": "abc"},
        "exception": {
            "values": [{"stacktrace": {"frames": [{"vars": {"secret_value": "abc", "n": 1}}]}}]
        },
        "breadcrumbs": {"values": [{"data": {"url": "https://n8n.example/hook?token=abc"}}]},
    }
    scrubbed = redact_event(event)
    assert "abc" not in repr(scrubbed)
    assert scrubbed["request"]["headers"]["Accept"] == "*/*"
    assert scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]["n"] == 1
