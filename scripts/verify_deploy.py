"""`python -m scripts.verify_deploy --url https://... [--release EXPECTED]`: does the public URL
serve what was just deployed?

Run by the deploy workflow after `pulumi up` (.github/workflows/pulumi-up.yml), and by hand
(docs/runbooks/deploy-and-rollback.md). Each attempt makes three checks through the public URL:

- **health**: `/health` answers 200 `healthy` with the expected release. `--release` is either
  the stack's `release` output as JSON (`pulumi stack output release --json`: each of `image`,
  `commit`, `version`, `frontend` it holds must equal what the task reports), or one image
  reference or commit (the task's `release.image` or `release.commit` must be it);
- **headers**: the home page carries every security header of `app/security_headers.py` (the one
  source the app and the Cloudflare rule use). Headers whose value does not depend on the
  stack's browser values must have exactly that value; the CSP must have every directive that
  does not depend on them, as the function builds it (its `connect-src` only needs to exist);
- **home**: `/` answers 200 with the SPA's HTML (the runtime-config tag the service inserts and a
  module script), and every same-origin script and stylesheet it names answers 200.

A rolling deploy (ECS keeps old tasks until new ones are healthy, and `pulumi up` does not wait
for it) means early answers may come from the old release, so attempts repeat every `--interval`
seconds until `--passes` consecutive attempts pass or `--timeout` seconds have gone by (no
attempt starts after the deadline; each request may take up to 10 s).

Output: one JSON line on standard output (the last attempt's results); a short line on standard
error per failed attempt. Exit status: 0 passed, 1 still failing at the deadline, 2 bad arguments.
Nothing secret is read or printed: /health and the headers carry none, and bodies are never
printed.
"""

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from app.contract import CSP_MODES, HEALTH_PATH, RUNTIME_CONFIG_PATH
from app.security_headers import csp_header_name, security_headers

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
RELEASE_FIELDS = ("image", "commit", "version", "frontend")
"""The fields of the stack's `release` output that /health reports too (not `source`)."""
MIN_COMMIT_PREFIX = 7
REQUEST_TIMEOUT_SECONDS = 10.0
MAX_ASSETS = 20
RUNTIME_CONFIG_TAG = f'<script src="{RUNTIME_CONFIG_PATH}"></script>'
# Two sets of browser values the header function is probed with: what differs between them
# depends on the stack's configuration; everything else must be exactly as built.
PROBE_VALUES: tuple[tuple[str, ...], tuple[str, ...]] = (
    (),
    ("https://probe.supabase.co", "https://probe.example.com/hook"),
)
USER_AGENT = "miko-verify-deploy/1"


# --- what is expected ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedRelease:
    """What /health's `release` must say: the fields given, or one image reference or commit."""

    fields: Mapping[str, str] = field(default_factory=dict)
    either: str | None = None

    @classmethod
    def parse(cls, value: str | None) -> "ExpectedRelease | None":
        """None: no release check; JSON object: its release fields; else an image or commit."""
        if value is None:
            return None
        value = value.strip()
        if not value:
            raise ValueError("--release is empty")
        if value.startswith("{"):
            document = json.loads(value)
            if not isinstance(document, dict):
                raise ValueError("--release JSON must be an object")
            fields = {
                name: str(document[name])
                for name in RELEASE_FIELDS
                if document.get(name) not in (None, "")
            }
            if not fields:
                raise ValueError(f"--release JSON names none of {', '.join(RELEASE_FIELDS)}")
            return cls(fields=fields)
        return cls(either=value)

    def problems(self, reported: Mapping[str, Any]) -> list[str]:
        if self.either is not None:
            image, commit = reported.get("image"), reported.get("commit")
            if self.either == image or _same_commit(self.either, commit):
                return []
            return [f"release is image {image!r}, commit {commit!r}; expected {self.either!r}"]
        return [
            f"release {name} is {reported.get(name)!r}, expected {wanted!r}"
            for name, wanted in self.fields.items()
            if not (
                _same_commit(wanted, reported.get(name))
                if name == "commit"
                else reported.get(name) == wanted
            )
        ]

    def to_json(self) -> dict[str, Any]:
        return dict(self.fields) if self.either is None else {"image_or_commit": self.either}


