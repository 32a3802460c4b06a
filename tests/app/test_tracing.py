"""Tracing (app/tracing.py): spans through the SDK's in-memory exporter, and the real service
exporting to a local OTLP/HTTP receiver on loopback."""

import gzip
import http.server
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import app.asgi
from app.contract import TRACE_ID_FIELD
from app.settings import Settings
from app.tracing import Tracing, init_tracing, root_only_trace_id, xray_trace_id

from .conftest import REPO_ROOT

XRAY_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
ROOT = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"
LOW_ROOT = "1-5759e988-bd862e3f0000000000000001"
"""Its low 64 bits are tiny: TraceIdRatioBased samples it at any rate above 0."""
HIGH_ROOT = "1-5759e988-bd862e3fffffffffffffffff"
"""Its low 64 bits are the largest: sampled only at rate 1."""
SECRET = "sk_live_query_token_4242"


def trace_int(xray_id: str) -> int:
    return int(xray_id[2:10] + xray_id[11:], 16)


TRACINGS: list[Tracing] = []
"""Every Tracing the apps of a test built (to flush their batch processors)."""


@pytest.fixture
def spans(monkeypatch) -> Iterator[InMemorySpanExporter]:
    """The app's tracing with its real pipeline (BatchSpanProcessor, scrubbing exporter), ending
    in the SDK's in-memory exporter."""
    exporter = InMemorySpanExporter()

    def recording(settings):
        tracing = init_tracing(settings, exporter)
        if tracing is not None:
            TRACINGS.append(tracing)
        return tracing

    monkeypatch.setattr(app.asgi, "init_tracing", recording)
    TRACINGS.clear()
    yield exporter
    TRACINGS.clear()


@pytest.fixture
def traced(make_client, spans):
    """A client of the app tracing at `rate`, and a function returning its finished spans."""

    def build(rate: float = 1.0, **overrides):
        client = make_client(tracing_sample_rate=rate, **overrides)

        def finished():
            for tracing in TRACINGS:  # the processor exports on its own thread: flush it
                tracing.force_flush()
            return list(spans.get_finished_spans())

        return client, finished

    return build


# --- spans ---------------------------------------------------------------------------------------


def test_a_server_span_per_request_named_after_its_route(traced):
    client, finished = traced()
    assert client.get("/health").status_code == 200
    assert client.get("/api/no-such-thing").status_code == 404

    [health, missing] = finished()
    assert health.kind == SpanKind.SERVER
    assert health.name == "GET /health"
    assert health.attributes["http.route"] == "/health"
    assert health.attributes["http.status_code"] == 200
    assert missing.attributes["http.status_code"] == 404
    # The route template, never the raw path; no receive/send spans.
    assert missing.attributes["http.route"] != "/api/no-such-thing"
    assert "no-such-thing" not in missing.name
    assert health.context.trace_id != missing.context.trace_id


def test_a_dependency_check_is_a_child_span_that_names_only_the_host(traced, fake_dependency):
    webhook = fake_dependency.url("ok/webhook-secret-path")
    client, finished = traced(n8n_webhook_url=webhook)
    assert client.get("/health/apis").status_code in (200, 503)

    recorded = finished()
    [server] = [span for span in recorded if span.kind == SpanKind.SERVER]
    [check] = [span for span in recorded if span.kind == SpanKind.CLIENT]
    assert check.parent.span_id == server.context.span_id
    assert check.context.trace_id == server.context.trace_id
    assert check.attributes["http.status_code"] == 200
    assert check.attributes["http.url"] == fake_dependency.base_url
    assert "webhook-secret-path" not in repr([dict(span.attributes) for span in recorded])
    # The dependency received the X-Ray header naming the client span as its parent.
    header = fake_dependency.requests[-1]["headers"]["X-Amzn-Trace-Id"]
    assert header.startswith(f"Root={xray_trace_id(server.context.trace_id)};")
    assert f"Parent={check.context.span_id:016x}" in header


def test_a_token_in_the_query_or_a_header_reaches_no_span(traced, monkeypatch):
    # Even with the instrumentation told (by its environment) to record every header.
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", ".*")
    client, finished = traced()
    response = client.get(
        f"/health?token={SECRET}&access_token={SECRET}&patient_email=jane@example.com",
        headers={"Authorization": f"Bearer {SECRET}", "X-Api-Key": SECRET},
    )
    assert response.status_code == 200
    client.get(f"/boom?token={SECRET}")  # an exception recorded on the span

    recorded = finished()
    assert len(recorded) == 2
    for span in recorded:
        text = span.to_json()
        assert SECRET not in text
        assert "jane@example.com" not in text
        assert "authorization" not in text.lower()
        assert all(not key.startswith("http.request.header") for key in span.attributes)


def test_sample_rate_zero_means_no_tracing_at_all(make_client, spans):
    client = make_client(tracing_sample_rate=0.0)
    assert client.get("/health").status_code == 200
    assert TRACINGS == []  # no provider, no exporter
    assert spans.get_finished_spans() == ()
    # Nothing wraps the app: the outermost layer is the security headers one.
    assert type(client.app.http).__name__ == "SecurityHeadersMiddleware"
    assert init_tracing(Settings()) is None  # the default is off


def test_the_sample_rate_decides_by_trace_id(traced):
    client, finished = traced(rate=0.25)
    client.get("/health", headers={"X-Amzn-Trace-Id": f"Root={LOW_ROOT}"})
    client.get("/health", headers={"X-Amzn-Trace-Id": f"Root={HIGH_ROOT}"})
    assert [span.context.trace_id for span in finished()] == [trace_int(LOW_ROOT)]

    for _ in range(400):
        client.get("/health")
    sampled = len(finished()) - 1
    assert 50 <= sampled <= 150  # 100 expected (binomial, sd ~8.7)


