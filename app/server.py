"""`python -m app serve`: validates the settings, then runs uvicorn (uvloop + httptools).

The HTTP protocol is uvicorn's httptools one, bounded (app.http_server.protocol): head size, head
and body timeouts, a per-worker connection cap from the file descriptor limit (raised here to
its hard limit first), and the server's own error answers with the app's headers, request id
and access line. No WebSocket upgrades (the service has no such endpoint).

Graceful shutdown: on SIGTERM uvicorn stops accepting, lets in-flight requests finish for up to
SHUTDOWN_GRACE_SECONDS and runs the lifespan shutdown; the process then exits 0. Responses sent
while draining carry `Connection: close`, and a request arriving on an idle keep-alive
connection during the grace period is answered rather than reset. With WEB_CONCURRENCY > 1 the
supervisor forwards SIGTERM to every worker, each shuts down the same way, and the metrics of
all workers are merged through a prometheus multiprocess directory.
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

import uvicorn
from pydantic import ValidationError

from app.http_server.limits import BACKLOG, raise_descriptor_limit
from app.logging_setup import logging_config
from app.metrics import MULTIPROC_ENV
from app.settings import Settings, describe_error, get_settings

APP_FACTORY = "app.asgi:create_app"
HTTP_PROTOCOL = "app.http_server.protocol:HardenedHttpToolsProtocol"


def exit_cleanly(signum: int, frame: FrameType | None) -> None:
    """After its graceful shutdown uvicorn re-raises the signal it caught; end with status 0."""
    raise SystemExit(0)


def prepare_multiprocess_dir() -> Path | None:
    """An empty directory for prometheus_client, named in the environment the workers inherit.

    Returns the directory when this process created it (and must remove it on exit).
    """
    existing = os.environ.get(MULTIPROC_ENV)
    if existing:
        for stale in Path(existing).glob("*.db"):
            stale.unlink()
        return None
    created = Path(tempfile.mkdtemp(prefix="miko-prometheus-"))
    os.environ[MULTIPROC_ENV] = str(created)
    return created


def run(settings: Settings, http_protocol: str = HTTP_PROTOCOL) -> None:
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.web_concurrency,
        loop="uvloop",
        http=http_protocol,
        ws="none",
        backlog=BACKLOG,
        lifespan="on",
        log_config=logging_config(settings.log_level),
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=settings.keepalive_timeout_seconds,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


def main(argv: list[str], http_protocol: str = HTTP_PROTOCOL) -> int:
    """`http_protocol` is for the HTTP benchmark only, which also measures uvicorn's own."""
    argparse.ArgumentParser(
        prog="python -m app serve",
        description="Serve the MiKO platform service; configured only through the environment.",
    ).parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as error:
        print(describe_error(error), file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, exit_cleanly)
    raise_descriptor_limit()
    created_dir = prepare_multiprocess_dir() if settings.web_concurrency > 1 else None
    try:
        run(settings, http_protocol)
    finally:
        if created_dir is not None:
            shutil.rmtree(created_dir, ignore_errors=True)
    return 0
