"""What the scrubbing pipeline costs per log line, against the key-only `redact` it replaced.

Each row times one sink on one representative line (best of several runs, microseconds per
line) the old way and the new way, and prints the ratio. The old way is the code as it was
before the pipeline: `redact`/`redact_url` on the client-log fields, then the lenient encoder;
the access line and logging records were not scrubbed at all. For comparison, the last row runs
detect-secrets' regex plugins over the finished line, the library the tests use as an oracle,
to show what doing that at run time would cost.

Target: the new client-log line under 100 us on the 2-core machine.
"""

import json
import logging
import sys
import timeit
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from app.logging_setup import JsonFormatter, compact_json, encode_line, parse_line
from app.redaction import scrub_event
from app.sentry import before_breadcrumb

TARGET_MICROSECONDS = 100.0
REPEAT = 5

# --- the key-only redaction as it was --------------------------------------------------------

LEGACY_REDACTED = "***REDACTED***"
LEGACY_KEY_PARTS = (
    "password",
    "token",
    "key",
    "secret",
    "api_key",
    "credentials",
    "authorization",
    "cookie",
)


def legacy_redact(value: Any, depth: int = 0) -> Any:
    if depth > 12:
        return "***TOO DEEP***"
    if isinstance(value, dict):
        return {
            key: LEGACY_REDACTED
            if any(part in str(key).lower() for part in LEGACY_KEY_PARTS)
            else legacy_redact(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [legacy_redact(item, depth + 1) for item in value]
    return value


def legacy_redact_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = urlencode(
        [
            (name, LEGACY_REDACTED if any(p in name.lower() for p in LEGACY_KEY_PARTS) else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


# --- representative lines --------------------------------------------------------------------

USER_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
CLIENT_DATA = {
    "sessionId": "s-1b2c3d",
    "component": "BookingForm",
    "step": 3,
    "procedure": "rhinoplasty",
    "durationMs": 812.4,
    "error": {"name": "TypeError", "message": "Cannot read properties of undefined (reading 'id')"},
    "breadcrumbs": ["open booking", "select date", "submit"],
}


def client_log_fields(
    redact: Callable[[Any], Any], redact_url: Callable[[str], str]
) -> dict[str, Any]:
    return {
        "timestamp": "2026-01-16T10:00:00.123Z",
        "level": "ERROR",
        "logger": "client",
        "event": "client_log",
        "request_id": "6def74f6b3e609a9c760fb2da0187edb",
        "client_timestamp": "2026-01-16T10:00:00.000000+00:00",
        "service": "bookingService",
        "environment": "production",
        "message": "Error submitting booking: request failed with status 500",
        "data": redact(CLIENT_DATA),
        "url": redact_url("https://miko.example/booking?step=3&utm_source=google"),
        "user_agent": USER_AGENT,
    }


ACCESS_LINE = (
    '{"timestamp":"2026-01-16T10:00:00.123Z","level":"INFO","logger":"access",'
    '"event":"http_request","request_id":"6def74f6b3e609a9c760fb2da0187edb","method":"POST",'
    '"path":"/api/logs","route":"/api/logs","status":202,"duration_ms":1.234,"bytes":15}'
)
RECORD = logging.LogRecord(
    "app.health", logging.WARNING, __file__, 1, "postgres health check failed: timeout", None, None
)
RECORD.fields = {
    "event": "health_check_failed",
    "check": "database",
    "target": "postgres",
    "status": "error",
    "response_time_ms": 1500.2,
    "detail": "connection to 10.0.3.17:5432 timed out",
}
EVENT = {
    "level": "error",
    "message": "unhandled error",
    "exception": {
        "values": [
            {
                "type": "RuntimeError",
                "value": "booking failed: upstream returned 502",
                "stacktrace": {
                    "frames": [
                        {
                            "filename": f"app/module{i}.py",
                            "function": f"handler{i}",
                            "lineno": 10 * i,
                            "context_line": "    result = await call_upstream(payload)",
                        }
                        for i in range(12)
                    ]
                },
            }
        ]
    },
    "breadcrumbs": {
        "values": [
            {"category": "app", "message": f"step {i} done", "data": {"n": i}} for i in range(20)
        ]
    },
    "request": {"url": "https://miko.example/api/book", "query_string": "step=3"},
    "contexts": {"runtime": {"name": "CPython", "version": "3.11.7"}},
    "sdk": {"name": "sentry.python", "version": "2.75.0"},
}


def microseconds(function: Callable[[], Any], number: int = 2000) -> float:
    return min(timeit.repeat(function, number=number, repeat=REPEAT)) / number * 1e6


def detect_secrets_scan() -> Callable[[str], list[str]]:
    from detect_secrets.plugins.aws import AWSKeyDetector  # noqa: PLC0415 - dev-only
    from detect_secrets.plugins.basic_auth import BasicAuthDetector  # noqa: PLC0415
    from detect_secrets.plugins.jwt import JwtTokenDetector  # noqa: PLC0415
    from detect_secrets.plugins.keyword import KeywordDetector  # noqa: PLC0415

    plugins = (AWSKeyDetector(), BasicAuthDetector(), JwtTokenDetector(), KeywordDetector())
    return lambda line: [found for plugin in plugins for found in plugin.analyze_string(line)]


def main() -> int:
    formatter = JsonFormatter()
    new_client = client_log_fields(lambda value: value, lambda url: url)
    rows = [
        (
            "client log line (write_line)",
            lambda: compact_json(client_log_fields(legacy_redact, legacy_redact_url)),
            lambda: encode_line(new_client),
        ),
        (
            "client log line (write_text)",
            lambda: compact_json(client_log_fields(legacy_redact, legacy_redact_url)),
            lambda: encode_line(parse_line(compact_json(new_client))),
        ),
        (
            "access line (write_text)",
            lambda: ACCESS_LINE,
            lambda: encode_line(parse_line(ACCESS_LINE)),
        ),
        (
            "logging record (formatter)",
            lambda: compact_json(vars(RECORD)["fields"]),
            lambda: formatter.format(RECORD),
        ),
        ("Sentry event (before_send)", lambda: legacy_redact(EVENT), lambda: scrub_event(EVENT)),
        (
            "Sentry breadcrumb",
            lambda: {"message": "step done", "data": {"n": 1}},
            lambda: before_breadcrumb({"message": "step done", "data": {"n": 1}}, {}),
        ),
    ]
    print(f"{'sink':<32} {'old us':>8} {'new us':>8} {'new/old':>8}")
    results = {}
    for name, old, new in rows:
        old_us, new_us = microseconds(old), microseconds(new)
        results[name] = new_us
        print(f"{name:<32} {old_us:>8.2f} {new_us:>8.2f} {new_us / old_us:>8.1f}")
    big = {**new_client, "message": ("booking step failed; retry " * 600)[:16_000]}
    big_old, big_new = (
        microseconds(lambda: compact_json(big), 200),
        microseconds(lambda: encode_line(big), 200),
    )
    ratio = big_new / big_old
    print(f"{'16 KB message (write_line)':<32} {big_old:>8.2f} {big_new:>8.2f} {ratio:>8.1f}")
    line = encode_line(new_client)
    scan = detect_secrets_scan()
    scan_us = microseconds(lambda: scan(line), number=200)
    print(f"{'detect-secrets on that line':<32} {'':>8} {scan_us:>8.2f} {'':>8}")
    print(f"client log line: {len(line.encode())} bytes, {json.loads(line)['level']}")
    slow = results["client log line (write_line)"] > TARGET_MICROSECONDS
    if slow:
        print(f"over the {TARGET_MICROSECONDS:.0f} us target per client log line", file=sys.stderr)
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