def _same_commit(wanted: str, reported: object) -> bool:
    """Equal, or one is a prefix (of at least 7 hex digits) of the other."""
    if not isinstance(reported, str) or not reported:
        return False
    shorter, longer = sorted((wanted.lower(), reported.lower()), key=len)
    return len(shorter) >= MIN_COMMIT_PREFIX and longer.startswith(shorter)


@dataclass(frozen=True)
class ExpectedHeaders:
    """The security headers a response must carry, from app/security_headers.py."""

    exact: Mapping[str, str]
    """Header name -> value, for the headers whose value is the same for every stack."""
    csp_name: str
    csp_directives: Mapping[str, str]
    """CSP directive -> its full text, for the directives the browser values do not change."""
    csp_present: tuple[str, ...]
    """CSP directives that must exist, whatever their sources (connect-src)."""

    @classmethod
    def for_mode(cls, csp_mode: str) -> "ExpectedHeaders":
        first, second = (security_headers(values, csp_mode) for values in PROBE_VALUES)
        csp_name = csp_header_name(csp_mode)
        exact = {
            name: value
            for name, value in first.items()
            if name != csp_name and second.get(name) == value
        }
        first_csp, second_csp = _directives(first[csp_name]), _directives(second[csp_name])
        fixed = {name: text for name, text in first_csp.items() if second_csp.get(name) == text}
        varying = tuple(name for name in first_csp if name not in fixed)
        return cls(exact, csp_name, fixed, varying)

    def problems(self, headers: httpx.Headers) -> list[str]:
        found: list[str] = []
        for name, value in self.exact.items():
            if name not in headers:
                found.append(f"header {name} missing")
            elif headers[name] != value:
                found.append(f"header {name} is {headers[name]!r}, expected {value!r}")
        if self.csp_name not in headers:
            return [*found, f"header {self.csp_name} missing"]
        directives = _directives(headers[self.csp_name])
        for name, text in self.csp_directives.items():
            if directives.get(name) != text:
                found.append(f"{self.csp_name}: directive {text!r} missing or different")
        found += [
            f"{self.csp_name}: directive {name} missing"
            for name in self.csp_present
            if name not in directives
        ]
        return found


def _directives(policy: str) -> dict[str, str]:
    """CSP directive name -> the directive's normalised text (name and sources)."""
    parsed: dict[str, str] = {}
    for directive in policy.split(";"):
        tokens = directive.split()
        if tokens:
            parsed.setdefault(tokens[0].lower(), " ".join(tokens))
    return parsed


# --- the checks ------------------------------------------------------------------------------


@dataclass
class Check:
    ok: bool
    problems: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, **self.details}


def _failed(problem: str) -> Check:
    return Check(False, [problem])


