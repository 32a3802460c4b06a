"""The scrubbing pipeline itself, class by class, each with what it must keep (the bad case of
over-scrubbing) next to what it must replace."""

import json
import math
import random
from datetime import date
from typing import Any

import pytest

from app.redaction import (
    DOB,
    EMAIL,
    MAX_DEPTH,
    PHONE,
    REDACTED,
    SSN,
    TOO_DEEP,
    classify_key,
    is_sensitive_key,
    key_words,
    redact,
    redact_event,
    redact_url,
    scrub,
    scrub_event,
    scrub_text,
)
from tests.app.test_scrub_samples import (
    aws_access_key_id,
    aws_secret_access_key,
    date_of_birth,
    email,
    github_token,
    jwt,
    oracle_findings,
    person_name,
    phone,
    private_key,
    slack_token,
    ssn,
    stripe_key,
    token,
)

RNG = random.Random(20260116)
SECRET = token(RNG, 20)

# --- keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("refreshToken", ["refresh", "token"]),
        ("X-API-KEY", ["x", "api", "key"]),
        ("x_api_key", ["x", "api", "key"]),
        ("APIKey", ["api", "key"]),
        ("supabaseAnonKey", ["supabase", "anon", "key"]),
        ("date_of.birth", ["date", "of", "birth"]),
    ],
)
def test_keys_are_normalised_into_words(key, words):
    assert key_words(key) == words


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "PassWord",
        "userPassword",
        "passwd",
        "PASSWD",
        "pwd",
        "pass",
        "pass_word",
        "token",
        "accessToken",
        "refreshToken",
        "refresh-token",
        "id_token",
        "key",
        "apiKey",
        "api-key",
        "Api_Key",
        "x_api_key",
        "X-Api-Key",
        "supabaseAnonKey",
        "SECRET",
        "clientSecret",
        "client-secret",
        "AWS_SECRET_ACCESS_KEY",
        "credentials",
        "Authorization",
        "Proxy-Authorization",
        "auth",
        "authHeader",
        "cookie",
        "Set-Cookie",
        "sessionCookie",
        "session_id",
        "sessionId",
        "csrftoken",
        "XSRF-TOKEN",
        "otp",
        "mfa_code",
        "pin",
        "privateKey",
        "private-key",
        "jwt",
        "sentryDsn",
        "signature",
        "connect.sid",
        "PHPSESSID",
        "pass\u200bword",  # a zero-width space
        "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44",  # full-width letters
    ],
)
def test_credential_keys_are_redacted_in_any_spelling(key):
    assert redact({key: SECRET, "route": "/api/logs"}) == {key: REDACTED, "route": "/api/logs"}
    assert is_sensitive_key(key)


@pytest.mark.parametrize(
    ("key", "placeholder"),
    [
        ("email", EMAIL),
        ("Email", EMAIL),
        ("patient_email", EMAIL),
        ("emailAddress", EMAIL),
        ("e-mail", EMAIL),
        ("phone", PHONE),
        ("phoneNumber", PHONE),
        ("mobile", PHONE),
        ("cell_phone", PHONE),
        ("tel", PHONE),
        ("dob", DOB),
        ("DOB", DOB),
        ("birthDate", DOB),
        ("date_of_birth", DOB),
        ("dateOfBirth", DOB),
        ("birthday", DOB),
        ("ssn", SSN),
        ("SSN", SSN),
        ("socialSecurityNumber", SSN),
        ("name", REDACTED),
        ("firstName", REDACTED),
        ("first_name", REDACTED),
        ("lastName", REDACTED),
        ("LAST-NAME", REDACTED),
        ("fullName", REDACTED),
        ("middle_name", REDACTED),
        ("surname", REDACTED),
        ("username", REDACTED),
        ("user_username", REDACTED),
        ("x_name", REDACTED),
        ("guardianName", REDACTED),
        ("patientFirstName", REDACTED),
        ("displayName", REDACTED),
        ("patientName", REDACTED),
        ("contact_full_name", REDACTED),
        ("patient", REDACTED),
        ("patientId", REDACTED),
        ("patient_record", REDACTED),
        ("address", REDACTED),
        ("streetAddress", REDACTED),
        ("address_line_1", REDACTED),
        ("zipCode", REDACTED),
        ("postal_code", REDACTED),
        ("city", REDACTED),
        ("mrn", REDACTED),
        ("ip_address", REDACTED),
        ("X-Forwarded-For", REDACTED),
    ],
)
def test_patient_identity_keys_get_their_placeholder(key, placeholder):
    assert classify_key(key) == placeholder
    assert redact({key: "Jane", "nested": [{key: {"deep": 1}}]}) == {
        key: placeholder,
        "nested": [{key: placeholder}],
    }


