"""The fixture SPA in Chromium under the platform's headers: the app's own, and the edge's.

Sources of truth, none of them the code under test:
- Chromium (Debian's, driven by tests/frontend/browser.py) decides what a header set allows: CSP
  violations are its `securitypolicyviolation` events and console messages, the popup's
  `window.opener` is what its Cross-Origin-Opener-Policy leaves, the Referer is what it sends, a
  report is what it delivers to the report endpoint;
- Cloudflare's documented response-header transform semantics for the edge stand-in: a `set`
  operation replaces every header of that name with the rule's value, `remove` removes them all
  (https://developers.cloudflare.com/rules/transform/response-header-modification/). The rule is
  the prod hostname's rule of the edge stack's response-header ruleset (edge/, built from the
  prod stack's `edge` output) as `plan.render` renders the real programs, applied by a Playwright
  route to every same-origin response, as the zone applies it to every response of the hostname;
- the service's stdout, for what reached it (log lines, EMF lines, violation reports).

Every test runs twice: `app`, the service's own headers as it sends them; `edge`, the same
responses after the edge's rule. The negative controls change one header the way a mistake
would, to show the positive tests can fail.

The site is served over HTTPS (nginx on loopback terminating TLS with a throwaway self-signed
certificate, trusted by this Chromium alone) as Cloudflare serves it, because Chromium handles
`Reporting-Endpoints` only on https responses: over http://127.0.0.1 (a secure context too) the
endpoint is never registered, a `report-to` report stays queued for good, and `report-uri` is
not used instead since the policy has `report-to` (seen in Chromium 156 with DevTools'
`Network.reportingApi*` events: no endpoint registered, the report cycling Queued/Pending).
"""

import base64
import datetime
import hashlib
import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.sync_api import Browser, BrowserContext, Page, Response, Route

from app.contract import (
    CLIENT_METRICS_NAMESPACE,
    CSP_REPORTS_PATH,
    CSP_VIOLATION_REPORTED,
    LOGS_INGEST_PATH,
    METRICS_INGEST_PATH,
    RUNTIME_CONFIG_PATH,
)
from app.redaction import REDACTED
from plan.render import render_stack
from tests.app.conftest import ServiceProcess, free_port, start_service_at
from tests.components.conftest import DUMMY_SECRETS
from tests.components.edge_stack_fixtures import HOSTNAMES, environment, render_edge, rules_of
from tests.frontend.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    FAKE_ACCESS_TOKEN,
    GOOGLE_ACCOUNTS,
    GOOGLE_APIS,
    WAIT_MS,
    Recorder,
    ThirdParties,
    app_page,
    google_sign_in,
    seen,
    wait_for_fixture,
    wait_until,
)
from tests.frontend.build import sourcemaps_dir
from tests.frontend.nginx import NGINX, nginx, stop_service

pytestmark = pytest.mark.skipif(
    not NGINX.is_file(), reason=f"{NGINX} is missing: run scripts/install-system-deps"
)

EDGE_PHASE = "http_response_headers_transform"
APP_VERSION = "fixture-2026.11.0"
FEATURE_FLAGS = {"VITE_ENABLE_ANALYTICS": "true"}
"""BROWSER_CONFIG_VALUES: a flag of the kind the stacks' `browserValues` hold."""
GSI_STYLE = f"{GOOGLE_ACCOUNTS}/gsi/style"
CALENDAR_EVENTS = f"{GOOGLE_APIS}/calendar/v3/calendars/primary/events"
FORBIDDEN_URL = "https://not-allowed.invalid/x"  # the fixture's `?violate=1` request
LAZY_CHUNK = r"/assets/Consultation-[A-Za-z0-9_-]{8}\.js"
LAZY_ROUTE_BORDER = "rgb(11, 22, 33)"  # tests/frontend/spa/src/routes/consultation.css
VIOLATION_CLOCK_JS = """
document.addEventListener('securitypolicyviolation', () => {
  window.__violatedAt ??= Date.now()
}, true)
"""
SETTLE_MS = 300
"""After the last step, for late `securitypolicyviolation` events to reach the recorder."""
REPORT_WAIT_SECONDS = 10.0
SERVICE_START_SECONDS = 15.0


# --- the site: the service, behind a TLS front --------------------------------------------------


@dataclass(frozen=True)
class Tls:
    cert: Path
    key: Path
    spki_sha256: str
    """Base64 SHA-256 of the key's SubjectPublicKeyInfo: what Chromium is told to trust."""


