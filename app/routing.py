"""The route table's shape and the router it drives.

A `Route` says everything about one endpoint once: its exact path, its methods, the ASGI app that
answers it, and what the OpenAPI document says about it (summary, request body, responses).
The `Router` dispatches on the exact path and answers a method the route does not take with 405
and an `Allow` header built from the route's methods (GET implies HEAD);
`app.openapi.build_document` describes the same table. Paths not in the table: a JSON 404 under
the API prefix, the fallback app (the static files, with their own method handling) otherwise.

Only canonical paths are routed. uvicorn percent-decodes the request target into `path` and keeps
the bytes in `raw_path`; anything in front of us (the load balancer's listener rules, Cloudflare)
matches the raw form. So a request is answered 400 `non_canonical_path`, before any lookup and
whatever the path, unless its raw path is the one spelling of its decoded path:

- ASCII, starting with `/`, every `%` followed by two hex digits (either case);
- no percent-encoded unreserved character (`A-Z a-z 0-9 - . _ ~`: `/%6detrics`), no encoded `/`
  (`%2F`), no encoded `%` (`%25`: double encoding), no encoded control character, and escapes
  that decode as UTF-8;
- no empty segment (`//`) and no dot segment (`/./`, `/../`, a trailing `/.` or `/..`).

Browsers never send such paths for links of ours (they encode only what must be encoded and
resolve dot segments), so nothing legitimate is refused; a `400` says plainly that the request,
not the resource, is wrong, and it is decided on the spelling alone, so it tells a prober nothing
about which paths exist.

Internal paths (app.contract.INTERNAL_PATHS: /metrics) are for the platform, never the internet.
Their exact path is routed only for a request that came through no proxy: one carrying any header
a proxy adds (the load balancer always adds X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Port
and X-Amzn-Trace-Id, and a client cannot make it drop them; Cloudflare adds CF-Ray and
CF-Connecting-IP) gets 404. Any other spelling of an internal path that is canonical (`/METRICS`,
`/Metrics/`, `/metrics;x`, `/metrics/x`, `/metrics.txt`) is 404 from anywhere, rather than the
single-page app's fallback page. The load balancer's rule that answers 404 for these paths itself
(components/load_balancer.py) stays as the first layer; this is the one that cannot be spelled
around, because it reads the path after decoding.
"""

import re
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from app.contract import API_PREFIX, INTERNAL_PATHS
from app.errors import api_not_found, method_not_allowed, send_error

STATIC_ROUTE = "static"
UNKNOWN_API_ROUTE = f"{API_PREFIX}/*"
REQUEST_ID_HEADER = "X-Request-ID"
RETRY_AFTER_HEADER = "Retry-After"
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

UNRESERVED = frozenset((string.ascii_letters + string.digits + "-._~").encode())
"""RFC 3986 unreserved characters: percent-encoding one never changes its meaning."""
MUST_STAY_ENCODED = frozenset(b"/%")
"""Encoded, these are not what they decode to (`%2F` is not a separator): refused too."""
HEX_DIGITS = frozenset(string.hexdigits.encode())
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
PROXY_HEADERS = frozenset(
    {
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-port",
        b"x-forwarded-host",
        b"x-amzn-trace-id",
        b"forwarded",
        b"via",
        b"x-real-ip",
        b"cf-ray",
        b"cf-connecting-ip",
        b"true-client-ip",
    }
)
"""Headers a proxy adds: a request carrying any of them came from outside (module docstring)."""

Middleware = Callable[[ASGIApp], ASGIApp]


@dataclass(frozen=True)
class Body:
    """A request body, documented by the type it is validated with."""

    annotation: Any
    name: str | None = None
    """The schema's name under components/schemas when the annotation is not a model (a union)."""
    media_type: str = "application/json"


@dataclass(frozen=True)
class Reply:
    """One documented response: a type (a pydantic model) or a literal JSON schema."""

    description: str
    schema: Any
    media_type: str = "application/json"
    headers: tuple[str, ...] = (REQUEST_ID_HEADER,)
    """Documented response headers, by name (app.openapi.HEADERS describes each)."""


@dataclass(frozen=True, eq=False)
class Route:
    path: str
    methods: tuple[str, ...]
    """What the endpoint answers; GET implies HEAD. Others get 405 from the router."""
    endpoint: ASGIApp
    summary: str
    request_body: Body | None
    responses: Mapping[int, Reply]
    middleware: Middleware | None = None
    """Wraps the method check and the endpoint (the ingest routes: CORS answers the preflight
    OPTIONS before the method check; rate limit and body cap count every method)."""

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"route path must start with '/': {self.path!r}")
        if not self.methods or not set(self.methods) <= HTTP_METHODS:
            raise ValueError(f"route {self.path}: methods must be HTTP methods: {self.methods}")
        if "HEAD" in self.methods:
            raise ValueError(f"route {self.path}: HEAD comes with GET, do not list it")
        if not self.responses:
            raise ValueError(f"route {self.path}: document at least one response")

    @property
    def allowed_methods(self) -> tuple[str, ...]:
        if "GET" in self.methods:
            head_after_get = self.methods.index("GET") + 1
            return (*self.methods[:head_after_get], "HEAD", *self.methods[head_after_get:])
        return self.methods

    def handler(self) -> ASGIApp:
        """The endpoint behind the method check, inside the route's middleware if any."""
        checked = MethodCheck(self.endpoint, self.allowed_methods)
        return checked if self.middleware is None else self.middleware(checked)