@pytest.mark.parametrize(
    "key",
    [
        "route",
        "status",
        "level",
        "logger",
        "event",
        "message",
        "request_id",
        "trace_id",
        "duration_ms",
        "fileName",
        "filename",
        "serviceName",
        "db_name",
        "thread.name",
        "hostname",
        "procedure",
        "consultationType",
        "cancellation",
        "association",
        "passenger",
        "author",
        "inside",
        "release",
        "environment",
        "user_agent",
        "url",
        "data",
    ],
)
def test_ordinary_keys_are_kept(key):
    assert classify_key(key) is None
    assert redact({key: "booking step 2"}) == {key: "booking step 2"}


def test_identity_keys_keep_values_that_identify_no_one():
    assert redact({"email": None, "phoneVerified": False, "name": ""}) == {
        "email": None,
        "phoneVerified": False,
        "name": "",
    }
    assert redact({"password": None}) == {"password": REDACTED}


def test_cloudwatch_metric_names_are_not_taken_for_person_names():
    line = {"_aws": {"CloudWatchMetrics": [{"Metrics": [{"Name": "booking_failed"}]}]}}
    assert redact(line) == line
    assert redact({"_aws": {"token": SECRET}}) == {"_aws": {"token": REDACTED}}


# --- values in text ----------------------------------------------------------------------------


def cases() -> list[tuple[str, str, str]]:
    """(text with a secret, the secret, what must be left of it) for every value class."""
    rng = random.Random(5)
    raw = [
        ("Authorization: Bearer {}", token(rng), "Authorization: [redacted]"),
        ("sent 'Authorization': 'Bearer {}' upstream", token(rng), "'Authorization': '[redacted]'"),
        ("retry with Bearer {}", token(rng), "Bearer [redacted]"),
        ("Authorization: Basic {}", "dXNlcjpwYXNzd29yZA==", "Authorization: [redacted]"),
        ("jwt={}", jwt(rng), "jwt=[redacted]"),
        ("token is {} now", jwt(rng), "token is [redacted] now"),
        ("cut short {}", jwt(rng)[:30], "cut short [redacted]"),
        ("key {} in use", aws_access_key_id(rng), "key [redacted] in use"),
        ("{}", "AKIA" + "Q" * 16, "[redacted]"),  # letters only, alone in its string
        ("secret part {} seen", aws_secret_access_key(rng), "secret part [redacted] seen"),
        (
            "aws_secret_access_key={}",
            aws_secret_access_key(rng),
            "aws_secret_access_key=[redacted]",
        ),
        ("password={} and more", token(rng), "password=[redacted] and more"),
        ("passwd: {}", token(rng), "passwd: [redacted]"),
        ('{{"password": "{} two"}}', token(rng), '{"password": "[redacted]"}'),
        ('{{\\"apiKey\\":\\"{}\\"}}', token(rng), '{\\"apiKey\\":\\"[redacted]\\"}'),
        ("x-api-key: {}", stripe_key(rng), "x-api-key: [redacted]"),
        ("refreshToken={}", token(rng), "refreshToken=[redacted]"),
        ("stripe {}", stripe_key(rng), "stripe [redacted]"),
        ("github {}", github_token(rng), "github [redacted]"),
        ("slack {}", slack_token(rng), "slack [redacted]"),
        ("pem {}", private_key(rng), "pem [redacted]"),
        ("Cookie: sid={}; theme=dark", token(rng), "Cookie: [redacted]; theme=[redacted]"),
        ("postgresql://miko:{}@db.internal:5432/app", token(rng), "postgresql://[redacted]@db"),
        (
            "https://a.example/cb?access_token={}&step=2",
            token(rng),
            "/cb?access_token=[redacted]&step=2",
        ),
        (
            "/reset#access_token={}&type=recovery",
            jwt(rng),
            "#access_token=[redacted]&type=recovery",
        ),
        ("/cb?code={}", token(rng), "/cb?code=[redacted]"),
        ("mail {} now", email(rng), "mail [email] now"),
        ("to=jane%40{}", "clinic.example.com", "to=[email]"),
        ("call {} today", phone(rng), "call [phone] today"),
        ("ssn {} on file", ssn(rng), "ssn [ssn] on file"),
        ("dob: {}", date_of_birth(rng), "dob: [dob]"),
        ("born on {}", date_of_birth(rng), "born on [dob]"),
        ("Date of birth {}", date_of_birth(rng), "Date of birth [dob]"),
        ("name={}", person_name(rng).split()[0], "name=[redacted]"),
        ('patient name: "{}"', person_name(rng), 'patient name: "[redacted]"'),
        ("phone={}", "5551234567", "phone=[phone]"),
        ("pg_dump --password {} -h db", token(rng), "--password [redacted] -h db"),
        ("fetch //svc:{}@cache.internal/x", token(rng), "//[redacted]@cache.internal/x"),
        ('{{"url":"https:\\/\\/u:{}@h.example"}}', token(rng), "https:\\/\\/[redacted]@h"),
        ("held {{'password': ['{}', 'b']}}", token(rng), "{'password': [redacted]}"),
        ("GET /cb;jsessionid={} HTTP/1.1", token(rng), "/cb;jsessionid=[redacted] HTTP/1.1"),
        # botocore's DEBUG repr of a signed request prints header values as bytes literals
        # (found by running the service in the task sandbox under staging's DEBUG level).
        (
            "headers={{'X-Amz-Security-Token': b'{}', 'Content-Length': '531'}}",
            token(rng),
            "'X-Amz-Security-Token': b'[redacted]', 'Content-Length': '531'",
        ),
    ]
    return [(template.format(secret), secret, left) for template, secret, left in raw]