def make_tls(folder: Path) -> Tls:
    """A throwaway self-signed certificate for 127.0.0.1, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Tls(cert_path, key_path, base64.b64encode(hashlib.sha256(spki).digest()).decode())


def tls_front_block(port: int, origin: str, tls: Tls) -> str:
    """nginx terminating TLS and passing every request and response through (of the response
    headers it replaces only Server and Date); its access log keeps each request's content type,
    which tells the reporting mechanism."""
    return f"""
    log_format front '$request_method $uri $content_type $status';
    access_log access.log front;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {tls.cert};
        ssl_certificate_key {tls.key};
        location / {{
            proxy_pass {origin};
            proxy_next_upstream off;
            proxy_buffering off;
            proxy_set_header Host $http_host;
        }}
    }}
"""


@dataclass
class Site:
    folder: Path
    port: int
    service: ServiceProcess
    front: str
    """What the browser opens: https://127.0.0.1:<port>."""
    front_log: Path

    @property
    def origin(self) -> str:
        """The service itself (plain http): what the edge fetches from."""
        return self.service.base_url

    def restart(self, env: Mapping[str, str]) -> None:
        """Stops the service and starts it again, same build, same port, another environment."""
        stop_service(self.service)
        self.service = start_service_at(self.folder, self.port, env)

    def lines(self, since: int = 0) -> list[dict[str, Any]]:
        """The JSON lines of the service's stdout, from character `since` on."""
        parsed = []
        for line in self.service.output()[since:].splitlines():
            try:
                document = json.loads(line)
            except ValueError:
                continue
            if isinstance(document, dict):
                parsed.append(document)
        return parsed


def service_env(third: ThirdParties, dist: Path, **changes: str) -> dict[str, str]:
    """The stack's kind of environment: integrations routed to the browser, a feature flag."""
    return {
        "STATIC_DIR": str(dist),
        "APP_ENV": "development",
        "APP_VERSION": APP_VERSION,
        "RATE_LIMIT": "10000",  # every test's page loads post logs and metrics
        **third.service_env(),
        "BROWSER_CONFIG_VALUES": json.dumps(FEATURE_FLAGS),
        **changes,
    }


@contextmanager
def running_site(folder: Path, env: Mapping[str, str], tls: Tls) -> Iterator[Site]:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    service = start_service_at(folder, port, env)
    front_port = free_port()
    front = folder / "front"
    site = Site(folder, port, service, f"https://127.0.0.1:{front_port}", front / "access.log")
    try:
        with nginx(front, tls_front_block(front_port, service.base_url, tls), front_port):
            yield site
    finally:
        stop_service(site.service)


# --- the edge stand-in ---------------------------------------------------------------------------

Headers = list[tuple[str, str]]
Rewrite = Callable[[Headers], Headers]
"""A change to a response's headers, as the edge (or a mistake) makes it."""


@dataclass(frozen=True)
class HeaderOperation:
    """One entry of a Cloudflare rewrite rule's `headers` (action_parameters)."""

    name: str
    operation: str
    value: str | None = None


def apply_operations(headers: Headers, operations: Sequence[HeaderOperation]) -> Headers:
    """Cloudflare's response header transform, in order: `set` replaces every header of that
    name (any case) by one with the rule's value, `add` appends one, `remove` removes them all."""
    result = list(headers)
    for operation in operations:
        if operation.operation not in ("set", "add", "remove"):
            raise ValueError(f"{operation.name}: unknown operation {operation.operation!r}")
        if operation.operation in ("set", "remove"):
            result = [
                (name, value) for name, value in result if name.lower() != operation.name.lower()
            ]
        if operation.operation in ("set", "add"):
            if operation.value is None:
                raise ValueError(f"{operation.name}: {operation.operation} without a value")
            result.append((operation.name, operation.value))
    return result


def set_header(name: str, value: str) -> Rewrite:
    return lambda headers: apply_operations(headers, [HeaderOperation(name, "set", value)])


def without_csp_source(source: str) -> Rewrite:
    """The CSP with one source taken out of every directive (checked to have been there)."""

    def rewrite(headers: Headers) -> Headers:
        changed: Headers = []
        for name, value in headers:
            if name.lower() != "content-security-policy":
                changed.append((name, value))
                continue
            assert f" {source}" in value, f"{source} is not in the CSP to take out: {value}"
            changed.append((name, value.replace(f" {source}", "")))
        return changed

    return rewrite