class MethodCheck:
    """405 with `Allow` for any method the route does not take; the endpoint otherwise."""

    def __init__(self, endpoint: ASGIApp, allowed: tuple[str, ...]) -> None:
        self.endpoint = endpoint
        self.allowed = frozenset(allowed)
        self.allow = ", ".join(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in self.allowed:
            await method_not_allowed(scope, send, self.allow)
            return
        await self.endpoint(scope, receive, send)


def is_api_path(path: str) -> bool:
    return path.startswith(f"{API_PREFIX}/") or path == API_PREFIX


def escape_problem(escape: bytes) -> str | None:
    """Why the two bytes after a `%` are not a percent-escape that must be one, or None."""
    if len(escape) != 2 or not HEX_DIGITS.issuperset(escape):
        return "a '%' must start a percent-escape of two hex digits"
    byte = int(escape, 16)
    if byte in UNRESERVED:
        return "unreserved characters must not be percent-encoded"
    if byte in MUST_STAY_ENCODED:
        return "'/' and '%' must not be percent-encoded (encoded separator, double encoding)"
    if byte < 0x20 or byte == 0x7F:
        return "control characters are not allowed in a path"
    return None


def raw_path_problem(raw_path: bytes) -> str | None:
    """Why a raw (still encoded) path is not the canonical spelling of a path, or None."""
    if not raw_path.startswith(b"/"):
        return "the path must start with '/'"
    if not raw_path.isascii():
        return "the path must be ASCII (percent-encode other bytes)"
    index = raw_path.find(b"%")
    while index != -1:
        problem = escape_problem(raw_path[index + 1 : index + 3])
        if problem is not None:
            return problem
        index = raw_path.find(b"%", index + 3)
    return None


def decoded_path_problem(path: str) -> str | None:
    """Why a decoded path is not one a browser would send for a link of ours, or None."""
    if not path.startswith("/"):
        return "the path must start with '/'"
    if "\ufffd" in path:
        return "percent-escapes must decode as UTF-8"
    if "%" in path:
        return "'%' must not appear decoded (double encoding)"
    if CONTROL_CHARACTER.search(path):
        return "control characters are not allowed in a path"
    return segment_problem(path.split("/")[1:])


def segment_problem(segments: list[str]) -> str | None:
    if "" in segments[:-1]:
        return "empty path segments ('//') are not allowed"
    if any(segment in (".", "..") for segment in segments):
        return "dot segments ('.', '..') are not allowed"
    return None


def path_problem(scope: Scope) -> str | None:
    """Why the request's path is not canonical (module docstring), or None."""
    path: str = scope["path"]
    raw_path: bytes | None = scope.get("raw_path")
    if raw_path is not None:
        problem = raw_path_problem(raw_path)
        if problem is not None:
            return problem
        if unquote(raw_path.decode("ascii")) != path:
            return "the path does not match its encoded form"
    return decoded_path_problem(path)


def came_through_proxy(scope: Scope) -> bool:
    """Whether the request carries a header that a proxy adds (the load balancer always does)."""
    return any(name in PROXY_HEADERS for name, _ in scope["headers"])


def internal_variant(path: str, internal_paths: Iterable[str]) -> str | None:
    """The internal path that `path` spells differently or lies under, or None.

    Case-insensitive; the internal path followed by the end or by any character that cannot
    continue a name (`/`, `;`, `.`, ...): `/METRICS`, `/metrics/`, `/metrics;x`, `/metrics.txt`,
    but not `/metrics-dashboard`.
    """
    folded = path.casefold()
    for internal in internal_paths:
        prefix = internal.casefold()
        if not folded.startswith(prefix):
            continue
        rest = folded[len(prefix) :]
        if not rest or not (rest[0].isalnum() or rest[0] in "-_"):
            return internal
    return None


async def non_canonical_path(scope: Scope, send: Send, problem: str) -> None:
    await send_error(scope, send, 400, "non_canonical_path", f"non-canonical path: {problem}")


async def not_found(scope: Scope, send: Send) -> None:
    await send_error(scope, send, 404, "not_found", "no such endpoint")


class Router:
    """Dispatch by exact path over the route table; the fallback takes every non-API path.

    Non-canonical paths are refused and internal paths guarded first (module docstring).
    """

    def __init__(
        self,
        routes: Iterable[Route],
        fallback: ASGIApp,
        internal_paths: Iterable[str] = INTERNAL_PATHS,
    ) -> None:
        self.routes = tuple(routes)
        self.fallback = fallback
        self.internal_paths = tuple(internal_paths)
        self.handlers: dict[str, ASGIApp] = {}
        for route in self.routes:
            if route.path in self.handlers:
                raise ValueError(f"two routes for {route.path}")
            self.handlers[route.path] = route.handler()

    def route_of(self, path: str) -> str:
        """A bounded label for metrics and logs: the route itself, never the raw path."""
        if path in self.handlers:
            return path
        return UNKNOWN_API_ROUTE if is_api_path(path) else STATIC_ROUTE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = path_problem(scope)
        if problem is not None:
            await non_canonical_path(scope, send, problem)
            return
        path = scope["path"]
        internal = internal_variant(path, self.internal_paths)
        if internal is not None and (
            path != internal or path not in self.handlers or came_through_proxy(scope)
        ):
            await not_found(scope, send)
            return
        handler = self.handlers.get(path)
        if handler is not None:
            await handler(scope, receive, send)
        elif is_api_path(path):
            await api_not_found(scope, send)
        else:
            await self.fallback(scope, receive, send)
