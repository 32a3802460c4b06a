"""scripts/verify_deploy.py against the real service on loopback, and against a stand-in in front
of it that answers what a broken deploy would: another release, a missing header, a 5xx home page.

The stand-in is a small reverse proxy: every answer comes from the real service, changed in one
way, so each failure test differs from the passing run by exactly the fault it names.
"""

import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.contract import HEALTH_PATH
from app.security_headers import security_headers
from scripts.verify_deploy import ExpectedHeaders, ExpectedRelease, Options, verify
from tests.app.conftest import ServiceProcess, start_service

pytestmark = pytest.mark.network

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE = "123456789012.dkr.ecr.us-west-2.amazonaws.com/miko-staging-app@sha256:" + "ab" * 32
OLD_IMAGE = "123456789012.dkr.ecr.us-west-2.amazonaws.com/miko-staging-app@sha256:" + "cd" * 32
COMMIT = "8c79df7db36a4f60ce5cdf089f2574c85bf5299c"  # pragma: allowlist secret (a git commit id)
HOP_BY_HOP = {"connection", "transfer-encoding", "content-length", "content-encoding", "date"}
TIMEOUT = 1.5
FAST = ("--interval", "0.2", "--timeout", str(TIMEOUT), "--passes", "2")


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[ServiceProcess]:
    """The real service (`python -m app serve`) reporting IMAGE and COMMIT as its release."""
    running = start_service(
        tmp_path_factory.mktemp("service"), RELEASE_IMAGE=IMAGE, RELEASE_COMMIT=COMMIT
    )
    yield running
    running.process.kill()
    running.process.wait(timeout=10)


def stack_release(service: ServiceProcess, **changes: str) -> str:
    """The stack's `release` output as `pulumi stack output release --json` prints it."""
    health = httpx.get(f"{service.base_url}{HEALTH_PATH}").json()["release"]
    return json.dumps({"source": "built here", **health, **changes})


# --- the stand-in: the real service's answers, changed ---------------------------------------


Answer = tuple[int, list[tuple[str, str]], bytes]
Change = Callable[[str, Answer], Answer]


@dataclass
class StandIn:
    url: str
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def stand_in(service: ServiceProcess) -> Iterator[Callable[[Change], StandIn]]:
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(change: Change) -> StandIn:
        record = StandIn("")

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                record.paths.append(self.path)
                upstream = httpx.get(
                    f"{service.base_url}{self.path}", headers={"accept-encoding": "identity"}
                )
                headers = [
                    (name, value)
                    for name, value in upstream.headers.multi_items()
                    if name.lower() not in HOP_BY_HOP
                ]
                status, headers, body = change(
                    self.path, (upstream.status_code, headers, upstream.content)
                )
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        record.url = f"http://127.0.0.1:{server.server_address[1]}"
        return record

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def without_header(name: str) -> Change:
    def change(path: str, answer: Answer) -> Answer:
        status, headers, body = answer
        return status, [(n, v) for n, v in headers if n.lower() != name.lower()], body

    return change


def home_status(status: int) -> Change:
    def change(path: str, answer: Answer) -> Answer:
        if path != "/":
            return answer
        return status, answer[1], b"<html><body>upstream connect error</body></html>"

    return change


def old_release_first(count: int) -> Change:
    """The first `count` /health answers come from a task of the previous release (a rollout)."""
    seen = [0]

    def change(path: str, answer: Answer) -> Answer:
        status, headers, body = answer
        if path != HEALTH_PATH:
            return answer
        seen[0] += 1
        if seen[0] > count:
            return answer
        document = json.loads(body)
        document["release"]["image"] = OLD_IMAGE
        return status, headers, json.dumps(document).encode()

    return change


# --- running it as the workflow does ---------------------------------------------------------


@dataclass
class Run:
    code: int
    result: dict[str, Any]
    stderr: str
    seconds: float


