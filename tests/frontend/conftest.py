"""Fixtures of the front-end tests: the fixture SPA built once per release, one Chromium per
session, and the real service serving a build."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.app.conftest import ServiceProcess, start_service
from tests.frontend.browser import chromium
from tests.frontend.build import build_fixture


@pytest.fixture(scope="session")
def fixture_dist() -> Path:
    """The fixture SPA, release "one", built with scripts/build-frontend (cached)."""
    return build_fixture("one")


@pytest.fixture(scope="session")
def fixture_dist_two() -> Path:
    """The same app as release "two": its lazy route's chunk has another name."""
    return build_fixture("two")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def fixture_service(fixture_dist, tmp_path_factory) -> Iterator[ServiceProcess]:
    """`python -m app serve` in development, serving release "one" of the fixture."""
    service = start_service(
        tmp_path_factory.mktemp("service"), STATIC_DIR=str(fixture_dist), APP_ENV="development"
    )
    yield service
    service.process.terminate()
    try:
        service.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        service.process.kill()
        service.process.wait(timeout=10)
