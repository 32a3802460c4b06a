"""Redaction of sensitive values in client logs, URLs and Sentry events.

A key is sensitive when its lower-cased name contains one of SENSITIVE_KEY_PARTS, as the
front end's logger does; nested dicts and lists are walked up to MAX_DEPTH levels.
"""

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "***REDACTED***"
TOO_DEEP = "***TOO DEEP***"
MAX_DEPTH = 12
SENSITIVE_KEY_PARTS = (
    "password",
    "token",
    "key",
    "secret",
    "api_key",
    "credentials",
    "authorization",
    "cookie",
)


def is_sensitive_key(key: object) -> bool:
    lowered = str(key).lower()
    return any(part in lowered for part in SENSITIVE_KEY_PARTS)


def redact(value: Any, depth: int = 0) -> Any:
    """A copy of `value` with the values of sensitive keys replaced, at any nesting depth."""
    if depth > MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return {
            key: REDACTED if is_sensitive_key(key) else redact(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item, depth + 1) for item in value]
    return value


def redact_url(url: str) -> str:
    """The URL with values of sensitive query parameters (and any user:password@) replaced."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    if not parts.query and netloc == parts.netloc:
        return url
    query = urlencode(
        [
            (name, REDACTED if is_sensitive_key(name) else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_event(event: dict[str, Any]) -> dict[str, Any]:
    """Sentry's `before_send`: sensitive keys anywhere, and secrets in URL query strings."""
    scrubbed: dict[str, Any] = redact(event)
    request = scrubbed.get("request")
    if isinstance(request, dict):
        if isinstance(request.get("url"), str):
            request["url"] = redact_url(request["url"])
        if isinstance(request.get("query_string"), str):
            request["query_string"] = redact_url("?" + request["query_string"]).lstrip("?")
    breadcrumbs = scrubbed.get("breadcrumbs")
    values = breadcrumbs.get("values") if isinstance(breadcrumbs, dict) else None
    for crumb in values if isinstance(values, list) else []:
        data = crumb.get("data") if isinstance(crumb, dict) else None
        if isinstance(data, dict) and isinstance(data.get("url"), str):
            data["url"] = redact_url(data["url"])
    return scrubbed
