"""The route table's shape and the router it drives.

A `Route` says everything about one endpoint once: its exact path, its methods, the ASGI app that
answers it, and what the OpenAPI document says about it (summary, request body, responses).
The `Router` dispatches on the exact path and answers a method the route does not take with 405
and an `Allow` header built from the route's methods (GET implies HEAD);
`app.openapi.build_document` describes the same table. Paths not in the table: a JSON 404 under
the API prefix, the fallback app (the static files, with their own method handling) otherwise.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from app.contract import API_PREFIX
from app.errors import api_not_found, method_not_allowed

STATIC_ROUTE = "static"
UNKNOWN_API_ROUTE = f"{API_PREFIX}/*"
REQUEST_ID_HEADER = "X-Request-ID"
RETRY_AFTER_HEADER = "Retry-After"
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

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


class Router:
    """Dispatch by exact path over the route table; the fallback takes every non-API path."""

    def __init__(self, routes: Iterable[Route], fallback: ASGIApp) -> None:
        self.routes = tuple(routes)
        self.fallback = fallback
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
        handler = self.handlers.get(scope["path"])
        if handler is not None:
            await handler(scope, receive, send)
        elif is_api_path(scope["path"]):
            await api_not_found(scope, send)
        else:
            await self.fallback(scope, receive, send)
