"""A Playwright harness for the browser tests: Debian's Chromium, and fake third parties.

The machine reaches no third party, and a test must not depend on one anyway: every request a
page makes to another origin is answered here, by Playwright's request interception, the way the
real service answers it (Supabase REST and realtime, the n8n webhook, the Google APIs and Google
Identity Services, down to the OAuth popup's `window.opener.postMessage`). Each one is recorded
with its headers (Referer checks), anything not anticipated is aborted and recorded, and CSP
violations are collected from every page and frame.

The browser is Debian's `chromium` (scripts/install-system-deps); Playwright never downloads one.
"""

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Route,
    WebSocketRoute,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
WAIT_MS = 10_000
"""The bound of every wait on a page: selectors, navigations, functions."""

GOOGLE_ACCOUNTS = "https://accounts.google.com"
GOOGLE_APIS = "https://www.googleapis.com"
FAKE_ACCESS_TOKEN = "fake-google-access-token"


@contextmanager
def chromium() -> Iterator[Browser]:
    """One headless Chromium (launch it once per session: it takes about a second)."""
    if not CHROMIUM.is_file():
        raise RuntimeError(f"{CHROMIUM} is missing: run scripts/install-system-deps")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), headless=True, timeout=30_000
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass(frozen=True)
class ThirdParties:
    """The integrations' addresses and keys the fixture is given; all answered by the fakes."""

    supabase_url: str = "https://fixtureproject.supabase.co"
    supabase_anon_key: str = "fixture-supabase-anon-key"
    n8n_webhook_url: str = "https://n8n.fixture.example/webhook/miko-booking"
    n8n_instance_id: str = "fixture-n8n-instance"
    google_client_id: str = "fixture-client-id.apps.googleusercontent.com"
    google_api_key: str = "fixture-google-api-key"
    base44_app_id: str = "fixture-base44-app"

    @property
    def supabase_origin(self) -> str:
        return origin(self.supabase_url)

    @property
    def n8n_origin(self) -> str:
        return origin(self.n8n_webhook_url)

    def service_env(self) -> dict[str, str]:
        """Container variables (app/contract.py SecretEnv) and their VITE_* browser keys."""
        secrets = {
            "SUPABASE_URL": self.supabase_url,
            "SUPABASE_ANON_KEY": self.supabase_anon_key,
            "N8N_WEBHOOK_URL": self.n8n_webhook_url,
            "N8N_INSTANCE_ID": self.n8n_instance_id,
            "GOOGLE_CLIENT_ID": self.google_client_id,
            "GOOGLE_API_KEY": self.google_api_key,
            "BASE44_APP_ID": self.base44_app_id,
        }
        browser_keys = {f"VITE_{name}": name for name in secrets}
        return {**secrets, "BROWSER_CONFIG_FROM": json.dumps(browser_keys)}


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class SeenRequest:
    method: str
    url: str
    headers: dict[str, str]
    resource_type: str
    frame_url: str
    post_data: str | None

    @property
    def origin(self) -> str:
        return origin(self.url)

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


