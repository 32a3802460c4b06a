"""Property tests over every sink: the stdout writers (`write_line`, `write_text`), the logging
formatter, the client-log ingestion endpoint and Sentry's hooks.

* No secret from a generated set survives: credentials and patient data under near-miss key
  spellings, in free text, in URLs inside data, in lists and dict keys, in exception text.
  detect-secrets runs over every output as an independent oracle.
* Every line is strict JSON (no bare NaN/Infinity), at most 16,384 bytes with its newline, valid
  UTF-8, and holds no raw U+2028, U+2029, DEL or C1 control.
"""

import contextlib
import io
import json
import logging
import random
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import app.sentry
from app.logging_setup import MAX_LINE_BYTES, JsonFormatter, compact_json, write_line, write_text
from app.settings import Settings
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

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from app.asgi import create_app

# --- generated secrets -------------------------------------------------------------------------

CREDENTIAL_KEYS = [
    ["password"],
    ["passwd"],
    ["pwd"],
    ["pass"],
    ["secret"],
    ["client", "secret"],
    ["api", "key"],
    ["x", "api", "key"],
    ["access", "token"],
    ["refresh", "token"],
    ["id", "token"],
    ["auth", "token"],
    ["auth"],
    ["authorization"],
    ["session", "id"],
    ["session"],
    ["cookie"],
    ["private", "key"],
    ["credentials"],
    ["jwt"],
    ["otp"],
    ["csrf", "token"],
    ["signing", "key"],
    ["supabase", "anon", "key"],
    ["service", "role", "key"],
    ["sentry", "dsn"],
    ["aws", "secret", "access", "key"],
]
IDENTITY_KEYS = [
    ["email"],
    ["email", "address"],
    ["patient", "email"],
    ["phone"],
    ["phone", "number"],
    ["mobile"],
    ["dob"],
    ["date", "of", "birth"],
    ["birth", "date"],
    ["birthday"],
    ["ssn"],
    ["social", "security", "number"],
    ["name"],
    ["first", "name"],
    ["last", "name"],
    ["full", "name"],
    ["patient", "name"],
    ["patient", "id"],
    ["patient"],
    ["address"],
    ["street", "address"],
    ["zip", "code"],
    ["username"],
]
STYLES: list[Callable[[list[str]], str]] = [
    lambda w: w[0] + "".join(x.capitalize() for x in w[1:]),  # camelCase
    lambda w: "".join(x.capitalize() for x in w),  # PascalCase
    "_".join,
    "-".join,
    lambda w: "_".join(w).upper(),
    lambda w: "-".join(x.capitalize() for x in w),  # Header-Style
    ".".join,
    "".join,
]
SEPARATORS = [" ", ", ", ": ", " (", ") ", " '", "' ", ' "', '" ', "\n", "\t", "; ", " | ", " - "]
WORDS = ["booking", "failed", "for", "step", "upstream", "said", "retry", "n8n", "supabase"]


@dataclass
class Case:
    """Something to log, and the substrings that must not reach any sink."""

    data: dict[str, Any]
    text: str
    secrets: list[str]
    url: str | None = None


def keyed(rng: random.Random) -> Case:
    credential = rng.random() < 0.5
    words = rng.choice(CREDENTIAL_KEYS if credential else IDENTITY_KEYS)
    key = rng.choice(STYLES)(words)
    if rng.random() < 0.3:
        prefixes = ["db", "client", "upstream"] if credential else ["patient", "contact"]
        key = rng.choice(["user", "x", "new", *prefixes]) + rng.choice(["_", "-", "."]) + key
    value = token(rng, rng.randrange(12, 30))
    text = rng.choice([f"{key}={value}", f"{key}: {value}", f'"{key}": "{value}"'])
    data: dict[str, Any] = rng.choice(
        [{key: value}, {"nested": {key: value}}, {"list": [{key: value}]}, {key: [value]}]
    )
    return Case(data, text, [value])


