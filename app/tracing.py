"""OpenTelemetry traces of the service, exported to the task's collector sidecar, then X-Ray.

`init_tracing(settings)` returns None when TRACING_SAMPLE_RATE is 0 (the default, and what a stack
with `tracingEnabled: false` sets): nothing of OpenTelemetry is imported, no exporter exists and
requests pass through untouched. Otherwise it builds a `Tracing`:

* a TracerProvider (never the global one: each app has its own) with the X-Ray id generator, whose
  trace ids start with the epoch second as X-Ray requires;
* the sampler ParentBased(TraceIdRatioBased(rate)) for spans of this process, and the same ratio
  for requests arriving with a parent: Cloudflare and the load balancer pass a client's
  X-Amzn-Trace-Id through, so its `Sampled=1` could otherwise make any caller sample every
  request. The ratio is applied to the trace id, so a trace is sampled or not as a whole;
* the X-Ray propagator (`X-Amzn-Trace-Id`, set globally: the ASGI and httpx instrumentations read
  the global one). A header with a `Root` and no `Parent` (what the load balancer adds) starts a
  new trace with that Root as its id, as the X-Ray SDKs do, so the load balancer's access log,
  the app's log lines and X-Ray name the same trace;
* a BatchSpanProcessor over the OTLP/HTTP exporter to OTEL_EXPORTER_OTLP_ENDPOINT (the sidecar on
  127.0.0.1:4318): spans leave on the processor's thread, never on the event loop. `shutdown`
  flushes them (bounded by EXPORT_TIMEOUT_SECONDS), from the lifespan shutdown.

`instrument(app, route_of)` wraps the ASGI app in OpenTelemetry's middleware: one server span per
request named `<METHOD> <route>` after the route table (never the raw path), without the
per-message receive/send spans. It also sets `trace_id_var`, so every log line of the request
carries the trace id (app/logging_setup.py), sampled or not. `instrument_client(client)` adds a
client span per request of the health checks' httpx client.

What leaves the process is filtered at the exporter (`ScrubbingExporter`), like every other sink
of the app: only the attributes in KEPT_ATTRIBUTES (method, route, status, scheme, port, host),
URLs reduced to their origin (no path, no query string: a webhook URL's path is its secret), and
exception messages, stack traces and status descriptions through app.redaction. No header is
ever recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from app.logging_setup import trace_id_var
from app.redaction import scrub_text

if TYPE_CHECKING:
    import httpx
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from starlette.types import ASGIApp, Receive, Scope, Send

    from app.settings import Settings

SERVICE_NAME = "miko-app"
TRACES_PATH = "/v1/traces"
EXPORT_TIMEOUT_SECONDS = 5.0
"""Per export request, and so the longest a shutdown waits for the sidecar: well inside the
shutdown grace, and the app never waits for a sidecar that is gone."""
XRAY_HEADER = b"x-amzn-trace-id"
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)

KEPT_ATTRIBUTES = frozenset(
    {
        "http.method",
        "http.request.method",
        "http.route",
        "http.status_code",
        "http.response.status_code",
        "http.scheme",
        "url.scheme",
        "http.flavor",
        "network.protocol.version",
        "net.host.port",
        "server.port",
        "net.peer.name",
        "net.peer.port",
        "server.address",
        "error.type",
    }
)
"""Span attributes that may leave the process; every other one is dropped at export."""
ORIGIN_ATTRIBUTES = frozenset({"http.url", "url.full"})
"""URL attributes kept as their origin only (scheme://host[:port])."""
KEPT_EVENT_ATTRIBUTES = frozenset({"exception.type", "exception.escaped"})
SCRUBBED_EVENT_ATTRIBUTES = frozenset({"exception.message", "exception.stacktrace"})

logger = logging.getLogger("app.tracing")

_incoming_root: ContextVar[int | None] = ContextVar("incoming_xray_root", default=None)
"""The trace id of a request's X-Amzn-Trace-Id `Root` when the header has no `Parent`."""


def xray_trace_id(trace_id: int) -> str:
    """`1-<8 hex epoch>-<24 hex>`: how X-Ray, the load balancer and CloudWatch write a trace id."""
    text = f"{trace_id:032x}"
    return f"1-{text[:8]}-{text[8:]}"


def root_only_trace_id(scope: Scope) -> int | None:
    """The `Root` of an X-Amzn-Trace-Id header that names no `Parent` (the load balancer's own),
    or None: a header with a Parent is the propagator's, an invalid one is ignored."""
    for name, value in scope.get("headers", ()):
        if name != XRAY_HEADER:
            continue
        fields = dict(
            part.strip().partition("=")[::2] for part in value.decode("latin-1").split(";")
        )
        root = fields.get("Root", "")
        if "Parent" in fields or len(root) != 35 or root[:2] != "1-" or root[10] != "-":
            return None
        try:
            trace_id = int(root[2:10] + root[11:], 16)
        except ValueError:
            return None
        return trace_id or None
    return None


def resource_attributes(text: str) -> dict[str, str]:
    """`key=value,key=value` (OTEL_RESOURCE_ATTRIBUTES' format) as a dict; malformed pairs are
    skipped."""
    pairs = (part.partition("=") for part in text.split(","))
    return {key.strip(): value.strip() for key, sep, value in pairs if sep and key.strip()}


def _origin(url: object) -> str:
    from urllib.parse import urlsplit  # noqa: PLC0415 - only on the exporter's thread

    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "[unparsable url]"
    return f"{parts.scheme}://{host}{port}" if parts.scheme and host else ""


def safe_attributes(attributes: Any) -> dict[str, Any]:
    """The attributes that may leave the process (see the module's docstring)."""
    kept: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if key in ORIGIN_ATTRIBUTES:
            kept[key] = _origin(value)
        elif key in KEPT_ATTRIBUTES:
            kept[key] = scrub_text(value) if isinstance(value, str) else value
    return kept


def _safe_event_attributes(attributes: Any) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if key in KEPT_EVENT_ATTRIBUTES:
            kept[key] = value
        elif key in SCRUBBED_EVENT_ATTRIBUTES:
            kept[key] = scrub_text(str(value))
    return kept


def scrubbed_span(span: ReadableSpan) -> ReadableSpan:
    """A copy of a finished span with only what may leave the process."""
    from opentelemetry.sdk.trace import Event, ReadableSpan  # noqa: PLC0415
    from opentelemetry.trace import Link, Status  # noqa: PLC0415

    status = span.status
    if status.description:
        status = Status(status.status_code, scrub_text(status.description))
    return ReadableSpan(
        name=scrub_text(span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=safe_attributes(span.attributes),
        events=[
            Event(event.name, _safe_event_attributes(event.attributes), event.timestamp)
            for event in span.events
        ],
        links=[Link(link.context) for link in span.links],
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _scrubbing_exporter(delegate: SpanExporter) -> SpanExporter:
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult  # noqa: PLC0415

    class ScrubbingExporter(SpanExporter):
        """Exports copies of the spans with only what may leave the process."""

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return delegate.export([scrubbed_span(span) for span in spans])

        def shutdown(self) -> None:
            delegate.shutdown()

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            return delegate.force_flush(timeout_millis)

    return ScrubbingExporter()


def _sampler(rate: float) -> Any:
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased  # noqa: PLC0415

    ratio = TraceIdRatioBased(rate)
    # Local parents decide for their children; a remote parent's flag (any client's) does not.
    return ParentBased(root=ratio, remote_parent_sampled=ratio, remote_parent_not_sampled=ratio)


def _id_generator() -> Any:
    from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator  # noqa: PLC0415

    class ContinuingXRayIdGenerator(AwsXRayIdGenerator):
        """X-Ray trace ids; the load balancer's Root when the request came with one alone."""

        def generate_trace_id(self) -> int:
            root = _incoming_root.get()
            return root if root is not None else super().generate_trace_id()

    return ContinuingXRayIdGenerator()


class Tracing:
    """The service's tracer provider and its instrumentations."""

    def __init__(self, settings: Settings, exporter: SpanExporter | None = None) -> None:
        from opentelemetry import propagate  # noqa: PLC0415
        from opentelemetry.propagators.aws import AwsXRayPropagator  # noqa: PLC0415
        from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
        from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
                OTLPSpanExporter,
            )

            endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + TRACES_PATH
            exporter = OTLPSpanExporter(endpoint=endpoint, timeout=EXPORT_TIMEOUT_SECONDS)
        self.rate = settings.tracing_sample_rate
        self.exporter = exporter
        resource = Resource.create(
            {
                **resource_attributes(settings.otel_resource_attributes),  # the log group
                "service.name": SERVICE_NAME,
                "service.version": settings.app_version,
                "deployment.environment": settings.app_env,
            }
        )
        self.provider: TracerProvider = TracerProvider(
            sampler=_sampler(self.rate),
            resource=resource,
            id_generator=_id_generator(),
            shutdown_on_exit=False,
        )
        self.provider.add_span_processor(
            BatchSpanProcessor(
                _scrubbing_exporter(exporter),
                export_timeout_millis=int(EXPORT_TIMEOUT_SECONDS * 1000),
            )
        )
        propagate.set_global_textmap(AwsXRayPropagator())

    def instrument(self, app: ASGIApp, route_of: Callable[[str], str]) -> ASGIApp:
        """`app` inside a server span per HTTP request (see the module's docstring)."""
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware  # noqa: PLC0415

        def span_details(scope: Scope) -> tuple[str, dict[str, str]]:
            method = scope.get("method", "")
            method = method if method in KNOWN_METHODS else "HTTP"
            route = route_of(scope.get("path", ""))
            return f"{method} {route}", {"http.route": route}

        def on_server_span(span: Any, scope: Scope) -> None:
            context = span.get_span_context()
            if context.is_valid:
                trace_id_var.set(xray_trace_id(context.trace_id))

        traced = OpenTelemetryMiddleware(
            app,
            default_span_details=span_details,
            server_request_hook=on_server_span,
            tracer_provider=self.provider,
            exclude_spans=["receive", "send"],
        )

        async def request_context(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await traced(scope, receive, send)
                return
            root_token = _incoming_root.set(root_only_trace_id(scope))
            trace_token = trace_id_var.set(None)  # set by on_server_span, for this request only
            try:
                await traced(scope, receive, send)
            finally:
                trace_id_var.reset(trace_token)
                _incoming_root.reset(root_token)

        return request_context

    def instrument_client(self, client: httpx.AsyncClient) -> None:
        """A client span for every request `client` sends (the dependency checks)."""
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor  # noqa: PLC0415

        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=self.provider)

    def force_flush(self) -> bool:
        return self.provider.force_flush(int(EXPORT_TIMEOUT_SECONDS * 1000))

    def shutdown(self) -> None:
        """Export what is queued, then stop the processor's thread."""
        try:
            self.provider.shutdown()
        except Exception:  # a gone sidecar must not fail the shutdown
            logger.warning("tracing shutdown failed", exc_info=True)


def init_tracing(settings: Settings, exporter: SpanExporter | None = None) -> Tracing | None:
    """The service's tracing, or None when its sample rate is 0 (off)."""
    if settings.tracing_sample_rate <= 0:
        return None
    return Tracing(settings, exporter)