@dataclass
class Recorder:
    """What the pages of one browser context did, as the tests observe it."""

    app_origin: str
    requests: list[SeenRequest] = field(default_factory=list)
    """Every request to another origin, answered or not."""
    aborted: list[SeenRequest] = field(default_factory=list)
    """Requests to other origins that no fake anticipated: aborted."""
    same_origin: list[SeenRequest] = field(default_factory=list)
    websockets: list[str] = field(default_factory=list)
    websocket_messages: list[tuple[str, str]] = field(default_factory=list)
    """(url, message) as the page sent them."""
    csp_violations: list[dict[str, Any]] = field(default_factory=list)
    """`securitypolicyviolation` events, from every page and frame of the context."""
    console: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, text, page URL) of every console message."""
    page_errors: list[str] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    """Every page of the context in the order they opened: the app's first, then popups (a
    popup whose opener a Cross-Origin-Opener-Policy severed is no `popup` event of its opener,
    but it is a page of the context)."""

    @property
    def popups(self) -> list[Page]:
        return self.pages[1:]

    def to(self, prefix: str) -> list[SeenRequest]:
        """The recorded third-party requests whose URL starts with `prefix`."""
        return [request for request in self.requests if request.url.startswith(prefix)]

    def csp_console(self) -> list[str]:
        """Console messages in which Chromium reports a Content-Security-Policy violation."""
        return [text for _, text, _ in self.console if "Content Security Policy" in text]


def seen(request: Request) -> SeenRequest:
    try:
        frame_url = request.frame.url
    except PlaywrightError:  # a service worker's request has no frame
        frame_url = ""
    return SeenRequest(
        method=request.method,
        url=request.url,
        headers=request.all_headers(),
        resource_type=request.resource_type,
        frame_url=frame_url,
        post_data=request.post_data,
    )


# --- the fakes --------------------------------------------------------------------------------

Answer = dict[str, Any]
"""Keyword arguments of Route.fulfill."""

CORS_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, POST, PATCH, DELETE, OPTIONS",
    "access-control-allow-headers": "apikey, authorization, content-type, prefer, x-client-info",
    "access-control-max-age": "600",
}


def json_answer(document: Any, status: int = 200) -> Answer:
    return {
        "status": status,
        "headers": {**CORS_HEADERS, "content-type": "application/json"},
        "body": json.dumps(document),
    }


def text_answer(body: str, content_type: str) -> Answer:
    return {"status": 200, "headers": {"content-type": content_type}, "body": body}


PROCEDURES = [
    {"id": 1, "name": "Consultation", "slug": "consultation"},
    {"id": 2, "name": "Rhinoplasty", "slug": "rhinoplasty"},
]

# The Google Identity Services client library (https://accounts.google.com/gsi/client), reduced
# to what the clinic's app calls, behaving as the real one does in what a page can observe:
# renderButton adds Google's stylesheet and a button iframe from accounts.google.com, and the
# token client opens a popup on the OAuth endpoint, takes the token from the popup's
# `window.opener.postMessage` and reports `popup_closed` when the popup is gone without one (as
# under a Cross-Origin-Opener-Policy that severs the opener).
GSI_CLIENT_JS = r"""
(() => {
  const ORIGIN = 'https://accounts.google.com'
  let idConfig = null
  let buttons = 0

  const id = {
    initialize(config) {
      idConfig = config
    },
    renderButton(parent, options = {}) {
      if (!idConfig) {
        console.warn('[GSI_LOGGER]: google.accounts.id.initialize() is not called.')
        return
      }
      if (!document.querySelector(`link[href="${ORIGIN}/gsi/style"]`)) {
        const link = document.createElement('link')
        link.rel = 'stylesheet'
        link.href = `${ORIGIN}/gsi/style`
        link.id = 'googleidentityservice'
        document.head.appendChild(link)
      }
      const params = new URLSearchParams({
        type: options.type || 'standard',
        theme: options.theme || 'outline',
        size: options.size || 'large',
        client_id: idConfig.client_id,
        iframe_id: `gsi_${Date.now()}_${++buttons}`,
        as: Math.random().toString(36).slice(2),
      })
      const iframe = document.createElement('iframe')
      iframe.src = `${ORIGIN}/gsi/button?${params}`
      iframe.title = 'Sign in with Google Button'
      iframe.style.cssText = 'border: 0; width: 240px; height: 44px;'
      parent.appendChild(iframe)
    },
    prompt() {},
    cancel() {},
    disableAutoSelect() {},
  }

  function initTokenClient(config) {
    return {
      requestAccessToken(overrides = {}) {
        const state = Math.random().toString(36).slice(2)
        const params = new URLSearchParams({
          client_id: config.client_id,
          scope: overrides.scope || config.scope,
          response_type: 'token',
          include_granted_scopes: 'true',
          state,
          origin: window.location.origin,
        })
        const popup = window.open(
          `${ORIGIN}/o/oauth2/v2/auth?${params}`,
          'g_auth_token_window',
          'popup,width=500,height=600',
        )
        if (!popup) {
          config.error_callback?.({
            type: 'popup_failed_to_open',
            message: 'Failed to open popup window',
          })
          return
        }
        let done = false
        const finish = () => {
          done = true
          clearInterval(watcher)
          window.removeEventListener('message', receive)
        }
        const receive = (event) => {
          if (done || event.origin !== ORIGIN || event.data?.state !== state) return
          finish()
          config.callback(event.data.response)
        }
        window.addEventListener('message', receive)
        const watcher = setInterval(() => {
          if (done || !popup.closed) return
          clearInterval(watcher)
          // a message posted just before the popup closed is still on its way
          setTimeout(() => {
            if (done) return
            finish()
            config.error_callback?.({ type: 'popup_closed', message: 'Popup window closed' })
          }, 300)
        }, 100)
      },
    }
  }

  window.google = window.google || {}
  window.google.accounts = { id, oauth2: { initTokenClient } }
})()
"""

GSI_STYLE_CSS = ".nsm7Bb-HzV7m-LgbsSe { border-radius: 4px; font-family: 'Google Sans', arial; }\n"

GSI_BUTTON_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in with Google Button</title></head>
<body style="margin:0"><div role="button" id="gsi-fake-button">Sign in with Google</div></body>
</html>
"""