BODY_FRAMING = frozenset({"content-encoding", "content-length", "transfer-encoding"})
"""Playwright's fetch hands the body decoded, so these go (Playwright sets the length); the
edge re-encodes for the client anyway, and none of them is a header under test."""


def as_fulfill_headers(headers: Headers) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        if key in BODY_FRAMING:
            continue
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


def serve_through(
    context: BrowserContext, recorder: Recorder, site: Site, rewrite: Rewrite
) -> None:
    """Every same-origin request of the context is fetched from the service (as the edge fetches
    from the origin) and answered with the rewritten headers. Registered after the harness's own
    route, so it runs first; it records the request as the harness would."""

    def handle(route: Route) -> None:
        request = route.request
        recorder.same_origin.append(seen(request))
        upstream = site.origin + request.url[len(site.front) :]
        response = route.fetch(url=upstream, max_redirects=0, timeout=WAIT_MS)
        route.fulfill(
            status=response.status,
            headers=as_fulfill_headers(
                rewrite([(h["name"], h["value"]) for h in response.headers_array])
            ),
            body=response.body(),
        )

    context.route(lambda url: url.startswith(f"{site.front}/"), handle)


def edge_operations(third: ThirdParties) -> list[HeaderOperation]:
    """The header rule of the rendered prod stack, its browser secrets being the fakes' values."""
    secrets = {
        "supabaseUrl": third.supabase_url,
        "supabaseAnonKey": third.supabase_anon_key,
        "n8nWebhookUrl": third.n8n_webhook_url,
        "n8nInstanceId": third.n8n_instance_id,
        "googleClientId": third.google_client_id,
        "googleApiKey": third.google_api_key,
        "base44AppId": third.base44_app_id,
    }
    # The edge stack (edge/) builds the rule from the prod stack's `edge` output, scoped to
    # prod's hostname; the route below applies it to every response of the site, as the zone
    # applies it to every response of that hostname.
    prod = render_stack("prod", secret_values={**DUMMY_SECRETS, **secrets})
    staging = environment("staging")
    edge = render_edge(stack_outputs={"staging": staging.exports, "prod": prod.exports})
    (rule,) = rules_of(edge, EDGE_PHASE, HOSTNAMES["prod"])
    assert rule["action"] == "rewrite", rule
    return [
        HeaderOperation(name, spec["operation"], spec.get("value"))
        for name, spec in rule["actionParameters"]["headers"].items()
    ]


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def third() -> ThirdParties:
    return ThirdParties()


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def secure_browser(browser, tls) -> Iterator[Browser]:
    """Chromium trusting the throwaway certificate's key, and nothing else it would not."""
    launched = browser.browser_type.launch(
        executable_path=str(CHROMIUM),
        args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={tls.spki_sha256}"],
        headless=True,
        timeout=30_000,
    )
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def site(fixture_dist, third, tls, tmp_path_factory) -> Iterator[Site]:
    with running_site(
        tmp_path_factory.mktemp("site"), service_env(third, fixture_dist), tls
    ) as running:
        yield running


@pytest.fixture(scope="module")
def edge_rule(third) -> list[HeaderOperation]:
    """Rendered once for the module (a few seconds)."""
    return edge_operations(third)


@dataclass
class Browsing:
    """Pages of the site under one mode's headers, optionally with a mistake on top."""

    browser: Browser
    site: Site
    tls: Tls
    third: ThirdParties
    edge: list[HeaderOperation] | None
    """The edge rule's operations; None for the app's own headers."""
    mode: str

    @contextmanager
    def page(self, *mistakes: Rewrite) -> Iterator[tuple[Page, Recorder]]:
        with app_page(self.browser, self.site.front, self.third) as (page, recorder):
            if self.edge is not None or mistakes:
                edge = self.edge or []

                def rewrite(headers: Headers) -> Headers:
                    headers = apply_operations(headers, edge)
                    for mistake in mistakes:
                        headers = mistake(headers)
                    return headers

                serve_through(page.context, recorder, self.site, rewrite)
            try:
                yield page, recorder
            finally:  # requests still in flight when the context closes are not failures
                page.context.unroute_all(behavior="ignoreErrors")

    def check_served_under_the_rule(self, response: Response) -> None:
        """In edge mode, the document's headers are the rule's (what the route did)."""
        if self.edge is None:
            return
        headers = response.headers
        for operation in self.edge:
            if operation.operation == "set":
                assert headers.get(operation.name.lower()) == operation.value, operation.name
            elif operation.operation == "remove":
                assert operation.name.lower() not in headers, operation.name


