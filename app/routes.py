"""The service's route table: every endpoint once, with what the OpenAPI document says about it.

The router (app/routing.py) dispatches on it and answers wrong methods with 405; the document
(app/openapi.py) is built from it and served by one of its routes. Paths come from app/contract.py,
which the infrastructure reads too.
"""

import functools
from collections.abc import Mapping

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from app.contract import (
    CSP_REPORTS_PATH,
    HEALTH_APIS_PATH,
    HEALTH_DATABASE_PATH,
    HEALTH_PATH,
    LOGS_INGEST_PATH,
    METRICS_INGEST_PATH,
    METRICS_PATH,
    OPENAPI_PATH,
    RUNTIME_CONFIG_PATH,
)
from app.health.checks import HealthChecks
from app.health.endpoints import HealthEndpoints
from app.health.models import ApisHealth, DatabaseHealth, Liveness
from app.ingest.client_metrics import ClientMetricsFlush, ingest_metrics
from app.ingest.csp_reports import MEDIA_TYPES as CSP_REPORT_MEDIA_TYPES
from app.ingest.csp_reports import LegacyDocument, ReportingApiBatch, ingest_csp_reports
from app.ingest.endpoint import IngestEndpoint
from app.ingest.logs import ClientLogBatch, ClientLogEntry, ingest_logs
from app.metrics import MetricsEndpoint
from app.middleware.body_limit import BodyLimitMiddleware
from app.middleware.rate_limit import FixedWindowLimiter, RateLimitMiddleware
from app.openapi import Accepted, ErrorBody, OpenAPIEndpoint, build_document
from app.routing import REQUEST_ID_HEADER, RETRY_AFTER_HEADER, Body, Middleware, Reply, Route
from app.runtime_config import RuntimeConfigEndpoint
from app.settings import Settings

GET = ("GET",)
POST = ("POST",)


def ingestion(settings: Settings) -> Middleware:
    """CORS (preflights are answered before they count), rate limit, body cap, endpoint.

    Only the ingestion endpoints are called cross-origin, so only they pay for CORS. Every route
    wrapped by one `ingestion(...)` shares one rate limiter: a client has one budget across all
    the ingestion endpoints, not one per endpoint.
    """
    limiter = FixedWindowLimiter(settings.per_worker_rate_limit, settings.rate_limit_window_seconds)

    def around(endpoint: ASGIApp) -> ASGIApp:
        limited = RateLimitMiddleware(
            BodyLimitMiddleware(endpoint, settings.max_body_bytes), limiter, settings.proxy_hops
        )
        return CORSMiddleware(
            limited,
            allow_origins=settings.allowed_origins,
            allow_methods=("POST", "OPTIONS"),
            allow_headers=("Content-Type", REQUEST_ID_HEADER),
            expose_headers=(REQUEST_ID_HEADER, RETRY_AFTER_HEADER),
            max_age=600,
        )

    return around


def ingestion_replies() -> Mapping[int, Reply]:
    return {
        202: Reply("Accepted: how many entries were taken.", Accepted),
        400: Reply("Malformed JSON or Content-Length.", ErrorBody),
        413: Reply("The body is larger than MAX_BODY_BYTES.", ErrorBody),
        415: Reply("The body is not application/json.", ErrorBody),
        422: Reply("Valid JSON of the wrong shape; details name each problem.", ErrorBody),
        429: Reply("Rate limited.", ErrorBody, headers=(REQUEST_ID_HEADER, RETRY_AFTER_HEADER)),
    }


def health_route(path: str, endpoint: ASGIApp, summary: str, schema: type, *codes: int) -> Route:
    replies = {code: Reply(summary, schema) for code in codes}
    return Route(path, GET, endpoint, summary, None, replies)


def service_routes(settings: Settings, checks: HealthChecks) -> tuple[Route, ...]:
    health = HealthEndpoints(checks)
    openapi = OpenAPIEndpoint()
    around_ingestion = ingestion(settings)
    routes = (
        health_route(HEALTH_PATH, health.liveness, "Liveness; calls no dependency.", Liveness, 200),
        health_route(
            HEALTH_DATABASE_PATH,
            health.database,
            "Database reachability (503 when unhealthy or error).",
            DatabaseHealth,
            200,
            503,
        ),
        health_route(
            HEALTH_APIS_PATH,
            health.apis,
            "External APIs (503 when any check errs).",
            ApisHealth,
            200,
            503,
        ),
        Route(
            METRICS_PATH,
            GET,
            MetricsEndpoint(),
            "Prometheus text exposition.",
            None,
            {200: Reply("Metrics.", {"type": "string"}, media_type="text/plain", headers=())},
        ),
        Route(
            OPENAPI_PATH,
            GET,
            openapi,
            "This document.",
            None,
            {200: Reply("OpenAPI document.", {"type": "object"})},
        ),
        Route(
            LOGS_INGEST_PATH,
            POST,
            IngestEndpoint(ingest_logs),
            "Browser log entries, one or a batch.",
            Body(ClientLogEntry | ClientLogBatch, name="ClientLogEntryOrBatch"),
            ingestion_replies(),
            middleware=around_ingestion,
        ),
        Route(
            METRICS_INGEST_PATH,
            POST,
            IngestEndpoint(functools.partial(ingest_metrics, environment=settings.app_env)),
            "Browser metrics collector flush.",
            Body(ClientMetricsFlush),
            ingestion_replies(),
            middleware=around_ingestion,
        ),
        Route(
            CSP_REPORTS_PATH,
            POST,
            IngestEndpoint(ingest_csp_reports, CSP_REPORT_MEDIA_TYPES),
            "Content-Security-Policy violation reports (report-uri or Reporting API).",
            Body(LegacyDocument | ReportingApiBatch, name="CspViolationReports"),
            ingestion_replies(),
            middleware=around_ingestion,
        ),
        Route(
            RUNTIME_CONFIG_PATH,
            GET,
            RuntimeConfigEndpoint(settings.browser_config()),
            "The SPA's runtime configuration, as a script setting globalThis.__MIKO_ENV__.",
            None,
            {
                200: Reply(
                    "The script (never cached).",
                    {"type": "string"},
                    media_type="text/javascript",
                    headers=(),
                )
            },
        ),
    )
    openapi.publish(build_document(routes, settings.app_version))
    return routes


def documented_routes() -> tuple[Route, ...]:
    """The service's table over default settings, the environment unread: to describe it."""
    settings = Settings.model_construct()
    return service_routes(settings, HealthChecks(settings))
