"""The ASGI application: middleware around a dict-lookup router, and its lifespan.

Layers, outermost first: security headers (so every response, even a 500, carries them),
request context (request id, access log, metrics, last-resort 500), then the router; the
ingestion endpoints add CORS, rate limiting and the body cap for themselves.
The router looks the exact path up in a dict; other `/api/*` paths get a JSON 404 and every
other path goes to the static files (which fall back to index.html for the SPA's routes).
"""

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import api_not_found
from app.health.checks import HealthChecks
from app.health.endpoints import HealthEndpoints
from app.health.periodic import PeriodicDatabaseCheck, WorkerLock
from app.ingest.client_metrics import ingest_metrics
from app.ingest.endpoint import IngestEndpoint
from app.ingest.logs import ingest_logs
from app.logging_setup import flush_stdout
from app.metrics import MetricsEndpoint, mark_worker_dead
from app.middleware.body_limit import BodyLimitMiddleware
from app.middleware.rate_limit import FixedWindowLimiter, RateLimitMiddleware
from app.middleware.request_context import RequestContextMiddleware
from app.middleware.security_headers import SecurityHeadersMiddleware
from app.openapi import OpenAPIEndpoint
from app.security_headers import security_headers
from app.sentry import init_sentry
from app.settings import Settings, get_settings
from app.static_files import StaticFiles

STATIC_ROUTE = "static"
UNKNOWN_API_ROUTE = "/api/*"

logger = logging.getLogger("app")


class Router:
    def __init__(self, routes: dict[str, ASGIApp], static: ASGIApp) -> None:
        self.routes = routes
        self.static = static

    def route_of(self, path: str) -> str:
        """A bounded label for metrics and logs: the route itself, never the raw path."""
        if path in self.routes:
            return path
        return UNKNOWN_API_ROUTE if is_api_path(path) else STATIC_ROUTE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.routes.get(scope["path"])
        if handler is not None:
            await handler(scope, receive, send)
        elif is_api_path(scope["path"]):
            await api_not_found(scope, send)
        else:
            await self.static(scope, receive, send)


def is_api_path(path: str) -> bool:
    return path.startswith("/api/") or path == "/api"


def ingestion(endpoint: ASGIApp, settings: Settings) -> ASGIApp:
    """CORS (preflights are answered before they count), rate limit, body cap, endpoint.

    Only the ingestion endpoints are called cross-origin, so only they pay for CORS.
    """
    limiter = FixedWindowLimiter(settings.per_worker_rate_limit, settings.rate_limit_window_seconds)
    limited = RateLimitMiddleware(
        BodyLimitMiddleware(endpoint, settings.max_body_bytes), limiter, settings.proxy_hops
    )
    return CORSMiddleware(
        limited,
        allow_origins=settings.allowed_origins,
        allow_methods=("POST", "OPTIONS"),
        allow_headers=("Content-Type", "X-Request-ID"),
        expose_headers=("X-Request-ID", "Retry-After"),
        max_age=600,
    )


class Service:
    """The top-level ASGI callable: HTTP goes through the middleware, lifespan runs here."""

    def __init__(
        self,
        http: ASGIApp,
        on_startup: Callable[[], Awaitable[None]],
        on_shutdown: Callable[[], Awaitable[None]],
    ) -> None:
        self.http = http
        self.on_startup = on_startup
        self.on_shutdown = on_shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.on_startup()
                except Exception as error:
                    logger.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def default_static_app(settings: Settings) -> ASGIApp:
    return StaticFiles(settings.static_dir)


def create_app(settings: Settings | None = None, static_app: ASGIApp | None = None) -> Service:
    settings = settings or get_settings()
    init_sentry(settings)
    checks = HealthChecks(settings)
    health = HealthEndpoints(checks)
    periodic_check = PeriodicDatabaseCheck(
        checks, settings.db_check_interval_seconds, WorkerLock.from_environment()
    )
    routes: dict[str, ASGIApp] = {
        "/health": health.liveness,
        "/health/db": health.database,
        "/health/apis": health.apis,
        "/metrics": MetricsEndpoint(),
        "/openapi.json": OpenAPIEndpoint(settings.app_version),
        "/api/logs": ingestion(IngestEndpoint(ingest_logs), settings),
        "/api/metrics": ingestion(
            IngestEndpoint(functools.partial(ingest_metrics, environment=settings.app_env)),
            settings,
        ),
    }
    router = Router(routes, static_app or default_static_app(settings))
    access_log = settings.log_level in ("DEBUG", "INFO")
    http = SecurityHeadersMiddleware(
        RequestContextMiddleware(router, router.route_of, access_log=access_log),
        security_headers(settings.integration_urls),
    )

    async def startup() -> None:
        await checks.start()
        periodic_check.start()
        logger.info("service started", extra={"fields": startup_summary(settings)})
        if settings.app_env != "development" and settings.sentry_dsn is None:
            logger.warning("SENTRY_DSN is not set: unhandled errors are only logged")

    async def shutdown() -> None:
        await periodic_check.stop()
        await checks.close()
        mark_worker_dead()
        flush_stdout()

    return Service(http, startup, shutdown)


def startup_summary(settings: Settings) -> dict[str, Any]:
    """What is configured, by name only: no value of any setting is logged."""
    integrations = {
        "supabase": bool(settings.supabase_url and settings.supabase_anon_key),
        "postgres": settings.database_url is not None,
        "n8n": bool(settings.n8n_webhook_url),
        "google": bool(settings.google_client_id),
        "sentry": settings.sentry_dsn is not None,
    }
    return {
        "event": "startup",
        "environment": settings.app_env,
        "version": settings.app_version,
        "integrations": integrations,
        "rate_limit_per_worker": settings.per_worker_rate_limit,
        "db_check_interval_seconds": settings.db_check_interval_seconds,
    }