@pytest.fixture(params=["app", "edge"])
def browsing(request, secure_browser, site, tls, third) -> Browsing:
    edge = request.getfixturevalue("edge_rule") if request.param == "edge" else None
    return Browsing(secure_browser, site, tls, third, edge, request.param)


# --- steps --------------------------------------------------------------------------------------


def load(
    browsing: Browsing, page: Page, path: str = "/", under_rule: bool = True
) -> dict[str, Any]:
    """Opens `path` and waits (bounded) until the fixture's start-up calls are done.

    `under_rule`: the document carries the mode's headers (not so under a negative control).
    """
    response = page.goto(path)
    assert response is not None, f"no response for {path}"
    assert response.status == 200, f"{path}: {response.status}"
    if under_rule:
        browsing.check_served_under_the_rule(response)
    return wait_for_fixture(page, "(f) => f.started")


def violations(recorder: Recorder) -> list[Any]:
    return [*recorder.csp_violations, *recorder.csp_console()]


def to_lazy_route(page: Page) -> None:
    with page.expect_response(is_lazy_chunk) as chunk:
        page.get_by_test_id("nav-consultation").click()
    assert chunk.value.status == 200, f"{chunk.value.url}: {chunk.value.status}"
    check_lazy_route_rendered(page)


def is_lazy_chunk(response: Response) -> bool:
    return re.fullmatch(LAZY_CHUNK, urlsplit(response.url).path) is not None


def check_lazy_route_rendered(page: Page) -> None:
    section = page.get_by_test_id("page-consultation")
    section.wait_for()
    border = section.evaluate("(element) => getComputedStyle(element).borderLeftColor")
    assert border == LAZY_ROUTE_BORDER, "the lazy route's CSS chunk did not apply"


# --- the claims, each under both header sets -----------------------------------------------------


def test_no_csp_violation_on_home_lazy_route_google_button_and_sign_in(browsing):
    with browsing.page() as (page, recorder):
        state = load(browsing, page)
        assert state["style"] == {"injected": True, "applied": True}
        for name in ("health", "supabaseRest", "supabaseRealtime", "googleApi"):
            assert state["calls"][name]["status"] == "ok", (name, state["calls"][name])

        wait_for_fixture(page, "(f) => f.gsi.status === 'rendered'")
        button = page.frame_locator("[data-testid=gsi-button] iframe").locator("#gsi-fake-button")
        button.wait_for()
        wait_until(lambda: bool(recorder.to(GSI_STYLE)), page)  # Google's stylesheet was fetched

        _, oauth = google_sign_in(page)
        assert oauth["status"] == "token", oauth

        to_lazy_route(page)
        page.wait_for_timeout(SETTLE_MS)
        assert violations(recorder) == []
        assert recorder.page_errors == []
        assert recorder.aborted == []


def test_the_oauth_popup_posts_the_token_back_to_its_opener(browsing):
    with browsing.page() as (page, recorder):
        load(browsing, page)
        popup, oauth = google_sign_in(page)
        assert oauth == {
            "status": "token",
            "accessToken": FAKE_ACCESS_TOKEN,
            "scope": "https://www.googleapis.com/auth/calendar.readonly",
        }
        assert popup in recorder.popups
        assert violations(recorder) == []


def test_the_google_api_request_carries_the_origin_only_as_referer(browsing):
    with browsing.page() as (page, recorder):
        state = load(browsing, page, "/consultation?patient=jane-doe&step=2")
        assert state["calls"]["googleApi"]["status"] == "ok", state["calls"]["googleApi"]
        requests = [request for request in recorder.to(CALENDAR_EVENTS) if request.method == "GET"]
        assert len(requests) == 1, requests
        assert requests[0].headers.get("referer") == f"{browsing.site.front}/"