@pytest.mark.parametrize(("text", "secret", "left"), cases(), ids=lambda value: str(value)[:30])
def test_values_are_scrubbed_wherever_they_appear(text, secret, left):
    assert secret in text  # the bad case: the raw text does carry it
    for where in (
        text,
        {"message": text},
        {"data": {"nested": [{"note": text}]}},
        [text.encode()],
        {text: 1},
    ):
        output = json.dumps(scrub(where))
        assert secret not in output
        assert secret.replace("/", "\\/") not in output
    assert left in scrub_text(text)
    assert oracle_findings(scrub_text(text)) == []


@pytest.mark.parametrize(
    "text",
    [
        "GET /api/logs 200",
        "Error upserting chat session",
        "2026-01-16T10:00:00.123Z took 1768557600",
        "request 0123456789abcdef0123456789abcdef",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36",
        'File "/work/main/.venv/lib/python3.11/site-packages/starlette/routing.py", line 12',
        "/Users/Jane/Projects/ClinicPlatform2/src/app/main.py",
        "https://miko.example/booking?step=2&utm_source=google",
        "version 1.2.3 on 10.0.0.12:8080",
        "Basic authentication failed",
        "the filename=report.pdf was uploaded",
        "postgres health check failed: Connection refused",
        "index-Bc1dE2fG.js",
    ],
)
def test_ordinary_text_is_kept(text):
    assert scrub_text(text) == text


def test_scrubbing_twice_changes_nothing():
    for text, _, _ in cases():
        once = scrub_text(text)
        assert scrub_text(once) == once


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.example/p?token=abc&x=1", f"https://a.example/p?token={REDACTED}&x={REDACTED}"),
        ("https://a.example/p?API_KEY=abc", f"https://a.example/p?API_KEY={REDACTED}"),
        (
            "https://user:pw@a.example/p",  # pragma: allowlist secret
            f"https://{REDACTED}@a.example/p",
        ),
        ("https://a.example/p?step=2", "https://a.example/p?step=2"),
        ("https://a.example/p?step=" + "x" * 60, f"https://a.example/p?step={REDACTED}"),
        (
            "https://a.example/auth#access_token=abc&refresh_token=def&expires_in=3600",
            f"https://a.example/auth#access_token={REDACTED}&refresh_token={REDACTED}"
            f"&expires_in={REDACTED}",
        ),
        ("https://a.example/patients/jane@x.example", "https://a.example/patients/[email]"),
        ("https://a.example/p#section-2", "https://a.example/p#section-2"),
        ("N/A", "N/A"),
    ],
)
def test_urls_keep_scheme_host_and_path_only(url, expected):
    assert redact_url(url) == expected


