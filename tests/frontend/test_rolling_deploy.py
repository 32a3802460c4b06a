"""Skew protection across a rolling deploy, measured in Chromium: two releases, one balancer.

During a rolling deploy tasks of release "one" and release "two" serve at once and the load
balancer routes every request on its own, so a page whose HTML came from one release may ask a
task of the other for its entry script or its lazy route's chunk. With the asset archive
(app/asset_archive.py, ASSET_ARCHIVE_BUCKET) a task serves the other release's fingerprinted
files from S3; without it that request is a 404 and the page breaks.

Sources of truth, none of them the code under test:
- Chromium (Debian's, through tests/frontend/browser.py) decides whether a load broke: a page
  error, a 404 for a file under /assets/, or a route that does not render within a bound;
- nginx (Debian's) stands in for the ALB: an `upstream` of the two tasks is nginx's documented
  round robin (https://nginx.org/en/docs/http/ngx_http_upstream_module.html), every request
  routed on its own, no caching, and `proxy_next_upstream off` so a 404 from one task is never
  retried on the other (an ALB does not retry either);
- moto's S3 server on loopback is the bucket (never real AWS), created before the tasks start.

N fresh page loads (a new browser context each: no cache), each followed by a client-side
navigation to the lazy route: with the archive none may break; without it (the control run, the
"before" of the measurement) some must, and the number is printed.
"""

import re
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
from playwright.sync_api import Browser, Page, Response

from tests.app.conftest import free_port, start_service
from tests.frontend.browser import Recorder, app_page
from tests.frontend.nginx import NGINX, nginx, stop_service

LOADS = 10
RENDER_WAIT_SECONDS = 4.0
"""How long a route may take to render once its files have answered (they take milliseconds)."""
REGION = "eu-west-1"

pytestmark = pytest.mark.skipif(
    not NGINX.is_file(), reason=f"{NGINX} is missing: run scripts/install-system-deps"
)


# --- the balancer, the bucket and the two tasks -------------------------------------------------


def balancer_block(port: int, tasks: list[str]) -> str:
    servers = "\n".join(f"        server {urlsplit(task).netloc};" for task in tasks)
    return f"""
    log_format balanced '$upstream_addr $status $uri';
    access_log access.log balanced;
    upstream tasks {{
        # round robin, nginx's default: each request to the next task, whatever came before
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://tasks;
            proxy_next_upstream off;
            proxy_cache off;
            proxy_buffering off;
            proxy_set_header Host $http_host;
        }}
    }}
"""


@pytest.fixture
def aws_env(no_machine_aws, moto_endpoint) -> dict[str, str]:
    """What the tasks get to reach moto with dummy credentials; the tasks inherit an environment
    with nothing of this machine's AWS settings in it (no_machine_aws)."""
    return {
        "AWS_ENDPOINT_URL_S3": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "rolling-deploy-secret-2c8e",
        "AWS_DEFAULT_REGION": REGION,
    }


@pytest.fixture
def bucket(aws_env) -> str:
    s3 = boto3.session.Session(
        aws_access_key_id=aws_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws_env["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    ).client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL_S3"])
    name = f"miko-test-release-assets-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


@dataclass
class Deploy:
    balancer: str
    """The balancer's base URL."""
    tasks: dict[str, str]
    """Release -> the netloc (host:port) of its task."""
    access_log: Path


@contextmanager
def rolling_deploy(
    work: Path, releases: Mapping[str, Path], env: Mapping[str, str]
) -> Iterator[Deploy]:
    """One task per release (`python -m app serve`, each its own process) behind the balancer."""
    with ExitStack() as stack:
        tasks: dict[str, str] = {}
        for release, dist in releases.items():
            folder = work / f"task-{release}"
            folder.mkdir()
            service = start_service(
                folder,
                STATIC_DIR=str(dist),
                APP_ENV="development",
                APP_VERSION=f"release-{release}",
                RATE_LIMIT="10000",
                **env,
            )
            stack.callback(stop_service, service)
            tasks[release] = urlsplit(service.base_url).netloc
        port = free_port()
        block = balancer_block(port, [f"http://{netloc}" for netloc in tasks.values()])
        stack.enter_context(nginx(work / "balancer", block, port))
        yield Deploy(f"http://127.0.0.1:{port}", tasks, work / "balancer" / "access.log")


# --- a page load as a user sees it ------------------------------------------------------------


SETTLE_MS = 200
"""After a failure, for the events of the same cause (the 404, the page error) to arrive."""


