"""No input yields a 5xx: property-based tests over the body, header and path shapes each endpoint
takes, against the real ASGI app in-process (real static files, real routes and middleware).

Requests are built at the ASGI level, the way uvicorn hands them over (raw path percent-decoded,
header names lower-cased, values as bytes, the body in one or several messages), so shapes an HTTP
client library would normalise away (an odd Content-Length, a lone surrogate escape, a 5000-digit
number, an out-of-range If-Modified-Since) reach the app. Every request runs through the test
client's event loop, where the app's lifespan ran.

Properties: every request gets one complete response, with a status below 500; an ingestion
request is taken or refused whole (202 with `accepted: n` and exactly n lines written, or a 4xx and
none); and no error body repeats a key or value of the request that looks like a secret.

What these found, each now a 4xx or handled: a JSON integer of thousands of digits (Python's
int/str conversion limit, /api/logs, /api/metrics and /api/csp-reports), a lone surrogate escape
in `data` (the output line could not be encoded), a CSP report URL with a port out of range or not
a number (urlsplit's `.port` raises), and an If-Modified-Since date out of datetime's range
(every static path and SPA route).
"""

import asyncio
import json
import os
import string
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.asgi import create_app
from app.ingest.client_metrics import METRIC_SPECS
from app.ingest.endpoint import parse_json
from app.settings import Settings

with __import__("warnings").catch_warnings():
    __import__("warnings").simplefilter("ignore")
    from starlette.testclient import TestClient

SECRET = "sk_live_HOSTILE0secret"  # pragma: allowlist secret
"""Marks keys and values a test sends: an error body must never repeat it."""

MTIME = 1_700_000_000
EXAMPLES = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
INGEST_EVENTS = {
    "/api/logs": "client_log",
    "/api/metrics": "client_metric",
    "/api/csp-reports": "csp_violation",
}


# --- the app and raw ASGI calls -----------------------------------------------------------------


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    files = {
        "index.html": b"<!doctype html><title>spa</title>" + b"<p>page</p>" * 40,
        "assets/index-Ab12Cd34.js": b"export const x = 1;\n" * 40,
        "assets/logo.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>" * 20,
        "robots.txt": b"User-agent: *\nAllow: /\n",
        "docs/index.html": b"<!doctype html><title>docs</title>",
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (MTIME, MTIME))
    return root


@pytest.fixture
def app_client(clean_environment, site):
    client = TestClient(
        create_app(
            Settings(
                static_dir=site,
                rate_limit=1_000_000_000,
                allowed_origins=["https://miko.example"],
                trusted_proxy_hops=1,
            )
        )
    )
    with client:
        yield client


@dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