def test_the_spa_log_entry_is_redacted_and_its_metrics_reach_stdout_as_emf(browsing):
    site = browsing.site
    token = f"url-token-{uuid.uuid4().hex[:8]}"
    request_ids: dict[str, str] = {}

    def on_response(response: Response) -> None:
        path = urlsplit(response.url).path
        if path in (LOGS_INGEST_PATH, METRICS_INGEST_PATH):
            request_ids[path] = response.headers.get("x-request-id", "")

    with browsing.page() as (page, _):
        page.on("response", on_response)
        state = load(browsing, page, f"/?access_token={token}")
        assert state["logs"]["flushes"] == [202], state["logs"]
        assert state["metrics"]["flushes"] == [202], state["metrics"]
        wait_until(lambda: len(request_ids) == 2, page)

        def ours(event: str, path: str) -> list[dict[str, Any]]:
            return [
                line
                for line in site.lines()
                if line.get("event") == event and line.get("request_id") == request_ids[path]
            ]

        wait_until(lambda: bool(ours("client_log", LOGS_INGEST_PATH)), page)
        wait_until(lambda: bool(ours("client_metric", METRICS_INGEST_PATH)), page)

    (started,) = [
        line
        for line in ours("client_log", LOGS_INGEST_PATH)
        if line["message"] == "fixture started"
    ]
    assert started["data"] == {"release": "one", "supabaseAnonKey": REDACTED}
    assert f"access_token={REDACTED}" in started["url"]
    output = site.service.output()
    assert browsing.third.supabase_anon_key not in output
    assert token not in output

    emf = ours("client_metric", METRICS_INGEST_PATH)
    names = set()
    for line in emf:
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == CLIENT_METRICS_NAMESPACE
        assert line["Environment"] == "development"
        names |= {metric["Name"] for metric in directive["Metrics"]}
    assert {"page_load_time_count", "api_response_time_count"} <= names, names


def test_a_deep_link_reloads_and_the_lazy_chunk_loads(browsing):
    with browsing.page() as (page, recorder):
        load(browsing, page)
        to_lazy_route(page)  # the lazy chunk, fetched on navigation
        for open_it in (lambda: page.goto("/consultation"), page.reload):  # deep link, reload
            response = open_it()
            assert response is not None
            assert response.status == 200
            assert "text/html" in response.headers["content-type"]
            browsing.check_served_under_the_rule(response)
            check_lazy_route_rendered(page)
            state = wait_for_fixture(page, "(f) => f.routes.includes('consultation')")
            assert state["routes"] == ["consultation"]
        page.wait_for_timeout(SETTLE_MS)
        assert violations(recorder) == []
        assert recorder.page_errors == []


def test_source_maps_are_emitted_but_not_served(browsing, fixture_dist):
    maps = sourcemaps_dir(fixture_dist)
    with browsing.page() as (page, recorder):
        load(browsing, page)
        to_lazy_route(page)
        served = sorted(
            {
                request.path
                for request in recorder.same_origin
                if request.path.startswith("/assets/") and request.path.endswith(".js")
            }
        )
        built = sorted(f"/assets/{path.name}" for path in (fixture_dist / "assets").glob("*.js"))
        assert served == built  # the entry and the lazy chunk: every script of the build
        for path in served:
            assert (maps / path.removeprefix("/")).with_name(f"{Path(path).name}.map").is_file()
            answer = page.evaluate(
                """async (path) => {
                    const [script, map] = await Promise.all([fetch(path), fetch(path + '.map')])
                    const headers = script.headers
                    return {
                        map: map.status,
                        sourceMap: headers.get('sourcemap') ?? headers.get('x-sourcemap'),
                        mentions: (await script.text()).includes('sourceMappingURL'),
                    }
                }""",
                path,
            )
            assert answer == {"map": 404, "sourceMap": None, "mentions": False}, path


def test_the_page_sees_the_runtime_configuration_and_a_rotation_on_next_load(
    browsing, fixture_dist, tmp_path
):
    third = browsing.third
    env = service_env(third, fixture_dist)
    expected = {
        "supabaseUrl": third.supabase_url,
        "supabaseAnonKeySet": True,
        "n8nWebhookUrl": third.n8n_webhook_url,
        "googleClientId": third.google_client_id,
        "googleApiKeySet": True,
        "appVersion": APP_VERSION,
        "appEnv": "development",
        "logEndpoint": LOGS_INGEST_PATH,
        "metricsEndpoint": METRICS_INGEST_PATH,
        "enableAnalytics": "true",
        "runtimeGlobalPresent": True,
    }
    rotated_client_id = "rotated-client-id.apps.googleusercontent.com"
    with running_site(tmp_path / "rotation", env, browsing.tls) as own:
        rotating = replace(browsing, site=own)
        with rotating.page() as (page, recorder):
            configs: list[Response] = []

            def on_response(response: Response) -> None:
                if urlsplit(response.url).path == RUNTIME_CONFIG_PATH:
                    configs.append(response)

            page.on("response", on_response)
            state = load(rotating, page)
            assert state["config"] == expected
            scripts = sorted({r.path for r in recorder.same_origin if r.path.endswith(".js")})

            own.restart(
                {
                    **env,
                    "GOOGLE_CLIENT_ID": rotated_client_id,
                    "BROWSER_CONFIG_VALUES": json.dumps({"VITE_ENABLE_ANALYTICS": "false"}),
                }
            )
            recorder.same_origin.clear()
            state = load(rotating, page)  # the next load, same tab, same build
            assert state["config"] == {
                **expected,
                "googleClientId": rotated_client_id,
                "enableAnalytics": "false",
            }
            assert (
                sorted({r.path for r in recorder.same_origin if r.path.endswith(".js")}) == scripts
            )
            assert len(configs) == 2
            assert all(r.headers.get("cache-control") == "no-store" for r in configs)


