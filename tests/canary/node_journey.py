"""Runs canary/journey.js with Node, as the canary runs it, against a local server.

`npm ci` installs canary/package.json's playwright-core from the committed lockfile once per
lockfile, into tests/canary/.cache/<hash of package.json and lockfile>/node_modules; the journey
then runs with `node canary/run-local.js`, driving Debian's Chromium with the flags the browser
tests use (tests/frontend/browser.py). Every run is bounded in time.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.frontend.browser import CHROMIUM, CHROMIUM_ARGS

REPO_ROOT = Path(__file__).resolve().parents[2]
CANARY_DIR = REPO_ROOT / "canary"
RUNNER = CANARY_DIR / "run-local.js"
CACHE_DIR = Path(__file__).resolve().parent / ".cache"
LOCK_FILES = ("package.json", "package-lock.json")
INSTALL_TIMEOUT_SECONDS = 300
RUN_TIMEOUT_SECONDS = 90


def node_modules() -> Path:
    """canary/'s dependencies, installed by `npm ci` from the lockfile (cached per lockfile)."""
    digest = hashlib.sha256()
    for name in LOCK_FILES:
        digest.update((CANARY_DIR / name).read_bytes() + b"\0")
    cached = CACHE_DIR / digest.hexdigest()[:16]
    if (cached / "complete").is_file():
        return cached / "node_modules"
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="installing-", dir=CACHE_DIR))
    try:
        for name in LOCK_FILES:
            shutil.copy2(CANARY_DIR / name, scratch / name)
        result = subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=scratch,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"npm ci failed ({result.returncode}):\n{result.stderr[-4000:]}")
        (scratch / "complete").write_text("npm ci\n")
        shutil.rmtree(cached, ignore_errors=True)
        scratch.rename(cached)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return cached / "node_modules"


@dataclass(frozen=True)
class JourneyRun:
    returncode: int
    report: dict[str, Any]
    """The runner's JSON line: {"ok": true, "pages": [...]} or {"ok": false, "error": "..."}."""
    stderr: str

    @property
    def passed(self) -> bool:
        return self.returncode == 0 and self.report.get("ok") is True

    @property
    def error(self) -> str:
        return str(self.report.get("error", ""))


def run_journey(environment: Mapping[str, str]) -> JourneyRun:
    """`node canary/run-local.js` with the canary's environment (JOURNEY_*)."""
    if not CHROMIUM.is_file():
        raise RuntimeError(f"{CHROMIUM} is missing: run scripts/install-system-deps")
    inherited = {
        name: value for name, value in os.environ.items() if not name.startswith("JOURNEY_")
    }
    env = {
        **inherited,
        "NODE_PATH": str(node_modules()),
        "CHROMIUM_PATH": str(CHROMIUM),
        "CHROMIUM_ARGS": json.dumps(list(CHROMIUM_ARGS)),
        **environment,
    }
    result = subprocess.run(
        ["node", str(RUNNER)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise AssertionError(
            f"the runner printed no report ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return JourneyRun(result.returncode, json.loads(lines[-1]), result.stderr)


# What the Synthetics runtime provides to index.js, reduced to the calls it makes: a browser
# (here playwright-core on the local Chromium), a page, steps that run their function, close.
SYNTHETICS_STUB_JS = """
const { chromium } = require('playwright-core')
const steps = []
let browser = null
exports.steps = steps
exports.synthetics = {
  async launch() {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH,
      args: JSON.parse(process.env.CHROMIUM_ARGS),
      headless: true,
      timeout: 30000,
    })
    return browser
  },
  async newPage(launched) {
    return launched.newPage()
  },
  async executeStep(name, action) {
    steps.push(name)
    return action()
  },
  async close() {
    if (browser) await browser.close()
    steps.push('closed')
  },
}
"""

HANDLER_JS = """
const stub = require('@aws/synthetics-playwright')
require(process.argv[1]).handler().then(
  (pages) => console.log(JSON.stringify({ ok: true, pages, steps: stub.steps })),
  (error) => console.log(JSON.stringify({ ok: false, error: error.message, steps: stub.steps })),
)
"""


def run_handler(environment: Mapping[str, str], stub_dir: Path) -> JourneyRun:
    """canary/index.js's `handler()`, as Synthetics calls it, on a stand-in of its runtime."""
    package = stub_dir / "node_modules" / "@aws" / "synthetics-playwright"
    package.mkdir(parents=True, exist_ok=True)
    (package / "index.js").write_text(SYNTHETICS_STUB_JS)
    inherited = {
        name: value for name, value in os.environ.items() if not name.startswith("JOURNEY_")
    }
    env = {
        **inherited,
        "NODE_PATH": os.pathsep.join([str(stub_dir / "node_modules"), str(node_modules())]),
        "CHROMIUM_PATH": str(CHROMIUM),
        "CHROMIUM_ARGS": json.dumps(list(CHROMIUM_ARGS)),
        **environment,
    }
    result = subprocess.run(
        ["node", "-e", HANDLER_JS, str(CANARY_DIR / "index.js")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise AssertionError(f"no report ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return JourneyRun(result.returncode, json.loads(lines[-1]), result.stderr)
