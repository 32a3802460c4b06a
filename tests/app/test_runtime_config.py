"""The SPA's runtime configuration: the script, the tag in every page, and what reaches it.

What the browser does with them (the page sees the stack's values, no CSP violation) is shown in
headless Chromium by tests/frontend/; here, the pieces and the refusals.
"""

import json
import re

import pytest
from pydantic import ValidationError

from app.contract import (
    BROWSER_VISIBLE_VARIABLES,
    LOGS_INGEST_PATH,
    PLATFORM_BROWSER_KEYS,
    RUNTIME_CONFIG_GLOBAL,
    RUNTIME_CONFIG_PATH,
)
from app.runtime_config import SCRIPT_TAG, runtime_config_script, with_runtime_config_tag
from app.settings import Settings

pytestmark = pytest.mark.usefixtures("clean_environment")

SUPABASE = "https://abcd.supabase.co"
ROUTED = json.dumps(
    {"VITE_SUPABASE_URL": "SUPABASE_URL", "VITE_SUPABASE_ANON_KEY": "SUPABASE_ANON_KEY"}
)


def script_object(script: bytes) -> dict[str, str]:
    match = re.fullmatch(
        rb"globalThis\." + RUNTIME_CONFIG_GLOBAL.encode() + rb" = Object\.freeze\((.*)\);\n",
        script,
        re.DOTALL,
    )
    assert match is not None, script
    found: dict[str, str] = json.loads(match.group(1))
    return found


def test_the_script_sets_the_global_to_the_values_and_escapes_line_terminators():
    values = {"VITE_A": "plain", "VITE_B": "line\u2028sep\u2029</script>"}
    script = runtime_config_script(values)

    assert script_object(script) == values
    # A raw U+2028/U+2029 ends a statement in older JavaScript engines; escaped, it cannot.
    assert "\u2028".encode() not in script
    assert "\u2029".encode() not in script
    assert script.isascii()


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (b"<html><head><title>x</title>", b"<html><head>" + SCRIPT_TAG + b"<title>x</title>"),
        (
            b'<HEAD lang="en"><script src=a.js>',
            b'<HEAD lang="en">' + SCRIPT_TAG + b"<script src=a.js>",
        ),
        (
            b"<p>no head</p><script>1</script>",
            b"<p>no head</p>" + SCRIPT_TAG + b"<script>1</script>",
        ),
        (b"<p>bare</p>", SCRIPT_TAG + b"<p>bare</p>"),
        (b"<head>" + SCRIPT_TAG, b"<head>" + SCRIPT_TAG),
    ],
)
def test_the_tag_goes_before_the_page_s_own_scripts_once(page, expected):
    assert with_runtime_config_tag(page) == expected


def test_a_header_element_is_not_mistaken_for_the_head():
    page = b"<header>x</header><head></head>"
    assert with_runtime_config_tag(page) == b"<header>x</header><head>" + SCRIPT_TAG + b"</head>"


def test_the_endpoint_serves_the_routed_values_never_cached(make_client):
    client = make_client(
        supabase_url=SUPABASE,
        supabase_anon_key="anon-jwt",
        database_url="postgresql://u:pw@db.example.com/postgres",  # pragma: allowlist secret
        browser_config_from=ROUTED,
        browser_config_values=json.dumps({"VITE_ENABLE_ANALYTICS": "false"}),
    )
    response = client.get(RUNTIME_CONFIG_PATH)

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("text/javascript")
    config = script_object(response.content)
    assert config["VITE_SUPABASE_URL"] == SUPABASE
    assert config["VITE_SUPABASE_ANON_KEY"] == "anon-jwt"
    assert config["VITE_ENABLE_ANALYTICS"] == "false"
    assert config["VITE_LOG_ENDPOINT"] == LOGS_INGEST_PATH
    assert set(PLATFORM_BROWSER_KEYS) <= set(config)
    # What was not routed stays on the server.
    assert "db.example.com" not in response.text
    assert client.head(RUNTIME_CONFIG_PATH).content == b""
    assert client.post(RUNTIME_CONFIG_PATH).status_code == 405


@pytest.mark.parametrize("variable", ["DATABASE_URL", "SENTRY_DSN", "SCRATCH_DATABASE_URL", "PATH"])
def test_a_server_only_variable_cannot_be_routed_to_the_browser(monkeypatch, variable):
    assert variable not in BROWSER_VISIBLE_VARIABLES
    monkeypatch.setenv("BROWSER_CONFIG_FROM", json.dumps({"VITE_LEAK": variable}))
    with pytest.raises(ValidationError, match=variable):
        Settings()


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("browser_config_values", {"VITE_APP_VERSION": "1"}, "set by the service"),
        ("browser_config_values", {"lower_case": "1"}, "lower_case"),
        ("browser_config_from", "{not json", "JSON object"),
    ],
)
def test_bad_browser_config_is_refused_naming_it(monkeypatch, field, value, named):
    monkeypatch.setenv(field.upper(), value if isinstance(value, str) else json.dumps(value))
    with pytest.raises(ValidationError, match=named):
        Settings()


def test_unset_routed_variables_are_left_out_in_development(monkeypatch):
    monkeypatch.setenv("BROWSER_CONFIG_FROM", ROUTED)
    assert "VITE_SUPABASE_URL" not in Settings().browser_config()


def test_the_csp_lists_exactly_the_browser_config_url_origins(make_client):
    client = make_client(
        supabase_url=SUPABASE,
        n8n_webhook_url="https://n8n.example.com/webhook/secret-path",
        browser_config_from=json.dumps(
            {"VITE_SUPABASE_URL": "SUPABASE_URL", "VITE_N8N_WEBHOOK_URL": "N8N_WEBHOOK_URL"}
        ),
        browser_config_values=json.dumps({"VITE_SENTRY_DSN": "https://k@o1.ingest.sentry.io/2"}),
    )
    csp = client.get("/").headers["content-security-policy"]
    connect = next(d for d in csp.split("; ") if d.startswith("connect-src "))

    assert connect.split()[1:] == [
        "'self'",
        "https://abcd.supabase.co",
        "https://n8n.example.com",
        "https://o1.ingest.sentry.io",
        "wss://abcd.supabase.co",
        "https://accounts.google.com/gsi/",
        "https://www.googleapis.com",
    ]
    assert "secret-path" not in csp


def test_report_only_mode_swaps_the_header(make_client):
    headers = make_client(csp_mode="report-only").get("/").headers
    assert "content-security-policy" not in headers
    assert "report-uri /api/csp-reports" in headers["content-security-policy-report-only"]
