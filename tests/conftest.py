"""Fixtures shared by every test folder. Folder-specific fixtures live in that folder's conftest."""

import logging
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

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


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's AWS stand-in as a real HTTP server on 127.0.0.1 (boto3 reaches it through
    AWS_ENDPOINT_URL_S3 or an explicit endpoint): the S3 behaviour tests rely on is moto's."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