def patterned(rng: random.Random) -> Case:
    kind = rng.randrange(22)
    secret = token(rng, rng.randrange(16, 32))
    param = rng.choice(["access_token", "refresh_token", "code", "token", "key", "sig", "q"])
    shapes: dict[int, tuple[str, str]] = {
        0: (jwt(rng), "{}"),
        1: (aws_access_key_id(rng), "{}"),
        2: (aws_secret_access_key(rng), "aws_secret_access_key={}"),
        3: (aws_secret_access_key(rng), "{}"),
        4: (secret, "Authorization: Bearer {}"),
        5: (secret, "Bearer {}"),
        6: (stripe_key(rng), "{}"),
        7: (github_token(rng), "{}"),
        8: (slack_token(rng), "{}"),
        9: (private_key(rng), "{}"),
        10: (secret, "https://admin:{}@db.example.com/app"),
        11: (secret, f"https://miko.example/cb?step=2&{param}={{}}&x=1"),
        12: (jwt(rng), "https://miko.example/reset#access_token={}&type=recovery"),
        13: (secret, f"/auth/callback?{param}={{}}"),
        14: (email(rng), "{}"),
        15: (phone(rng), "{}"),
        16: (ssn(rng), "{}"),
        17: (date_of_birth(rng), rng.choice(["dob: {}", "born on {}", "Date of birth {}"])),
        18: (person_name(rng), 'patient name: "{}"'),
        19: (secret, rng.choice(["password={}", "passwd: {}", "api-key={}", "x_api_key: {}"])),
        20: (email(rng).replace("@", "%40"), "mailto:{}"),
        21: (secret, "Cookie: theme=dark; sb-access-token={}"),
    }
    value, template = shapes[kind]
    text = template.format(value)
    is_url = kind in (10, 11, 12, 13)
    where = rng.randrange(4)
    shapes_of_data: list[dict[str, Any]] = [
        {"detail": text},
        {"context": {"items": [text]}},
        {"link" if is_url else "note": text},
        {text: "key"} if "\n" not in text else {"lines": text.splitlines()},
    ]
    data = shapes_of_data[where]
    return Case(data, text, [value], url=text if is_url and text.startswith("http") else None)


@st.composite
def cases(draw) -> list[Case]:
    rng = draw(st.randoms(use_true_random=False))
    count = draw(st.integers(1, 4))
    return [(keyed if rng.random() < 0.4 else patterned)(rng) for _ in range(count)]


def sentence(rng: random.Random, fragments: list[str]) -> str:
    parts = []
    for fragment in fragments:
        parts += [rng.choice(WORDS), rng.choice(SEPARATORS), fragment, rng.choice(SEPARATORS)]
    return "".join(parts) + rng.choice(WORDS)


# --- the sinks ---------------------------------------------------------------------------------


@contextlib.contextmanager
def captured_stdout() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    previous = sys.stdout
    sys.stdout = stream
    try:
        yield stream
    finally:
        sys.stdout = previous


def via_write_line(fields: dict[str, Any], message: str) -> str:
    with captured_stdout() as out:
        write_line({**fields, "message": message})
    return out.getvalue()


def via_write_text(fields: dict[str, Any], message: str) -> str:
    with captured_stdout() as out:
        write_text(compact_json({**fields, "message": message}) + "\n")
    return out.getvalue()


def via_logging(fields: dict[str, Any], message: str) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("app.test.properties")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise RuntimeError(message)
        except RuntimeError:
            logger.exception(message, extra={"fields": fields})
        logger.warning("%s", message, extra={"fields": {"data": fields}})
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    return stream.getvalue()


def via_sentry(fields: dict[str, Any], message: str) -> str:
    event = {
        "message": message,
        "exception": {"values": [{"type": "RuntimeError", "value": message}]},
        "extra": fields,
        "tags": {"note": message[:200]},
        "contexts": {"booking": fields, "runtime": {"name": "CPython"}},
        "request": {
            "url": "https://miko.example/api/logs",
            "query_string": "step=2",
            "headers": {"User-Agent": message[:200], **{k: str(v) for k, v in fields.items()}},
            "data": fields,
        },
        "breadcrumbs": {"values": [{"message": message, "data": fields}]},
    }
    sent = app.sentry.before_send(event, {})
    crumb = app.sentry.before_breadcrumb({"message": message, "data": fields}, {})
    return json.dumps([sent, crumb], default=str, ensure_ascii=False)


