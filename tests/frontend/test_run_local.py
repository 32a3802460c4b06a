"""`make run FRONTEND=... STACK=...` (scripts/run_local.py): the SPA built as the image builds it,
served locally under the stack's headers, with the routed values from the developer's shell."""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.contract import RUNTIME_CONFIG_PATH
from app.security_headers import security_headers
from scripts.run_local import stack_frontend
from tests.app.conftest import REPO_ROOT, child_environment, free_port

SUPABASE = "https://localdev.supabase.co"


@pytest.fixture
def local_run(fixture_dist: Path) -> Iterator[str]:
    port = free_port()
    environment = child_environment(PORT=str(port), SUPABASE_URL=SUPABASE, SUPABASE_ANON_KEY="anon")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scripts.run_local",
            "--stack",
            "prod",
            "--frontend",
            str(fixture_dist),
        ],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                httpx.get(f"{base_url}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_the_spa_is_served_under_the_stack_s_headers_with_local_values(local_run):
    page = httpx.get(f"{local_run}/consultation", timeout=5)
    prod = stack_frontend("prod")

    assert page.status_code == 200
    assert f'<script src="{RUNTIME_CONFIG_PATH}"></script>'.encode() in page.content
    # The headers prod's stack config gives the same values: the same function, the same inputs
    # the edge rule and the deployed app use (its CSP mode, its routes, its plain values).
    expected = security_headers([SUPABASE, "anon", *prod.browser_values.values()], prod.csp_mode)
    for name, value in expected.items():
        assert page.headers[name] == value, name
    config_script = httpx.get(f"{local_run}{RUNTIME_CONFIG_PATH}", timeout=5).text
    document = json.loads(config_script.split("Object.freeze(", 1)[1].rsplit(");", 1)[0])
    assert document["VITE_SUPABASE_URL"] == SUPABASE
    assert document["VITE_ENABLE_ANALYTICS"] == prod.browser_values["VITE_ENABLE_ANALYTICS"]


def test_a_directory_that_is_no_spa_is_refused_naming_it(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "scripts.run_local", "--frontend", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert str(tmp_path) in result.stderr
