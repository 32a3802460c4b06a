"""The ASGI application: middleware around the router over the route table, and its lifespan.

Layers, outermost first: security headers (so every response, even a 500, carries them),
request context (request id, access log, metrics, last-resort 500), then the router; the
ingestion endpoints add CORS, rate limiting and the body cap for themselves.
The router (app/routing.py) looks the exact path up in the route table (app/routes.py), which
also gives each route's methods (405 otherwise) and its OpenAPI description; other `/api/*` paths
get a JSON 404 and every other path goes to the static files (which fall back to index.html for
the SPA's routes).
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from app.asset_archive import AssetArchive
from app.contract import SecretEnv
from app.emf import EmfAggregator
from app.health.checks import HealthChecks
from app.health.periodic import PeriodicDatabaseCheck, WorkerLock
from app.logging_setup import flush_stdout
from app.metrics import mark_worker_dead
from app.middleware.request_context import RequestContextMiddleware
from app.middleware.security_headers import SecurityHeadersMiddleware
from app.routes import service_routes
from app.routing import Route, Router
from app.runtime_config import with_runtime_config_tag
from app.sentry import init_sentry
from app.settings import Settings, get_settings
from app.static_files import StaticFiles
from app.tracing import init_tracing

logger = logging.getLogger("app")


class Service:
    """The top-level ASGI callable: HTTP goes through the middleware, lifespan runs here."""

    def __init__(
        self,
        http: ASGIApp,
        on_startup: Callable[[], Awaitable[None]],
        on_shutdown: Callable[[], Awaitable[None]],
        routes: tuple[Route, ...] = (),
    ) -> None:
        self.http = http
        self.routes = routes
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


def response_layers(settings: Settings, app: ASGIApp, route_of: Callable[[str], str]) -> ASGIApp:
    """What every response passes through, the server's own protocol errors included
    (app/http_server/protocol.py): security headers outermost, then request id and access log."""
    access_log = settings.log_level in ("DEBUG", "INFO")
    return SecurityHeadersMiddleware(
        RequestContextMiddleware(app, route_of, access_log=access_log),
        settings.security_headers(),
    )


def create_app(settings: Settings | None = None, static_app: ASGIApp | None = None) -> Service:
    settings = settings or get_settings()
    init_sentry(settings)
    checks = HealthChecks(settings)
    lock = WorkerLock.from_environment()
    periodic_check = PeriodicDatabaseCheck(checks, settings.db_check_interval_seconds, lock)
    archive = AssetArchive(settings.asset_archive_bucket)
    if static_app is None:
        # Every page loads the runtime configuration first; a fingerprinted file of an earlier
        # release that this task lacks comes from the archive (skew protection).
        static = StaticFiles(
            settings.static_dir, archive=archive, html_transform=with_runtime_config_tag
        )
        checks.frontend_build = static.build_id
        static_app = static
    routes = service_routes(settings, checks)
    router = Router(routes, static_app)
    http = response_layers(settings, router, router.route_of)
    tracing = init_tracing(settings)  # None when TRACING_SAMPLE_RATE is 0: nothing wrapped
    if tracing is not None:
        http = tracing.instrument(http, router.route_of)
    emf = EmfAggregator(settings.app_env, settings.metrics_flush_interval_seconds)

    async def startup() -> None:
        emf.start()
        await checks.start()
        if tracing is not None and checks.client is not None:
            tracing.instrument_client(checks.client)
        periodic_check.start()
        if isinstance(static_app, StaticFiles):
            # Before the task reports ready: a page of this release served by another task
            # finds its chunks in the archive.
            await archive.start(static_app.fingerprinted_files, leader=lock.acquire)
        logger.info("service started", extra={"fields": startup_summary(settings)})
        if settings.app_env != "development" and settings.sentry_dsn is None:
            logger.warning(f"{SecretEnv.SENTRY_DSN} is not set: unhandled errors are only logged")

    async def shutdown() -> None:
        await archive.stop()
        await periodic_check.stop()
        await checks.close()
        if tracing is not None:
            tracing.shutdown()  # exports the spans still queued
        await emf.stop()
        mark_worker_dead()
        flush_stdout()

    return Service(http, startup, shutdown, routes)


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
        "release": {"commit": settings.release_commit, "image": settings.release_image},
        "asset_archive": settings.asset_archive_bucket is not None,
        "csp_mode": settings.csp_mode,
        "tracing_sample_rate": settings.tracing_sample_rate,
    }