def test_an_incoming_xray_header_continues_its_trace(traced):
    client, finished = traced()
    client.get("/health", headers={"X-Amzn-Trace-Id": f"Root={ROOT};Parent={PARENT};Sampled=1"})
    client.get("/health", headers={"X-Amzn-Trace-Id": f"Root={ROOT}"})  # the load balancer's

    [with_parent, root_only] = finished()
    assert with_parent.context.trace_id == trace_int(ROOT)
    assert with_parent.parent.span_id == int(PARENT, 16)
    assert with_parent.parent.is_remote
    assert root_only.context.trace_id == trace_int(ROOT)
    assert root_only.parent is None


def test_a_callers_sampled_flag_does_not_force_sampling(traced):
    client, finished = traced(rate=0.25)
    client.get(
        "/health", headers={"X-Amzn-Trace-Id": f"Root={HIGH_ROOT};Parent={PARENT};Sampled=1"}
    )
    assert finished() == []


def test_trace_ids_are_xray_ids(traced):
    client, finished = traced()
    client.get("/health")
    [span] = finished()
    text = xray_trace_id(span.context.trace_id)
    assert XRAY_ID.fullmatch(text)
    seconds = int(text[2:10], 16)
    assert abs(seconds - time.time()) < 3600  # X-Ray's epoch prefix


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"Root={ROOT}", trace_int(ROOT)),
        (f"Root={ROOT};Parent={PARENT};Sampled=1", None),
        ("Root=1-nothex!-bd862e3fe1be46a994272793", None),
        ("Root=garbage", None),
        ("", None),
    ],
)
def test_only_a_root_without_parent_is_continued_by_the_id_generator(header, expected):
    scope = {"headers": [(b"x-amzn-trace-id", header.encode())]}
    assert root_only_trace_id(scope) == expected


# --- log lines -----------------------------------------------------------------------------------


def test_every_line_inside_a_request_carries_the_trace_id(
    traced, json_log, capsys, fake_dependency
):
    client, finished = traced(rate=0.25, n8n_webhook_url=fake_dependency.url("fail"))
    capsys.readouterr()
    client.get("/health/apis", headers={"X-Amzn-Trace-Id": f"Root={HIGH_ROOT}"})  # not sampled
    client.get("/health/apis", headers={"X-Amzn-Trace-Id": f"Root={LOW_ROOT}"})  # sampled

    access = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if '"http_request"' in line
    ]
    assert [line[TRACE_ID_FIELD] for line in access] == [HIGH_ROOT, LOW_ROOT]
    failures = [json.loads(line) for line in json_log.getvalue().splitlines()]
    failures = [line for line in failures if line.get("event") == "health_check"]
    assert [line[TRACE_ID_FIELD] for line in failures] == [HIGH_ROOT, LOW_ROOT]
    [span] = [span for span in finished() if span.kind == SpanKind.SERVER]
    assert xray_trace_id(span.context.trace_id) == LOW_ROOT


def test_no_trace_id_outside_a_request(make_client, spans, json_log):
    make_client(tracing_sample_rate=1.0)  # logs "service started" in its lifespan
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert any(line["message"] == "service started" for line in lines)
    assert all(TRACE_ID_FIELD not in line for line in lines)


# --- imports -------------------------------------------------------------------------------------


def run_python(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout


def test_tracing_off_imports_no_opentelemetry_and_the_backup_job_no_tracing():
    loaded = run_python(
        "import sys; from app.asgi import create_app; from app.settings import Settings; "
        "create_app(Settings()); import app.backup.cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('opentelemetry')}))"
    )
    assert loaded.strip() == "[]"
    backup = run_python("import sys, app.backup.cli; print('app.tracing' in sys.modules)")
    assert backup.strip() == "False"


# --- the real service, exporting to a local OTLP/HTTP receiver ----------------------------------


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.paths: list[str] = []
        self.received = threading.Event()


@pytest.fixture
def otlp_receiver() -> Iterator[tuple[str, Receiver]]:
    receiver = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            receiver.paths.append(self.path)
            receiver.bodies.append(body)
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()
            receiver.received.set()

        def log_message(self, format, *args):
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", receiver
    server.shutdown()
    server.server_close()


def test_the_service_exports_its_spans_to_the_configured_endpoint(service, otlp_receiver):
    endpoint, receiver = otlp_receiver
    running = service(
        TRACING_SAMPLE_RATE="1",
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_RESOURCE_ATTRIBUTES="aws.log.group.names=/miko-test/app",
    )
    response = httpx.get(
        f"{running.base_url}/health?token={SECRET}",
        headers={"X-Amzn-Trace-Id": f"Root={ROOT}"},
        timeout=5,
    )
    assert response.status_code == 200
    running.process.send_signal(signal.SIGTERM)  # the lifespan shutdown flushes the spans
    assert running.process.wait(timeout=20) == 0

    assert receiver.paths
    assert set(receiver.paths) == {"/v1/traces"}
    spans, resources = [], []
    for body in receiver.bodies:
        assert SECRET.encode() not in body
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            resources.append(
                {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            )
            spans += [s for scope in resource_spans.scope_spans for s in scope.spans]
    health = [span for span in spans if span.name == "GET /health"]
    assert health, [span.name for span in spans]
    # The readiness polls of the fixture are traced too, each its own trace.
    assert trace_int(ROOT).to_bytes(16).hex() in {span.trace_id.hex() for span in health}
    assert resources[0]["service.name"] == "miko-app"
    assert resources[0]["aws.log.group.names"] == "/miko-test/app"
    access = [
        json.loads(line) for line in running.output().splitlines() if '"http_request"' in line
    ]
    assert ROOT in {line.get(TRACE_ID_FIELD) for line in access}
