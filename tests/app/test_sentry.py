"""Sentry: the options, the hooks, and what really leaves the process, read from the envelopes
a fake Sentry server on loopback receives."""

import gzip
import http.server
import json
import logging
import random
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sentry_sdk
from pydantic import SecretStr

import app.sentry
from app.asgi import create_app
from app.redaction import EMAIL, REDACTED
from app.settings import Settings
from tests.app.test_scrub_samples import email, jwt, oracle_findings, token

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.usefixtures("clean_environment")


def test_nothing_is_initialised_without_a_dsn(monkeypatch):
    calls = []
    monkeypatch.setattr(sentry_sdk, "init", lambda **kwargs: calls.append(kwargs))
    assert app.sentry.init_sentry(Settings()) is False
    assert calls == []


def test_dsn_initialises_with_redaction_and_no_pii(monkeypatch):
    calls = []
    monkeypatch.setattr(sentry_sdk, "init", lambda **kwargs: calls.append(kwargs))
    settings = Settings(
        sentry_dsn=SecretStr("https://public@o1.ingest.sentry.io/1"), app_env="development"
    )
    assert app.sentry.init_sentry(settings) is True
    (options,) = calls
    assert options["dsn"] == "https://public@o1.ingest.sentry.io/1"
    assert options["send_default_pii"] is False
    assert options["include_local_variables"] is False
    assert options["max_request_body_size"] == "never"
    assert options["environment"] == "development"
    assert options["event_scrubber"].recursive is True
    for hook in ("before_send", "before_send_transaction", "before_breadcrumb"):
        assert callable(options[hook])
    event = {
        "request": {"url": "https://a/?token=abc", "headers": {"Cookie": "abc"}},
        "extra": {"password": "abc"},
    }
    assert "abc" not in repr(options["before_send"](event, {}))


def test_a_hook_that_fails_drops_the_item(monkeypatch):
    def broken(item):
        raise RuntimeError("scrubber bug")

    monkeypatch.setattr(app.sentry, "scrub_event", broken)
    monkeypatch.setattr(app.sentry, "scrub_breadcrumb", broken)
    assert app.sentry.before_send({"extra": {"password": "abc"}}, {}) is None
    assert app.sentry.before_breadcrumb({"message": "token=abc"}, {}) is None


def test_breadcrumbs_logs_and_metrics_are_scrubbed():
    secret = token(random.Random(1))
    crumb = app.sentry.before_breadcrumb(
        {"message": f"token={secret}", "data": {"url": f"/cb?access_token={secret}"}}, {}
    )
    log = app.sentry.before_send_log(
        {"body": f"Bearer {secret}", "attributes": {"password": secret}, "severity_number": 9},
        {},
    )
    metric = app.sentry.before_send_metric(
        {"name": "booking", "value": 1.0, "attributes": {"email": "jane@clinic.example"}}, {}
    )
    assert secret not in repr((crumb, log))
    assert log["severity_number"] == 9
    assert metric == {"name": "booking", "value": 1.0, "attributes": {"email": EMAIL}}


# --- a fake Sentry on loopback -----------------------------------------------------------------


@dataclass
class FakeSentry:
    dsn: str
    bodies: list[bytes] = field(default_factory=list)

    def wait_for(self, predicate, seconds: float = 10.0) -> bytes:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            sentry_sdk.flush(timeout=1)
            joined = b"\n".join(self.bodies)
            if predicate(joined):
                return joined
            time.sleep(0.05)
        raise AssertionError(f"the fake Sentry never received it: {self.bodies!r}")


@pytest.fixture
def fake_sentry(monkeypatch) -> Iterator[FakeSentry]:
    """Receives envelopes as Sentry's ingest would (any path, gzip or not) and keeps the bytes."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    bodies: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            bodies.append(body)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format, *args):
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield FakeSentry(f"http://public@127.0.0.1:{server.server_address[1]}/1", bodies)
    client = sentry_sdk.get_client()
    client.close(timeout=2)
    sentry_sdk.get_global_scope().set_client(None)
    server.shutdown()
    server.server_close()


def envelope_events(raw: bytes) -> list[dict[str, Any]]:
    """The event items of the envelopes (header line, item header line, payload line...)."""
    events = []
    for line in raw.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "exception" in document:
            events.append(document)
    return events


def failing_app(secret: str, patient_email: str):
    """A static app whose request fails with a secret and an email in locals, message and log."""

    async def boom(scope, receive, send):
        raw_request = f"Authorization: Bearer {secret}\r\nX-Patient-Email: {patient_email}".encode()
        entries = [{"password": secret, "email": patient_email, "note": f"key={secret}"}]
        api_secret, contact = secret, patient_email
        logging.getLogger("app.booking").warning(
            "calling n8n with token=%s for %s", secret, patient_email
        )
        raise RuntimeError(
            f"booking failed for {contact} (password={api_secret}); {len(raw_request)} bytes, "
            f"{len(entries)} entries"
        )

    return boom


def test_an_unhandled_error_reaches_sentry_without_the_secret_or_the_email(fake_sentry):
    rng = random.Random(11)
    secret, patient_email, session = token(rng, 28), email(rng), jwt(rng)
    service = create_app(
        Settings(sentry_dsn=SecretStr(fake_sentry.dsn), app_env="development"),
        static_app=failing_app(secret, patient_email),
    )
    with TestClient(service) as client:
        response = client.get(
            "/boom",
            params={"access_token": session, "email": patient_email, "step": "2"},
            headers={
                "Authorization": f"Bearer {session}",
                "Cookie": f"sb-access-token={session}",
                "X-Patient-Email": patient_email,
                "User-Agent": f"MiKO-App/1.0 (token={secret})",
            },
        )
    assert response.status_code == 500

    received = fake_sentry.wait_for(lambda raw: b"RuntimeError" in raw)
    (event,) = envelope_events(received)
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert f"booking failed for {EMAIL} (password={REDACTED})" in exception["value"]
    frames = exception["stacktrace"]["frames"]
    assert frames
    assert all("vars" not in frame for frame in frames)
    for value in (secret, patient_email, session, patient_email.replace("@", "%40")):
        assert value.encode() not in received
    assert oracle_findings(received.decode()) == []


def test_the_bad_case_without_the_pipeline_the_envelope_carries_both(fake_sentry):
    """The same harness sees a leak when the SDK runs with its defaults and locals on."""
    rng = random.Random(12)
    secret, patient_email = token(rng, 28), email(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        sentry_sdk.init(
            dsn=fake_sentry.dsn, include_local_variables=True, default_integrations=False
        )

    def fails():
        held = {"secret": secret, "contact": patient_email}
        raise RuntimeError(f"failed for {held['contact']}")

    try:
        fails()
    except RuntimeError as error:
        sentry_sdk.capture_exception(error)
    received = fake_sentry.wait_for(lambda raw: b"RuntimeError" in raw)
    assert secret.encode() in received
    assert patient_email.encode() in received