def verify_deploy(*arguments: str) -> Run:
    started = time.monotonic()
    finished = subprocess.run(
        [sys.executable, "-m", "scripts.verify_deploy", *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = finished.stdout.splitlines()
    result = json.loads(lines[0]) if lines else {}
    if lines:
        assert len(lines) == 1, finished.stdout
    return Run(finished.returncode, result, finished.stderr, time.monotonic() - started)


def test_it_passes_against_the_service_with_the_release_just_deployed(service):
    run = verify_deploy("--url", service.base_url, "--release", stack_release(service), *FAST)

    assert run.code == 0, run
    assert run.result["ok"] is True
    assert run.result["consecutive_passes"] == 2
    assert run.result["checks"]["health"]["release"]["image"] == IMAGE
    assert run.result["checks"]["home"]["assets"] >= 2  # the runtime config and the SPA entry
    assert {check["ok"] for check in run.result["checks"].values()} == {True}


@pytest.mark.parametrize("release", [IMAGE, COMMIT, COMMIT[:12]])
def test_one_image_reference_or_commit_is_enough(service, release):
    run = verify_deploy("--url", service.base_url, "--release", release, "--stack", "prod", *FAST)

    assert run.code == 0, run


def test_it_fails_on_another_release_within_its_time_bound(service):
    run = verify_deploy(
        "--url", service.base_url, "--release", stack_release(service, image=OLD_IMAGE), *FAST
    )

    assert run.code == 1
    assert run.result["ok"] is False
    (problem,) = run.result["checks"]["health"]["problems"]
    assert "release image" in problem
    assert OLD_IMAGE in problem
    assert run.result["attempts"] > 1
    assert run.seconds < TIMEOUT + 10  # the timeout, plus start-up and one attempt
    assert "attempt 1: health: release image" in run.stderr


def test_it_fails_on_a_commit_that_is_not_the_one_deployed(service):
    run = verify_deploy("--url", service.base_url, "--release", "0" * 40, *FAST)

    assert run.code == 1
    assert "expected '0000000" in run.result["checks"]["health"]["problems"][0]


@pytest.mark.parametrize(
    "header", ["X-Frame-Options", "Strict-Transport-Security", "Content-Security-Policy"]
)
def test_it_fails_on_a_missing_security_header(service, stand_in, header):
    site = stand_in(without_header(header))

    run = verify_deploy("--url", site.url, "--release", stack_release(service), *FAST)

    assert run.code == 1
    assert run.result["checks"]["headers"]["problems"] == [f"header {header} missing"]
    assert run.result["checks"]["health"]["ok"] is True


def test_it_fails_on_a_weakened_header(stand_in):
    def weaken(path: str, answer: Answer) -> Answer:
        status, headers, body = answer
        return (
            status,
            [(n, "SAMEORIGIN" if n.lower() == "x-frame-options" else v) for n, v in headers],
            body,
        )

    run = verify_deploy("--url", stand_in(weaken).url, *FAST)

    assert run.code == 1
    assert (
        "header X-Frame-Options is 'SAMEORIGIN'" in run.result["checks"]["headers"]["problems"][0]
    )


def test_it_fails_on_a_csp_in_report_only_mode_where_enforce_is_expected(stand_in):
    def report_only(path: str, answer: Answer) -> Answer:
        status, headers, body = answer
        renamed = [
            (
                "Content-Security-Policy-Report-Only"
                if n.lower() == "content-security-policy"
                else n,
                v,
            )
            for n, v in headers
        ]
        return status, renamed, body

    run = verify_deploy("--url", stand_in(report_only).url, "--csp-mode", "enforce", *FAST)

    assert run.code == 1
    assert run.result["checks"]["headers"]["problems"] == ["header Content-Security-Policy missing"]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_it_fails_on_a_5xx_home_page(service, stand_in, status):
    run = verify_deploy(
        "--url", stand_in(home_status(status)).url, "--release", stack_release(service), *FAST
    )

    assert run.code == 1
    assert run.result["checks"]["home"]["problems"] == [f"/ answered {status}"]
    assert run.result["checks"]["health"]["ok"] is True


def test_it_fails_on_a_missing_asset(stand_in):
    def lose_assets(path: str, answer: Answer) -> Answer:
        return (404, answer[1], b"") if path.startswith("/assets/") else answer

    run = verify_deploy("--url", stand_in(lose_assets).url, *FAST)

    assert run.code == 1
    assert any(
        "/assets/" in found and "404" in found for found in run.result["checks"]["home"]["problems"]
    )


def test_it_waits_out_a_rolling_deploy(service, stand_in):
    site = stand_in(old_release_first(3))

    run = verify_deploy(
        "--url", site.url, "--release", stack_release(service), *FAST, "--timeout", "30"
    )

    assert run.code == 0, run
    assert run.result["attempts"] == 5  # three answers of the old release, then two passes
    assert run.stderr.count("release image is") == 3


def test_arguments_it_cannot_use_exit_2(service):
    assert verify_deploy("--url", "ftp://example.com").code == 2
    assert verify_deploy("--url", service.base_url, "--release", "{not json").code == 2
    assert verify_deploy("--url", service.base_url, "--release", '{"source": "x"}').code == 2
    assert verify_deploy("--url", service.base_url, "--stack", "no-such-stack").code == 2
    assert verify_deploy("--url", service.base_url, "--passes", "0").code == 2
    assert verify_deploy().code == 2


def test_the_deadline_bounds_an_unreachable_site():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    options = Options(
        url="http://127.0.0.1:9/",
        release=ExpectedRelease.parse(IMAGE),
        headers=ExpectedHeaders.for_mode("enforce"),
        timeout=30,
        interval=10,
        passes=1,
    )

    result = verify(options, clock=lambda: now[0], sleep=sleep, log=lambda _: None)

    assert result["ok"] is False
    assert result["attempts"] == 4  # at 0, 10, 20 and 30 s: no sleep past the deadline
    assert slept == [10, 10, 10]
    assert result["checks"]["health"]["problems"] == ["/health: ConnectError"]


# --- the expected headers come from app/security_headers.py alone -----------------------------


@pytest.mark.parametrize("mode", ["enforce", "report-only"])
def test_every_header_the_app_sends_is_checked(mode):
    expected = ExpectedHeaders.for_mode(mode)

    assert {*expected.exact, expected.csp_name} == set(security_headers([], mode))
    assert expected.csp_present == ("connect-src",)
    assert "frame-ancestors" in expected.csp_directives


def test_the_stack_release_output_is_compared_field_by_field():
    release = ExpectedRelease.parse(
        json.dumps({"source": "pinned (imageRef)", "version": "2.0.0", "image": IMAGE})
    )
    assert release is not None

    assert release.problems({"version": "2.0.0", "image": IMAGE, "commit": None}) == []
    assert release.problems({"version": "1.9.0", "image": IMAGE}) == [
        "release version is '1.9.0', expected '2.0.0'"
    ]


# --- the synthetic journey's hook: the same environment as the stack's canary -----------------


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_journey_environment_is_the_one_the_stacks_canary_gets(stack):
    from tests.components.conftest import render  # noqa: PLC0415 - renders only here

    rendering = render(stack)
    canaries = rendering.of_type("aws:synthetics/canary:Canary")
    if not canaries:
        pytest.skip(f"{stack} renders no canary")
    site_url = rendering.exports["site_url"]

    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.verify_deploy",
            "--journey-env",
            "--stack",
            stack,
            "--url",
            site_url,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    printed = dict(line.split("=", 1) for line in finished.stdout.splitlines())
    (canary,) = canaries
    assert printed == canary.inputs["runConfig"]["environmentVariables"]


def test_the_journey_environment_needs_a_stack():
    run = verify_deploy("--journey-env", "--url", "https://staging.example.com")

    assert run.code == 2
    assert "--journey-env needs --stack" in run.stderr
