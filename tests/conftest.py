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


MACHINE_AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)
"""What could point boto3 at this machine's real AWS account."""


@pytest.fixture
def no_machine_aws(monkeypatch: pytest.MonkeyPatch, tmp_path) -> pytest.MonkeyPatch:
    """No AWS settings, profiles or instance metadata of this machine reach a test (or a child
    process started from it): boto3 finds moto, or nothing."""
    for name in MACHINE_AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    return monkeypatch