class _PageAssets(HTMLParser):
    """The scripts and stylesheets a page loads, and whether one script is a module."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.module_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name.lower(): value or "" for name, value in attrs}
        if tag == "script" and attributes.get("src"):
            self.assets.append(attributes["src"])
            self.module_script |= attributes.get("type", "").lower() == "module"
        elif (
            tag == "link"
            and "stylesheet" in attributes.get("rel", "").lower().split()
            and attributes.get("href")
        ):
            self.assets.append(attributes["href"])


def check_health(client: httpx.Client, base_url: str, expected: ExpectedRelease | None) -> Check:
    try:
        response = client.get(urljoin(base_url, HEALTH_PATH))
    except httpx.HTTPError as error:
        return _failed(f"{HEALTH_PATH}: {type(error).__name__}")
    if response.status_code != 200:
        return _failed(f"{HEALTH_PATH} answered {response.status_code}")
    try:
        document = response.json()
    except ValueError:
        content_type = response.headers.get("content-type")
        return _failed(f"{HEALTH_PATH} is not JSON ({content_type})")
    if not isinstance(document, dict):
        return _failed(f"{HEALTH_PATH} is not a JSON object")
    found = document.get("release")
    reported: dict[str, Any] = found if isinstance(found, dict) else {}
    problems = [] if document.get("status") == "healthy" else [f"status {document.get('status')!r}"]
    if expected is not None:
        problems += expected.problems(reported)
    release = {name: reported.get(name) for name in RELEASE_FIELDS}
    return Check(not problems, problems, {"release": release})


def check_home(client: httpx.Client, base_url: str) -> tuple[Check, httpx.Headers | None]:
    """The home page and its same-origin assets; also returns the page's headers."""
    home = urljoin(base_url, "/")
    try:
        response = client.get(home)
    except httpx.HTTPError as error:
        return _failed(f"/: {type(error).__name__}"), None
    if response.status_code != 200:
        return _failed(f"/ answered {response.status_code}"), response.headers
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("text/html"):
        return _failed(f"/ is {content_type or 'untyped'}, not text/html"), response.headers
    html = response.text
    problems: list[str] = []
    if "<html" not in html.lower():
        problems.append("/ has no <html> element")
    if RUNTIME_CONFIG_TAG not in html:
        problems.append(f"/ does not load {RUNTIME_CONFIG_PATH} (not the platform's SPA page)")
    page = _PageAssets()
    page.feed(html)
    if not page.module_script:
        problems.append("/ has no module script (no SPA entry point)")
    origin = urlsplit(home).netloc
    same_origin = [
        urljoin(home, src)
        for src in dict.fromkeys(page.assets)
        if urlsplit(urljoin(home, src)).netloc == origin
    ][:MAX_ASSETS]
    for asset in same_origin:
        try:
            answer = client.get(asset)
        except httpx.HTTPError as error:
            problems.append(f"{urlsplit(asset).path}: {type(error).__name__}")
            continue
        if answer.status_code != 200 or not answer.content:
            problems.append(f"{urlsplit(asset).path} answered {answer.status_code}")
    details = {"assets": len(same_origin)}
    return Check(not problems, problems, details), response.headers


def check_headers(headers: httpx.Headers | None, expected: ExpectedHeaders) -> Check:
    if headers is None:
        return _failed("no response to read headers from")
    problems = expected.problems(headers)
    return Check(not problems, problems, {"csp_header": expected.csp_name})


def attempt(
    client: httpx.Client,
    base_url: str,
    release: ExpectedRelease | None,
    headers: ExpectedHeaders,
) -> dict[str, Check]:
    """One round of the three checks."""
    health = check_health(client, base_url, release)
    home, home_headers = check_home(client, base_url)
    return {"health": health, "headers": check_headers(home_headers, headers), "home": home}


# --- the loop --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    url: str
    release: ExpectedRelease | None
    headers: ExpectedHeaders
    timeout: float
    interval: float
    passes: int