def request(
    client: TestClient,
    method: str,
    raw_path: bytes,
    headers: list[tuple[bytes, bytes]],
    *,
    chunks: list[bytes] | None = None,
    query_string: bytes = b"",
) -> Answer:
    """One request through the app, as uvicorn would pass it; the app must answer it whole."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path.decode("ascii")),
        "raw_path": raw_path,
        "query_string": query_string,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }
    parts = chunks or [b""]
    pending = [
        {"type": "http.request", "body": chunk, "more_body": index < len(parts) - 1}
        for index, chunk in enumerate(parts)
    ]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        if pending:
            return pending.pop(0)
        await asyncio.sleep(3600)  # a client that sends nothing more: the app must not wait
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await asyncio.wait_for(client.app(scope, receive, send), timeout=10)

    assert client.portal is not None
    client.portal.call(run)
    starts = [message for message in sent if message["type"] == "http.response.start"]
    assert len(starts) == 1, sent
    bodies = [message for message in sent if message["type"] == "http.response.body"]
    assert bodies
    assert not bodies[-1].get("more_body", False)
    return Answer(
        starts[0]["status"],
        {bytes(name).lower(): bytes(value) for name, value in starts[0]["headers"]},
        b"".join(message.get("body", b"") for message in bodies),
    )


# --- hostile JSON -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """A JSON token written as it is (numbers json.dumps cannot or would not write)."""

    text: str


RAW_NUMBERS = st.sampled_from(
    [
        "7" * 5000,
        "-" + "9" * 4301,
        "1" * 4300,
        "1e999",
        "-1e999",
        "1e-999",
        "0." + "0" * 5000 + "1",
        "123456789012345678901234567890",
        "-0",
        "4.0",
        "1E2",
        "NaN",
        "Infinity",
        "-Infinity",
    ]
).map(Raw)

ANY_CHARACTER = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
"""Lone surrogates included: json.dumps writes them as `\\udXXX` escapes."""
TEXT = st.text(ANY_CHARACTER, max_size=40) | st.sampled_from(
    ["", " ", "\ud800", "a\udfffb", "\ud83d", SECRET, f"{SECRET}\ud800", "\x00", "\u2028"]
)
DOCUMENTED_KEYS = sorted(
    {
        "timestamp",
        "level",
        "message",
        "service",
        "environment",
        "data",
        "url",
        "userAgent",
        "metrics",
        "name",
        "tags",
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "recordedAt",
        "csp-report",
        "document-uri",
        "blocked-uri",
        "line-number",
        "type",
        "body",
        "blockedURL",
        "lineNumber",
        *(key for spec in METRIC_SPECS.values() for key in (*spec.tags, *spec.dropped)),
    }
)
KEYS = (
    st.sampled_from(DOCUMENTED_KEYS)
    | st.builds(lambda suffix: f"{SECRET}{suffix}", TEXT)
    | st.text(ANY_CHARACTER, max_size=12)
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | TEXT
    | RAW_NUMBERS
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=20,
)


def dump(node: Any) -> str:
    if isinstance(node, Raw):
        return node.text
    if isinstance(node, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dump(v)}" for k, v in node.items()) + "}"
    if isinstance(node, list):
        return "[" + ",".join(dump(item) for item in node) + "]"
    return json.dumps(node)


def date_times() -> st.SearchStrategy[Any]:
    valid = st.sampled_from(
        [
            "2026-01-16T10:00:00.000Z",
            "0001-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59-23:59",
            "9999-12-31T23:59:60Z",
            "2016-12-31T23:59:60.5+00:00",
            "2026-01-16t10:00:00.1234567890123z",
            "0000-01-01T00:00:00Z",
            "2026-02-30T10:00:00Z",
            "2026-01-16T24:00:00Z",
            "2026-01-16T10:00:00+24:00",
        ]
    )
    plain = st.datetimes().map(lambda moment: moment.isoformat(timespec="milliseconds") + "Z")
    return mostly(mostly(plain, valid), SCALARS)


def mostly(usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`usual` nine times in ten: enough documents pass validation to reach the rendering."""
    return st.integers(0, 9).flatmap(lambda n: rare if n == 9 else usual)