def test_a_forced_violation_reaches_the_report_endpoint(browsing):
    """Delivery is measured from the page's `securitypolicyviolation` event to the service's
    line, both on this machine's clock; the wait for it is bounded by REPORT_WAIT_SECONDS."""
    site = browsing.site
    since, front_since = len(site.service.output()), len(site.front_log.read_text())
    with browsing.page() as (page, recorder):
        page.add_init_script(VIOLATION_CLOCK_JS)
        state = load(browsing, page, "/?violate=1")
        assert state["calls"]["violation"]["status"] == "error"  # blocked, as it must be
        wait_until(lambda: bool(recorder.csp_violations), page)
        (violation,) = recorder.csp_violations
        assert violation["effectiveDirective"] == "connect-src"
        assert violation["blockedURI"] == FORBIDDEN_URL
        violated_at_ms = page.evaluate("() => window.__violatedAt")

        def reported() -> list[dict[str, Any]]:
            return [
                line
                for line in site.lines(since)
                if CSP_VIOLATION_REPORTED.matches(line) and line.get("directive") == "connect-src"
            ]

        wait_until(lambda: bool(reported()), page, timeout_ms=int(REPORT_WAIT_SECONDS * 1000))
    (line,) = reported()
    logged_at = datetime.datetime.fromisoformat(line["timestamp"]).timestamp() * 1000
    # negative: the report left the browser before the event reached the page's listener
    print(
        f"[{browsing.mode}] CSP report logged by the service "
        f"{logged_at - violated_at_ms:+.0f} ms from the page's violation event"
    )
    assert line["blocked"] == FORBIDDEN_URL
    assert line["disposition"] == "enforce"
    assert line["document"] == f"{site.front}/"
    # one report, delivered by the Reporting API (`report-to`, a reports+json batch) through the
    # front: Chromium ignores `report-uri` when the policy has `report-to`
    posts = [
        entry.split(" ")
        for entry in site.front_log.read_text()[front_since:].splitlines()
        if entry.startswith(f"POST {CSP_REPORTS_PATH} ")
    ]
    assert posts == [["POST", CSP_REPORTS_PATH, "application/reports+json", "202"]], posts


# --- negative controls: one header changed the way a mistake would change it ---------------------


def test_control_coop_same_origin_cuts_the_popup_off(browsing):
    with browsing.page(set_header("Cross-Origin-Opener-Policy", "same-origin")) as (page, _):
        load(browsing, page, under_rule=False)
        popup, oauth = google_sign_in(page)
        assert oauth == {"status": "error", "error": "popup_closed"}
        assert popup.locator("#outcome").get_attribute("data-outcome") == "no-opener"


def test_control_no_referrer_drops_the_referer(browsing):
    with browsing.page(set_header("Referrer-Policy", "no-referrer")) as (page, recorder):
        state = load(browsing, page, under_rule=False)
        assert state["calls"]["googleApi"]["status"] == "ok"
        (request,) = [r for r in recorder.to(CALENDAR_EVENTS) if r.method == "GET"]
        assert "referer" not in request.headers


def test_control_without_the_gsi_style_source_a_violation_is_recorded(browsing):
    with browsing.page(without_csp_source(GSI_STYLE)) as (page, recorder):
        load(browsing, page, under_rule=False)
        wait_for_fixture(page, "(f) => f.gsi.status === 'rendered'")
        wait_until(lambda: bool(recorder.csp_violations), page)
        assert [(v["effectiveDirective"], v["blockedURI"]) for v in recorder.csp_violations] == [
            ("style-src-elem", GSI_STYLE)
        ]
        assert recorder.to(GSI_STYLE) == []  # blocked before it left the browser
