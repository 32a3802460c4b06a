"""The database check, run by the service itself every HEALTH_DB_CHECK_INTERVAL_SECONDS.

The load balancer and Route 53 only probe `/health`, so without this nothing would call
`/health/db` and the CloudWatch alarm on the failure log line would never fire. A run is the
same `HealthChecks.database()` as the endpoint, shared with any concurrent `/health/db` request,
so a failure logs the very same line and the dependency gauges stay fresh. Success logs nothing
above DEBUG. The first run starts right after start-up, the next one an interval after it ends.

With several workers, only the one holding an exclusive `flock` on a file in the metrics
directory the launcher creates for them runs the checks. The kernel releases the lock when that
worker exits, and the others try to take it at each interval, so a replacement takes over.
"""

import asyncio
import fcntl
import logging
import os
from pathlib import Path

from app.health.checks import HealthChecks
from app.metrics import MULTIPROC_ENV

LOCK_FILE_NAME = "periodic-db-check.lock"
STOP_WAIT_SECONDS = 1.0

logger = logging.getLogger("app.health")


class WorkerLock:
    """Held by at most one worker process at a time; without a shared directory, always held."""

    def __init__(self, directory: Path | None) -> None:
        self.path = directory / LOCK_FILE_NAME if directory is not None else None
        self.descriptor: int | None = None

    @classmethod
    def from_environment(cls) -> "WorkerLock":
        directory = os.environ.get(MULTIPROC_ENV)
        return cls(Path(directory) if directory else None)

    def acquire(self) -> bool:
        if self.path is None or self.descriptor is not None:
            return True
        try:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            # No lock file, no election: every worker checks rather than none.
            return True
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            return False
        self.descriptor = descriptor
        return True

    def release(self) -> None:
        if self.descriptor is not None:
            os.close(self.descriptor)
            self.descriptor = None


class PeriodicDatabaseCheck:
    """A background task running the database check every `interval_seconds` (0: never)."""

    def __init__(self, checks: HealthChecks, interval_seconds: float, lock: WorkerLock) -> None:
        self.checks = checks
        self.interval_seconds = interval_seconds
        self.lock = lock
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval_seconds > 0:
            self.task = asyncio.create_task(self._loop(), name="periodic-db-check")

    async def stop(self) -> None:
        """Cancel the loop and any run in flight; never waits more than STOP_WAIT_SECONDS."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.wait({self.task}, timeout=STOP_WAIT_SECONDS)
            self.task = None
        self.lock.release()

    async def _loop(self) -> None:
        while True:
            if self.lock.acquire():
                await self.run_once()
            await asyncio.sleep(self.interval_seconds)

    async def run_once(self) -> None:
        try:
            result = await self.checks.shared("database", self.checks.database)
        except Exception as error:  # the loop must outlive an unexpected failure
            logger.error(
                "periodic database health check could not run",
                extra={"fields": {"event": "periodic_health_check", "error": type(error).__name__}},
            )
            return
        logger.debug(
            "periodic database health check ran",
            extra={"fields": {"event": "periodic_health_check", "status": result.status}},
        )
