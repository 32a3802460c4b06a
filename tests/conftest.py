"""Fixtures shared by every test folder. Folder-specific fixtures live in that folder's conftest."""

from collections.abc import Iterator

import pytest

from plan.render import ensure_event_loop
from tests.pg_cluster import ClusterUnavailable, PgCluster


@pytest.fixture(autouse=True)
def event_loop_for_pulumi() -> None:
    """`@pulumi.runtime.test` runs on the current event loop, which an earlier test's
    `asyncio.run()` may have removed."""
    ensure_event_loop()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A throwaway PostgreSQL server on 127.0.0.1. Missing binaries fail the run: CI installs
    them (scripts/install-system-deps), so a skip would only hide an untested path."""
    try:
        cluster = PgCluster().start()
    except ClusterUnavailable as unavailable:
        pytest.fail(str(unavailable), pytrace=False)
    yield cluster
    cluster.stop()