# The OAuth page the token client's popup opens: it hands the token back to the opener, and
# shows (and logs) a failure when there is no opener to hand it to.
OAUTH_POPUP_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in - Google Accounts</title></head>
<body>
<p id="outcome" data-outcome="pending">Signing in…</p>
<script>
  const params = new URLSearchParams(window.location.search)
  const outcome = document.getElementById('outcome')
  if (!window.opener) {
    outcome.dataset.outcome = 'no-opener'
    outcome.textContent = 'Sign-in failed: window.opener is null, the page that opened this ' +
      'popup cannot receive the token (is its Cross-Origin-Opener-Policy same-origin?)'
    document.title = 'Sign-in failed'
    console.error(outcome.textContent)
  } else {
    const response = {
      access_token: '__TOKEN__',
      token_type: 'Bearer',
      expires_in: 3599,
      scope: params.get('scope'),
      prompt: 'consent',
    }
    window.opener.postMessage({ state: params.get('state'), response }, params.get('origin'))
    outcome.dataset.outcome = 'sent'
    outcome.textContent = 'Signed in.'
    setTimeout(() => window.close(), 100)
  }
</script>
</body></html>
""".replace("__TOKEN__", FAKE_ACCESS_TOKEN)


def calendar_events(third: ThirdParties, query: str) -> Answer:
    if parse_qs(query).get("key", [""])[0] != third.google_api_key:
        return json_answer({"error": {"code": 400, "message": "API key not valid."}}, 400)
    return json_answer({"kind": "calendar#events", "items": []})


def fake_answer(third: ThirdParties, method: str, url: str) -> Answer | None:
    """The fake third party's answer to a request, or None when none is anticipated."""
    parts = urlsplit(url)
    here = f"{parts.scheme}://{parts.netloc}"
    if method == "OPTIONS" and here in (third.supabase_origin, third.n8n_origin, GOOGLE_APIS):
        return {"status": 204, "headers": CORS_HEADERS}  # CORS preflight
    html, js, css = (f"text/{kind}; charset=utf-8" for kind in ("html", "javascript", "css"))
    answers: dict[tuple[str, str, str], Callable[[], Answer]] = {
        ("GET", third.supabase_origin, "/rest/v1/procedures"): lambda: json_answer(PROCEDURES),
        ("POST", third.n8n_origin, urlsplit(third.n8n_webhook_url).path): lambda: json_answer(
            {"ok": True, "message": "Workflow was started"}
        ),
        ("GET", GOOGLE_APIS, "/calendar/v3/calendars/primary/events"): lambda: calendar_events(
            third, parts.query
        ),
        ("GET", GOOGLE_ACCOUNTS, "/gsi/client"): lambda: text_answer(GSI_CLIENT_JS, js),
        ("GET", GOOGLE_ACCOUNTS, "/gsi/style"): lambda: text_answer(GSI_STYLE_CSS, css),
        ("GET", GOOGLE_ACCOUNTS, "/gsi/button"): lambda: text_answer(GSI_BUTTON_HTML, html),
        ("GET", GOOGLE_ACCOUNTS, "/o/oauth2/v2/auth"): lambda: text_answer(OAUTH_POPUP_HTML, html),
    }
    answer = answers.get((method, here, parts.path))
    return answer() if answer else None


def realtime_reply(message: str) -> str | None:
    """Supabase realtime (Phoenix channels): every join and heartbeat gets an `ok` phx_reply."""
    try:
        frame = json.loads(message)
    except ValueError:
        return None
    if not isinstance(frame, dict) or frame.get("event") not in ("phx_join", "heartbeat"):
        return None
    return json.dumps(
        {
            "topic": frame.get("topic"),
            "event": "phx_reply",
            "payload": {"status": "ok", "response": {}},
            "ref": frame.get("ref"),
        }
    )


# --- installing it on a context ---------------------------------------------------------------

# Runs before any script of every page and frame: reports each CSP violation to the harness.
CSP_LISTENER_JS = """
document.addEventListener('securitypolicyviolation', (event) => {
  window.__harnessCspViolation?.({
    effectiveDirective: event.effectiveDirective,
    violatedDirective: event.violatedDirective,
    blockedURI: event.blockedURI,
    disposition: event.disposition,
    documentURI: event.documentURI,
    sourceFile: event.sourceFile,
    lineNumber: event.lineNumber,
    sample: event.sample,
  })
}, true)
"""