SINKS = {
    "write_line": via_write_line,
    "write_text": via_write_text,
    "logging": via_logging,
    "sentry": via_sentry,
}
PROPERTY_SETTINGS = settings(
    max_examples=int(__import__("os").environ.get("SCRUB_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def no_bare_constant(name: str) -> None:
    pytest.fail(f"bare {name} in a log line")


def check_lines(output: str) -> list[dict[str, Any]]:
    lines = output.split("\n")
    assert lines[-1] == ""
    parsed = []
    for line in lines[:-1]:
        assert len(line.encode()) + 1 <= MAX_LINE_BYTES
        assert not any(0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" for c in line), line
        parsed.append(json.loads(line, parse_constant=no_bare_constant))
    return parsed


def assert_nothing_leaks(case_list: list[Case], output: str) -> None:
    secrets = [secret for case in case_list for secret in case.secrets]
    escaped = json.dumps(output)  # also catches a secret split by JSON escapes
    for secret in secrets:
        assert secret not in output, f"{secret!r} leaked"
        assert json.dumps(secret)[1:-1] not in escaped
    assert oracle_findings(output) == []


@pytest.mark.parametrize("sink", SINKS)
@PROPERTY_SETTINGS
@given(case_list=cases(), rng=st.randoms(use_true_random=False))
def test_no_generated_secret_survives_any_sink(sink, case_list, rng):
    fields: dict[str, Any] = {"event": "client_log", "request_id": "0123456789abcdef"}
    for index, case in enumerate(case_list):
        fields[f"f{index}"] = case.data
    message = sentence(rng, [case.text for case in case_list])
    output = SINKS[sink](fields, message)
    assert_nothing_leaks(case_list, output)
    if sink != "sentry":
        assert check_lines(output)


@pytest.fixture
def ingest_client(clean_environment) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(max_body_bytes=2_000_000, rate_limit=1_000_000))) as client:
        yield client


@PROPERTY_SETTINGS
@given(case_list=cases(), rng=st.randoms(use_true_random=False))
def test_no_generated_secret_survives_client_log_ingestion(ingest_client, case_list, rng):
    urls = [case.url for case in case_list if case.url]
    entry = {
        "timestamp": "2026-01-16T10:00:00.000Z",
        "level": "ERROR",
        "message": sentence(rng, [case.text for case in case_list])[:4000],
        "data": {f"f{i}": case.data for i, case in enumerate(case_list)},
        "url": urls[0] if urls else "https://miko.example/booking?step=2",
        "userAgent": "Mozilla/5.0 " + rng.choice([case.text for case in case_list])[:400],
    }
    with captured_stdout() as out:
        response = ingest_client.post("/api/logs", json=entry)
    assert response.status_code == 202, response.text
    lines = check_lines(out.getvalue())
    assert [line for line in lines if line.get("event") == "client_log"]
    assert_nothing_leaks(case_list, out.getvalue())


# --- line format ---------------------------------------------------------------------------------

AWKWARD = st.sampled_from(
    ["\u2028", "\u2029", "\x85", "\x9f", "\x7f", "\x00", "\x1b", "\ud800", "\udfff", "é", "😀", '"']
)
TEXT = st.text(alphabet=st.one_of(st.characters(), AWKWARD), max_size=40)
BIG_TEXT = st.builds(
    lambda char, count: char * count,
    st.sampled_from(["a", "é", "\u2028", "\x85", "😀", "\ud800"]),
    st.integers(0, 20_000),
)
NUMBER = st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True))
VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBER, TEXT, BIG_TEXT),
    lambda children: st.one_of(
        st.lists(children, max_size=6), st.dictionaries(TEXT, children, max_size=6)
    ),
    max_leaves=25,
)


@pytest.mark.parametrize("sink", ["write_line", "write_text", "logging"])
@PROPERTY_SETTINGS
@given(fields=st.dictionaries(TEXT, VALUES, max_size=6), message=st.one_of(TEXT, BIG_TEXT))
def test_every_line_is_strict_bounded_escaped_json(sink, fields, message):
    output = SINKS[sink](fields, message)
    output.encode()  # valid UTF-8: no lone surrogate left raw
    assert check_lines(output)


@PROPERTY_SETTINGS
@given(data=st.dictionaries(TEXT, VALUES, max_size=4), message=TEXT)
def test_every_ingested_line_is_strict_bounded_escaped_json(ingest_client, data, message):
    entry = {
        "timestamp": "2026-01-16T10:00:00.000Z",
        "level": "INFO",
        "message": message.strip() or "m",
        "data": data,
    }
    body = json.dumps(entry).encode()  # NaN and Infinity as bare tokens, as a client may send
    with captured_stdout() as out:
        response = ingest_client.post(
            "/api/logs", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code < 500
    check_lines(out.getvalue())