@st.composite
def mutated(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """A document of roughly the right shape: each field as its strategy draws it (mostly
    plausible), now and then any JSON value or missing, and now and then unexpected keys."""
    document: dict[str, Any] = {}
    for key, strategy in fields.items():
        choice = draw(st.integers(0, 19))
        if choice < 18:
            document[key] = draw(strategy)
        elif choice < 19:
            document[key] = draw(JSON_VALUES)
    if draw(st.integers(0, 9)) == 9:
        document[draw(KEYS)] = draw(JSON_VALUES)
    return document


URLS = (
    st.builds(
        "{}{}{}{}{}".format,
        st.sampled_from(["https://", "http://", "javascript:", "", "chrome-extension://", "//"]),
        st.sampled_from(
            ["a.example", "[::1", "[::1]", "[zz]", "user:pw@h", "", "%zz", "é.example"]
        ),
        st.sampled_from(["", ":443", ":99999", ":abc", ":-1", ":0", ":", ":65536", ":" + "9" * 40]),
        st.sampled_from(["", "/", "/p/q", "/\ud800", "/a b", "/%00"]),
        st.sampled_from(["", "?token=abc", "?q=\ud800", "#frag", f"?{SECRET}={SECRET}"]),
    )
    | TEXT
)

SHORT_TEXT = st.text(ANY_CHARACTER, min_size=1, max_size=30)
LOG_ENTRY = mutated(
    {
        "timestamp": date_times(),
        "level": st.sampled_from(["DEBUG", "INFO", "WARN", "ERROR", "CRITICAL", "TRACE"]),
        "message": TEXT,
        "service": mostly(SHORT_TEXT, TEXT),
        "environment": mostly(SHORT_TEXT, TEXT),
        "data": st.dictionaries(KEYS, JSON_VALUES, max_size=5),
        "url": URLS,
        "userAgent": TEXT,
    }
)
TAG_VALUES = mostly(
    TEXT | st.integers() | st.floats() | st.booleans(), st.none() | RAW_NUMBERS | JSON_VALUES
)
NUMBERS = mostly(
    st.integers(-(10**9), 10**9) | st.floats(-1e9, 1e9), st.floats() | RAW_NUMBERS | TEXT
)
COUNTS = mostly(st.integers(1, 1_000_000) | st.sampled_from([1.0, 2.0]), NUMBERS)


@st.composite
def metrics(draw: st.DrawFn) -> dict[str, Any]:
    """A metric whose tag keys are mostly its own (and `ms` for its unit, mostly)."""
    name = draw(mostly(st.sampled_from(sorted(METRIC_SPECS)), st.just(SECRET) | TEXT))
    spec = METRIC_SPECS.get(name)
    own = sorted({*spec.tags, *spec.dropped}) if spec else ["unit"]
    tag_keys = mostly(st.sampled_from(own), KEYS)
    tag_value = st.just("ms") | TAG_VALUES
    return draw(
        mutated(
            {
                "name": st.just(name),
                "tags": st.dictionaries(tag_keys, tag_value, max_size=4),
                "count": COUNTS,
                "sum": NUMBERS,
                "avg": NUMBERS,
                "min": NUMBERS,
                "max": NUMBERS,
                "recordedAt": date_times() | st.none(),
            }
        )
    )


METRIC = metrics()
FLUSH = mutated(
    {
        "timestamp": date_times(),
        "environment": mostly(SHORT_TEXT, TEXT),
        "metrics": st.lists(METRIC, min_size=1, max_size=4),
    }
)
VIOLATION_FIELDS = {
    "documentURL": URLS,
    "blockedURL": URLS,
    "effectiveDirective": TEXT | st.sampled_from(["script-src 'self'", "img-src"]),
    "disposition": st.sampled_from(["enforce", "report", SECRET]),
    "sourceFile": URLS,
    "lineNumber": mostly(st.integers(0, 10_000_000), NUMBERS),
}
LEGACY_FIELDS = {
    "document-uri": URLS,
    "blocked-uri": URLS,
    "effective-directive": TEXT,
    "violated-directive": TEXT,
    "disposition": TEXT,
    "source-file": URLS,
    "line-number": mostly(st.integers(0, 10_000_000), NUMBERS),
}
CSP_DOCUMENT = st.builds(lambda report: {"csp-report": report}, mutated(LEGACY_FIELDS)) | st.lists(
    mutated(
        {
            "type": mostly(st.just("csp-violation"), st.sampled_from(["deprecation", SECRET])),
            "body": mutated(VIOLATION_FIELDS),
        }
    ),
    min_size=1,
    max_size=4,
)
DOCUMENTS = {
    "/api/logs": LOG_ENTRY | st.lists(LOG_ENTRY, min_size=1, max_size=4),
    "/api/metrics": FLUSH,
    "/api/csp-reports": CSP_DOCUMENT,
}
CONTENT_TYPES = mostly(
    st.sampled_from(
        [
            b"application/json",
            b"application/json; charset=utf-8",
            b"APPLICATION/JSON",
            b"application/reports+json",
            b"application/json;;;",
        ]
    ),
    st.sampled_from([b"application/csp-report", b"text/plain", b"", b"\xff\xfe"]),
)


@st.composite
def ingest_requests(draw: st.DrawFn, path: str) -> tuple[str, list[tuple[bytes, bytes]], bytes]:
    kind = draw(st.integers(0, 9))
    if kind < 8:
        body = dump(draw(DOCUMENTS[path])).encode()
    elif kind < 9:
        body = dump(draw(JSON_VALUES)).encode()
    else:
        body = draw(st.binary(max_size=200))
    headers = [(b"content-type", draw(CONTENT_TYPES))]
    length = draw(st.sampled_from(["right", "right", "none", "none", "none", "odd"]))
    if length == "right":
        headers.append((b"content-length", str(len(body)).encode()))
    elif length == "odd":
        headers.append(
            (b"content-length", draw(st.sampled_from([b"", b"-1", b"abc", b"9" * 30, b"1e3"])))
        )
    if draw(st.booleans()):
        headers.append((b"origin", draw(st.sampled_from([b"https://miko.example", b"null"]))))
    if draw(st.booleans()):
        headers.append((b"x-forwarded-for", draw(st.binary(max_size=40))))
    if draw(st.booleans()):
        headers.append((b"x-request-id", draw(st.binary(max_size=40))))
    method = draw(mostly(st.just("POST"), st.sampled_from(["GET", "PUT", "OPTIONS", "HEAD"])))
    return method, headers, body


def split(body: bytes, parts: int) -> list[bytes]:
    size = max(1, -(-len(body) // parts))
    return [body[index : index + size] for index in range(0, len(body), size)] or [b""]


def events_written(out: str, event: str) -> int:
    count = 0
    for line in out.splitlines():
        if not line.startswith("{"):
            continue
        fields = json.loads(line)  # every line written is strict JSON
        if fields.get("event") == event:
            count += 1
    return count


@pytest.mark.parametrize("path", sorted(INGEST_EVENTS))
def test_no_ingest_body_header_or_method_gets_a_5xx(app_client, capsys, path):
    @EXAMPLES
    @given(ingest_requests(path), st.integers(1, 4))
    def check(shaped, parts):
        method, headers, body = shaped
        capsys.readouterr()
        answer = request(app_client, method, path.encode(), headers, chunks=split(body, parts))
        out = capsys.readouterr().out
        event(f"status {answer.status}")
        assert answer.status < 500, (answer.status, answer.body[:300])
        assert SECRET.encode() not in answer.body
        written = events_written(out, INGEST_EVENTS[path])
        if answer.status == 202:
            assert json.loads(answer.body) == {"accepted": written}
        else:
            assert written == 0, answer.body[:300]

    check()


# --- static files and the SPA -------------------------------------------------------------------

PATH_SEGMENTS = st.sampled_from(
    [
        "",
        "assets",
        "index-Ab12Cd34.js",
        "index.html",
        "robots.txt",
        "docs",
        "consultation",
        ".",
        "..",
        ".env",
        "%2e%2e",
        "%2F",
        "%00",
        "%ff",
        "%e2%80%a8",
        "a%20b",
        "api",
        "x.map",
        "\\",
        "~",
        "%",
        "%zz",
        "a" * 300,
    ]
) | st.text(string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@%", max_size=20)
RAW_PATHS = st.lists(PATH_SEGMENTS, min_size=1, max_size=6).map(
    lambda segments: ("/" + "/".join(segments)).encode()
)
HEADER_VALUES = st.binary(max_size=80).map(
    lambda value: value.replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b"")
)
DATE_VALUES = st.sampled_from(
    [
        b"Mon, 01 Jan 99999 00:00:00 GMT",
        b"Jan -1 00:00:00 99999999999999999999 24:00:00",
        b"Fri, 31 Dec 9999 23:59:59 -2359",
        b"Mon, 01 Jan 0001 00:00:00 +2359",
        b"Tue, 14 Nov 2023 22:13:20 GMT",
        b"Sun, 06 Nov 1994 08:49:37 GMT",
        b"Sunday, 06-Nov-94 08:49:37 GMT",
        b"Sun Nov  6 08:49:37 1994",
        b"Mon, 32 Jan 2000 00:00:00 GMT",
        b"0",
        b"",
    ]
) | st.builds(
    lambda day, month, year, clock, zone: f"{day} {month} {year} {clock} {zone}".encode(),
    st.integers(-5, 40),
    st.sampled_from(["Jan", "Feb", "Dec", "Foo"]),
    st.integers(-(10**25), 10**25),
    st.sampled_from(["00:00:00", "24:00:00", "99:99:99", "1:2"]),
    st.sampled_from(["GMT", "+2359", "-9999", "+99999999999", "EST", ""]),
)
ACCEPT_ENCODINGS = (
    st.sampled_from(
        [b"gzip", b"br;q=0.9, gzip;q=nan", b"*;q=1e999", b"gzip;q=" + b"9" * 400, b"x" * 5000]
    )
    | HEADER_VALUES
)
ETAGS = st.sampled_from([b"*", b'W/"x"', b'"', b",,,", b'"' + b"0" * 5000 + b'"']) | HEADER_VALUES
STATIC_HEADERS = st.lists(
    st.tuples(st.just(b"if-modified-since"), DATE_VALUES)
    | st.tuples(st.just(b"if-none-match"), ETAGS)
    | st.tuples(st.just(b"accept-encoding"), ACCEPT_ENCODINGS)
    | st.tuples(
        st.sampled_from([b"range", b"if-range", b"if-match", b"x-forwarded-for", b"cookie"]),
        HEADER_VALUES,
    ),
    max_size=5,
)


def test_no_static_path_or_conditional_header_gets_a_5xx(app_client):
    @EXAMPLES
    @given(
        st.sampled_from(["GET"] * 6 + ["HEAD"] * 3 + ["POST", "DELETE", "OPTIONS"]),
        RAW_PATHS,
        STATIC_HEADERS,
        HEADER_VALUES,
    )
    def check(method, raw_path, headers, query):
        answer = request(app_client, method, raw_path, headers, query_string=query)
        event(f"status {answer.status}")
        assert answer.status < 500, (answer.status, raw_path, headers, answer.body[:300])

    check()


def test_every_static_file_and_spa_route_survives_any_if_modified_since(app_client):
    @EXAMPLES
    @given(
        st.sampled_from(
            [b"/", b"/index.html", b"/robots.txt", b"/assets/index-Ab12Cd34.js", b"/booking/x"]
        ),
        DATE_VALUES,
        st.sampled_from([b"", b"gzip", b"br, gzip"]),
    )
    def check(raw_path, since, accept_encoding):
        headers = [(b"if-modified-since", since), (b"accept-encoding", accept_encoding)]
        answer = request(app_client, "GET", raw_path, headers)
        assert answer.status in (200, 304), (answer.status, raw_path, since)

    check()


# --- health, metrics, documents -------------------------------------------------------------------

QUERY_STRINGS = (
    HEADER_VALUES
    | st.sampled_from(
        [b"%", b"%zz", b"a=%ff%fe", b"=&=&", b"a=" + b"b" * 10_000, b"\xff\xfe", b"a[]=1&a[]=2"]
    )
    | st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=5).map(
        lambda pairs: "&".join(f"{key}={value}" for key, value in pairs).encode("utf-8")
    )
)


def test_no_query_string_or_header_on_the_other_endpoints_gets_a_5xx(app_client):
    @EXAMPLES
    @given(
        st.sampled_from(
            [
                b"/health",
                b"/health/db",
                b"/health/apis",
                b"/openapi.json",
                b"/metrics",
                b"/_platform/runtime-config.js",
                b"/api/unknown",
                b"/api",
            ]
        ),
        st.sampled_from(["GET", "GET", "HEAD", "POST", "OPTIONS"]),
        QUERY_STRINGS,
        st.lists(st.tuples(st.sampled_from([b"accept", b"x-request-id"]), HEADER_VALUES)),
    )
    def check(raw_path, method, query, headers):
        answer = request(app_client, method, raw_path, headers, query_string=query)
        assert answer.status < 500 or raw_path.startswith(b"/health/"), answer.body[:300]
        if raw_path.startswith(b"/health/"):
            # 503 is these endpoints' documented "a dependency is down"; nothing else is 5xx.
            assert answer.status in (200, 405, 503), (answer.status, answer.body[:300])

    check()


# --- the parser alone ---------------------------------------------------------------------------


@given(JSON_VALUES)
@settings(max_examples=300, deadline=None)
def test_the_parser_refuses_or_returns_a_document_with_no_lone_surrogate(document):
    from app.ingest.endpoint import RequestProblem  # noqa: PLC0415

    try:
        parsed = parse_json(dump(document).encode())
    except RequestProblem as problem:
        status = problem.status
    else:
        status = 200
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")  # no surrogate left anywhere
    assert status in (200, 400)


@pytest.mark.parametrize("depth", [500, 900, 990, 5000, 100_000])
@pytest.mark.parametrize("path", sorted(INGEST_EVENTS))
def test_deeply_nested_documents_are_answered_below_500(app_client, path, depth):
    nested = b"[" * depth + b'"\\ud800"' + b"]" * depth
    body = {
        "/api/logs": b'{"timestamp":"2026-01-16T10:00:00Z","level":"INFO","message":"m",'
        b'"data":{"x":%s}}',
        "/api/metrics": b'{"timestamp":"2026-01-16T10:00:00Z","metrics":[{"name":"user_action",'
        b'"tags":{"action":%s},"count":1,"sum":1,"avg":1,"min":1,"max":1}]}',
        "/api/csp-reports": b'{"csp-report":{"x":%s}}',
    }[path] % nested
    headers = [(b"content-type", b"application/json")]
    answer = request(app_client, "POST", path.encode(), headers, chunks=[body])
    assert answer.status < 500