def intercept(context: BrowserContext, app_origin: str, third: ThirdParties) -> Recorder:
    """Answers every request to another origin from the fakes; records what the pages do.

    Same-origin requests (the service under test) go through. Call before opening a page.
    """
    recorder = Recorder(app_origin=app_origin.rstrip("/"))

    def on_request(route: Route) -> None:
        request = route.request
        record = seen(request)
        if record.origin == recorder.app_origin:
            recorder.same_origin.append(record)
            route.fallback()
            return
        recorder.requests.append(record)
        answer = fake_answer(third, request.method, request.url)
        if answer is None:
            recorder.aborted.append(record)
            route.abort("blockedbyclient")
        else:
            route.fulfill(**answer)

    def on_websocket(socket: WebSocketRoute) -> None:
        recorder.websockets.append(socket.url)
        if not socket.url.startswith(third.supabase_origin.replace("https://", "wss://", 1)):
            socket.close(code=1008, reason="not anticipated by the test harness")
            return

        def on_message(message: str | bytes) -> None:
            text = message.decode() if isinstance(message, bytes) else message
            recorder.websocket_messages.append((socket.url, text))
            reply = realtime_reply(text)
            if reply is not None:
                socket.send(reply)

        socket.on_message(on_message)

    def on_violation(_source: Any, violation: dict[str, Any]) -> None:
        recorder.csp_violations.append(violation)

    def on_console(message: ConsoleMessage) -> None:
        page_url = message.page.url if message.page else ""
        recorder.console.append((message.type, message.text, page_url))

    def on_page(page: Page) -> None:
        page.on("pageerror", lambda error: recorder.page_errors.append(f"{page.url}: {error}"))
        recorder.pages.append(page)

    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    context.route("**/*", on_request)
    context.route_web_socket(re.compile(r".*"), on_websocket)
    context.expose_binding("__harnessCspViolation", on_violation)
    context.add_init_script(CSP_LISTENER_JS)
    context.on("console", on_console)
    context.on("page", on_page)
    return recorder


@contextmanager
def app_page(
    browser: Browser, base_url: str, third: ThirdParties | None = None
) -> Iterator[tuple[Page, Recorder]]:
    """A fresh context (no cache, no service worker) on the app, with the fakes installed."""
    context = browser.new_context(base_url=base_url, service_workers="block")
    try:
        recorder = intercept(context, base_url, third or ThirdParties())
        page = context.new_page()
        yield page, recorder
    finally:
        context.close()


def fixture_state(page: Page) -> dict[str, Any]:
    """The fixture SPA's `window.__fixture`, as JSON."""
    state = page.evaluate("() => JSON.parse(JSON.stringify(window.__fixture ?? null))")
    if not isinstance(state, dict):
        raise AssertionError(f"window.__fixture is not set on {page.url}")
    return state


def wait_for_fixture(page: Page, predicate_js: str, timeout_ms: int = WAIT_MS) -> dict[str, Any]:
    """Waits (bounded) until `predicate_js`, a function of the fixture state, is truthy."""
    page.wait_for_function(
        f"() => window.__fixture && ({predicate_js})(window.__fixture)", timeout=timeout_ms
    )
    return fixture_state(page)


def google_sign_in(page: Page) -> tuple[Page, dict[str, Any]]:
    """Clicks the fixture's "Sign in with Google" and waits for the token client's outcome.

    Returns the OAuth popup (its `#outcome` element's `data-outcome` is `sent`, or `no-opener`
    when the app's Cross-Origin-Opener-Policy cut it off) and the fixture's `oauth` state
    (`{"status": "token", ...}`, or `{"status": "error", "error": "popup_closed"}`).
    """
    with page.context.expect_page(timeout=WAIT_MS) as opened:
        page.get_by_test_id("google-sign-in").click()
    popup = opened.value
    state = wait_for_fixture(page, "(f) => !['idle', 'requested'].includes(f.oauth.status)")
    return popup, state["oauth"]


def wait_until(condition: Callable[[], bool], page: Page, timeout_ms: int = WAIT_MS) -> None:
    """Polls a Python-side condition (recorded requests, violations) while the page runs."""
    waited = 0
    while not condition():
        if waited >= timeout_ms:
            raise AssertionError(f"condition not met within {timeout_ms} ms")
        page.wait_for_timeout(50)
        waited += 50