def wait_rendered(page: Page, test_id: str, failures: list[str], recorder: Recorder) -> bool:
    """True once `test_id` is on the page; False at the first failure, or at the bound."""
    deadline = time.monotonic() + RENDER_WAIT_SECONDS
    while not (failures or recorder.page_errors):
        if page.get_by_test_id(test_id).count():
            return True
        if time.monotonic() > deadline:
            failures.append(f"{test_id} not rendered within {RENDER_WAIT_SECONDS} s")
            return False
        page.wait_for_timeout(50)
    return False


def page_load(browser: Browser, base_url: str) -> list[str]:
    """A fresh load of / and a navigation to the lazy route: what broke, if anything (a 404 for
    a file under /assets/, a page error, a route not rendered in time)."""
    with app_page(browser, base_url) as (page, recorder):
        failures: list[str] = []

        def on_response(response: Response) -> None:
            path = urlsplit(response.url).path
            if path.startswith("/assets/") and response.status >= 400:
                failures.append(f"{response.status} {path}")

        page.on("response", on_response)
        response = page.goto("/")
        if response is None or response.status != 200:
            return [f"document: {response.status if response else 'no response'}"]
        if wait_rendered(page, "page-home", failures, recorder):
            page.get_by_test_id("nav-consultation").click()
            wait_rendered(page, "page-consultation", failures, recorder)
        if failures or recorder.page_errors:
            page.wait_for_timeout(SETTLE_MS)
        return [*failures, *(f"page error: {error}" for error in recorder.page_errors)]


def release_assets(releases: Mapping[str, Path]) -> dict[str, str]:
    """Path of each fingerprinted file that only one release has -> that release."""
    owners: dict[str, set[str]] = {}
    for release, dist in releases.items():
        for path in (dist / "assets").iterdir():
            owners.setdefault(f"/assets/{path.name}", set()).add(release)
    return {path: next(iter(names)) for path, names in owners.items() if len(names) == 1}


def cross_release_requests(deploy: Deploy, releases: Mapping[str, Path]) -> list[tuple[str, int]]:
    """(path, status) of each request for one release's own file that reached the other's task."""
    owner = release_assets(releases)
    task_release = {netloc: release for release, netloc in deploy.tasks.items()}
    crossed = []
    for line in deploy.access_log.read_text().splitlines():
        upstream, status, path = line.split(" ", 2)
        if path in owner and task_release.get(upstream) not in (None, owner[path]):
            crossed.append((path, int(status)))
    return crossed


def measure(browser: Browser, deploy: Deploy) -> list[str]:
    """What broke in each of LOADS page loads (an empty string for a load that did not)."""
    return ["; ".join(page_load(browser, deploy.balancer)) for _ in range(LOADS)]


def report(label: str, outcomes: list[str], crossed: list[tuple[str, int]]) -> str:
    broken = [outcome for outcome in outcomes if outcome]
    line = (
        f"{label}: {len(broken)} of {len(outcomes)} page loads broken; "
        f"{len(crossed)} requests for a release's own file reached the other release's task "
        f"({sum(1 for _, status in crossed if status == 200)} answered 200)"
    )
    print(line, *(f"  {outcome}" for outcome in broken), sep="\n")
    return line


@pytest.fixture
def releases(fixture_dist, fixture_dist_two) -> dict[str, Path]:
    return {"one": fixture_dist, "two": fixture_dist_two}


def test_with_the_archive_no_page_load_breaks(browser, releases, tmp_path, aws_env, bucket):
    env = {**aws_env, "ASSET_ARCHIVE_BUCKET": bucket}
    with rolling_deploy(tmp_path, releases, env) as deploy:
        outcomes = measure(browser, deploy)
        crossed = cross_release_requests(deploy, releases)
    summary = report("with the asset archive", outcomes, crossed)
    # the deploy was skewed: files of one release were asked of the other's task...
    assert crossed, f"no request crossed releases, the run measured nothing: {summary}"
    # ...and each was answered, from the archive, so no load broke
    assert [status for _, status in crossed] == [200] * len(crossed), summary
    assert [outcome for outcome in outcomes if outcome] == [], summary


def test_without_the_archive_page_loads_break(browser, releases, tmp_path, aws_env):
    """The control run, the "before": same deploy, ASSET_ARCHIVE_BUCKET unset on both tasks."""
    with rolling_deploy(tmp_path, releases, aws_env) as deploy:
        outcomes = measure(browser, deploy)
        crossed = cross_release_requests(deploy, releases)
    summary = report("without the asset archive", outcomes, crossed)
    broken = [outcome for outcome in outcomes if outcome]
    assert len(broken) > 0, f"the control run broke nothing, so it cannot show skew: {summary}"
    # what broke is skew (a file the other release's task lacks), not something else
    assert all(re.search(r"(^|; )404 /assets/", outcome) for outcome in broken), summary