# --- structures --------------------------------------------------------------------------------


def test_nested_dicts_and_lists_are_walked():
    value = {"a": [{"b": {"token": "t"}}, ["x", {"secret": "s"}]], "keep": 1}
    assert redact(value) == {
        "a": [{"b": {"token": REDACTED}}, ["x", {"secret": REDACTED}]],
        "keep": 1,
    }


def test_input_is_not_modified():
    value = {"password": "p", "list": [{"email": "a@b.example"}]}
    redact(value)
    assert value == {"password": "p", "list": [{"email": "a@b.example"}]}


def test_depth_is_bounded():
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(MAX_DEPTH + 5):
        cursor["n"] = {}
        cursor = cursor["n"]
    cursor["password"] = "p"
    assert TOO_DEEP in repr(redact(deep))
    assert "'p'" not in repr(redact(deep))


def test_a_cycle_ends_at_the_depth_bound():
    looped: dict[str, Any] = {"token": SECRET}
    looped["self"] = looped
    assert SECRET not in repr(scrub(looped))


def test_other_types_become_json_types_and_are_scrubbed():
    class Holder:
        def __str__(self) -> str:
            return f"Holder(password={SECRET})"

    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    scrubbed = scrub(
        {
            "nan": math.nan,
            "inf": -math.inf,
            "tuple": (1, 2),
            "set": {3},
            "bytes": f"Bearer {SECRET}".encode(),
            "object": Holder(),
            "broken": Broken(),
            "huge": 10**400,
            "day": date(2026, 1, 16),
            7: "int key",
        }
    )
    assert scrubbed["nan"] is None
    assert scrubbed["inf"] is None
    assert scrubbed["tuple"] == [1, 2]
    assert scrubbed["set"] == [3]
    assert scrubbed["bytes"] == f"Bearer {REDACTED}"
    assert scrubbed["object"] == f"Holder(password={REDACTED})"
    assert scrubbed["broken"] == "[unrepresentable]"
    assert scrubbed["huge"] == "[unrepresentable]"
    assert scrubbed["day"] == date(2026, 1, 16)
    assert scrubbed["7"] == "int key"


def test_raw_query_strings_under_their_keys_lose_their_values():
    scrubbed = scrub({"query_string": f"access_token={SECRET}&step=2", "http.query": "a=b"})
    assert scrubbed == {
        "query_string": f"access_token={REDACTED}&step=2",
        "http.query": f"a={REDACTED}",
    }


# --- Sentry events -----------------------------------------------------------------------------


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


def test_sentry_metadata_keeps_its_names_and_user_data_loses_them():
    patient = person_name(random.Random(3))
    event = {
        "sdk": {"name": "sentry.python", "packages": [{"name": "pypi:sentry-sdk"}]},
        "contexts": {
            "runtime": {"name": "CPython", "version": "3.11.7"},
            "booking": {"name": patient},
        },
        "threads": {"values": [{"name": "MainThread"}]},
        "user": {"email": email(random.Random(4)), "id": "42"},
        "tags": {"patient_name": patient},
        "message": f"booking for {patient} failed",  # a name in prose: a known limit
    }
    scrubbed = scrub_event(event)
    assert scrubbed["sdk"]["name"] == "sentry.python"
    assert scrubbed["sdk"]["packages"] == [{"name": "pypi:sentry-sdk"}]
    assert scrubbed["contexts"]["runtime"]["name"] == "CPython"
    assert scrubbed["threads"]["values"][0]["name"] == "MainThread"
    assert scrubbed["contexts"]["booking"] == {"name": REDACTED}
    assert scrubbed["user"] == {"email": EMAIL, "id": "42"}
    assert scrubbed["tags"] == {"patient_name": REDACTED}
    assert patient in scrubbed["message"]