def verify(
    options: Options,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> dict[str, Any]:
    """Attempts until `passes` consecutive ones pass or the deadline; the results document."""
    started = clock()
    deadline = started + options.timeout
    attempts = consecutive = 0
    checks: dict[str, Check] = {}
    with httpx.Client(
        timeout=REQUEST_TIMEOUT_SECONDS,
        follow_redirects=False,
        headers={"user-agent": USER_AGENT, "cache-control": "no-cache"},
    ) as client:
        while True:
            attempts += 1
            checks = attempt(client, options.url, options.release, options.headers)
            failed = {name: check.problems for name, check in checks.items() if not check.ok}
            consecutive = 0 if failed else consecutive + 1
            if consecutive >= options.passes:
                break
            if failed:
                summary = "; ".join(f"{name}: {', '.join(found)}" for name, found in failed.items())
                log(f"attempt {attempts}: {summary}")
            if clock() + options.interval > deadline:
                break
            sleep(options.interval)
    return {
        "ok": consecutive >= options.passes,
        "url": options.url,
        "expected_release": None if options.release is None else options.release.to_json(),
        "attempts": attempts,
        "consecutive_passes": consecutive,
        "elapsed_seconds": round(clock() - started, 1),
        "checks": {name: check.to_json() for name, check in checks.items()},
    }


def _stack_flat_config(stack: str) -> dict[str, str]:
    """The committed stack's config over Pulumi.yaml's defaults, as the program reads it (no
    secret is read: the stack files hold none in plaintext)."""
    # The program's modules (pydantic models, the components) load only when a stack is named.
    from plan.render import PROJECT, stack_config  # noqa: PLC0415

    values, _ = stack_config(stack)
    return {key.removeprefix(f"{PROJECT}:"): value for key, value in values.items()}


def _stack_csp_mode(stack: str) -> str:
    """The stack's `cspMode`."""
    from config.sections import FrontendSettings  # noqa: PLC0415

    return FrontendSettings.model_validate(_stack_flat_config(stack)).csp_mode


def journey_environment(stack: str, url: str) -> dict[str, str]:
    """The synthetic journey's environment (canary/run-local.js) for the committed stack's
    canary settings and `url`: what the stack's CloudWatch Synthetics canary is given."""
    from components.synthetics_canary import (  # noqa: PLC0415
        journey_environment as environment_of,
    )
    from components.synthetics_canary import required_security_headers  # noqa: PLC0415
    from config.sections import CanarySettings  # noqa: PLC0415

    settings = CanarySettings.model_validate(_stack_flat_config(stack))
    return environment_of(settings, url, required_security_headers(_stack_csp_mode(stack)))


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="verify-deploy", description=__doc__.split("\n\n", 1)[0] if __doc__ else None
    )
    parser.add_argument("--url", required=True, help="the site's public base URL (https://...)")
    parser.add_argument(
        "--release",
        help="the stack's `release` output as JSON, or one image reference or commit; "
        "omitted: any release",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--csp-mode", choices=CSP_MODES, help="default: enforce")
    mode.add_argument("--stack", help="read the CSP mode from Pulumi.<stack>.yaml")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument(
        "--passes", type=int, default=3, help="consecutive passing attempts needed (default 3)"
    )
    parser.add_argument(
        "--journey-env",
        action="store_true",
        help="check nothing: print the synthetic journey's environment for --stack and --url "
        "(KEY=VALUE lines, for canary/run-local.js)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    url = arguments.url.rstrip("/") + "/"
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        print(f"verify-deploy: --url must be an absolute http(s) URL: {url!r}", file=sys.stderr)
        return EXIT_USAGE
    if arguments.passes < 1 or arguments.timeout <= 0 or arguments.interval < 0:
        print("verify-deploy: --passes >= 1, --timeout > 0, --interval >= 0", file=sys.stderr)
        return EXIT_USAGE
    if arguments.journey_env:
        return _print_journey_environment(arguments.stack, url)
    try:
        release = ExpectedRelease.parse(arguments.release)
        csp_mode = _stack_csp_mode(arguments.stack) if arguments.stack else arguments.csp_mode
        headers = ExpectedHeaders.for_mode(csp_mode or "enforce")
    except (ValueError, OSError) as error:
        print(f"verify-deploy: {error}", file=sys.stderr)
        return EXIT_USAGE
    options = Options(
        url, release, headers, arguments.timeout, arguments.interval, arguments.passes
    )
    result = verify(options)
    print(json.dumps(result, sort_keys=True), flush=True)
    return EXIT_PASSED if result["ok"] else EXIT_FAILED


def _print_journey_environment(stack: str | None, url: str) -> int:
    if not stack:
        print("verify-deploy: --journey-env needs --stack", file=sys.stderr)
        return EXIT_USAGE
    try:
        environment = journey_environment(stack, url)
    except (ValueError, OSError) as error:
        print(f"verify-deploy: {error}", file=sys.stderr)
        return EXIT_USAGE
    for name, value in environment.items():
        if "\n" in value or "=" in name:
            print(f"verify-deploy: {name} cannot be written as one KEY=VALUE line", file=sys.stderr)
            return EXIT_USAGE
        print(f"{name}={value}")
    return EXIT_PASSED


if __name__ == "__main__":
    sys.exit(main())
