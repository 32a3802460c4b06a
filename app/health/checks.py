"""The dependency checks: one shared HTTP client, a timeout each, an overall budget."""

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import psycopg

from app.contract import DATABASE_CHECK, FAILED_CHECK_STATUSES, HEALTH_CHECK_EVENT, SecretEnv
from app.health.models import (
    ApiServices,
    ApisHealth,
    CheckStatus,
    DatabaseHealth,
    DependencyCheck,
    overall_api_status,
    overall_database_status,
    unconfigured,
)
from app.logging_setup import utc_timestamp
from app.metrics import observe_dependency
from app.settings import Settings

Probe = Callable[[], Awaitable[tuple[CheckStatus, str, int | None]]]
MAX_MESSAGE = 300
APIS_CHECK = "apis"
CANCEL_WAIT_SECONDS = 1.0

logger = logging.getLogger("app.health")


def elapsed_ms(started_at: float) -> float:
    return round((time.perf_counter() - started_at) * 1000, 1)


def http_verdict(response: httpx.Response) -> tuple[CheckStatus, str, int | None]:
    status: CheckStatus = "healthy" if response.is_success else "unhealthy"
    return status, f"HTTP {response.status_code}", response.status_code


class HealthChecks:
    """The dependency checks, sharing one HTTP client opened at start-up."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.timeout = settings.health_check_timeout_seconds
        self.budget = settings.health_budget_seconds
        self.started_at = time.monotonic()
        self.frontend_build: str | None = None
        """Set once the static files are loaded (app/asgi.py)."""
        self.client: httpx.AsyncClient | None = None
        self.secrets = [
            secret.get_secret_value()
            for secret in (
                settings.supabase_anon_key,
                settings.google_api_key,
                settings.database_url,
            )
            if secret is not None
        ]
        self.inflight: dict[str, asyncio.Future[Any]] = {}

    async def start(self) -> None:
        self.client = httpx.AsyncClient(
            timeout=self.timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=5),
        )

    async def close(self) -> None:
        """Cancel runs still in flight (their callers are gone by now), then close the client."""
        runs = list(self.inflight.values())
        for run in runs:
            run.cancel()
        if runs:
            await asyncio.wait(runs, timeout=CANCEL_WAIT_SECONDS)
        if self.client is not None:
            await self.client.aclose()

    def _http(self) -> httpx.AsyncClient:
        if self.client is None:
            raise RuntimeError("health checks used before start-up")
        return self.client

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text[:MAX_MESSAGE]

    async def _timed(self, dependency: str, probe: Probe) -> DependencyCheck:
        started_at = time.perf_counter()
        status_code = None
        try:
            async with asyncio.timeout(self.timeout):
                status, message, status_code = await probe()
        except TimeoutError:
            status, message = "error", f"no answer within {self.timeout} s"
        except Exception as error:  # a failing dependency must never fail the endpoint
            status, message = "error", f"{type(error).__name__}: {error}"
        seconds = time.perf_counter() - started_at
        observe_dependency(dependency, status, seconds)
        return DependencyCheck(
            status=status,
            responseTimeMs=round(seconds * 1000, 1),
            message=self._scrub(message),
            statusCode=status_code,
        )

    async def supabase(self) -> DependencyCheck:
        url, key = self.settings.supabase_url, self.settings.supabase_anon_key
        if not url or key is None:
            return unconfigured(f"{SecretEnv.SUPABASE_URL} / {SecretEnv.SUPABASE_ANON_KEY}")
        anon_key = key.get_secret_value()

        async def probe() -> tuple[CheckStatus, str, int | None]:
            response = await self._http().head(
                f"{url.rstrip('/')}/rest/v1/leads",
                params={"select": "count"},
                headers={
                    "apikey": anon_key,
                    "Authorization": f"Bearer {anon_key}",
                    "Prefer": "count=exact",
                },
            )
            return http_verdict(response)

        return await self._timed("supabase", probe)

    async def postgres(self) -> DependencyCheck:
        if self.settings.database_url is None:
            return unconfigured(SecretEnv.DATABASE_URL)
        conninfo = self.settings.database_url.get_secret_value()
        # libpq's connect_timeout is whole seconds with a minimum of 2; asyncio.timeout bounds it.
        connect_timeout = max(2, math.ceil(self.timeout))

        async def probe() -> tuple[CheckStatus, str, int | None]:
            async with await psycopg.AsyncConnection.connect(
                conninfo, connect_timeout=connect_timeout, autocommit=True
            ) as connection:
                row = await (await connection.execute("SELECT 1")).fetchone()
            if row == (1,):
                return "healthy", "SELECT 1 answered", None
            return "unhealthy", "SELECT 1 gave an unexpected answer", None

        return await self._timed("postgres", probe)

    async def n8n(self) -> DependencyCheck:
        url = self.settings.n8n_webhook_url
        if not url:
            return unconfigured(SecretEnv.N8N_WEBHOOK_URL)

        async def probe() -> tuple[CheckStatus, str, int | None]:
            return http_verdict(await self._http().post(url, json={"type": "health_check"}))

        return await self._timed("n8n", probe)

    async def google(self) -> DependencyCheck:
        if not self.settings.google_client_id:
            return unconfigured(SecretEnv.GOOGLE_CLIENT_ID)
        url = self.settings.google_health_url

        async def probe() -> tuple[CheckStatus, str, int | None]:
            response = await self._http().head(url)
            status: CheckStatus = "healthy" if response.status_code < 500 else "unhealthy"
            return status, f"reachable, HTTP {response.status_code}", response.status_code

        return await self._timed("google", probe)

    async def run_within_budget(
        self, checks: dict[str, Callable[[], Awaitable[DependencyCheck]]]
    ) -> dict[str, DependencyCheck]:
        tasks = {name: asyncio.ensure_future(check()) for name, check in checks.items()}
        try:
            done, _ = await asyncio.wait(tasks.values(), timeout=self.budget)
        finally:
            for task in tasks.values():  # those past the budget, or all when this run is cancelled
                task.cancel()
        return {
            name: task.result()
            if task in done
            else DependencyCheck(
                status="error",
                responseTimeMs=round(self.budget * 1000, 1),
                message=f"no result within the {self.budget} s budget",
            )
            for name, task in tasks.items()
        }

    async def shared(self, key: str, run: Callable[[], Awaitable[Any]]) -> Any:
        """Concurrent callers of the same run wait for one execution of it."""
        future = self.inflight.get(key)
        if future is None:
            future = self.inflight[key] = asyncio.ensure_future(run())
            future.add_done_callback(lambda _: self.inflight.pop(key, None))
        return await asyncio.shield(future)

    async def database(self) -> DatabaseHealth:
        started_at = time.perf_counter()
        checks = await self.run_within_budget(
            {"supabase": self.supabase, "postgres": self.postgres}
        )
        status = overall_database_status(checks)
        for target, check in checks.items():
            if check.status in FAILED_CHECK_STATUSES:
                log_failure(DATABASE_CHECK, target, check)
        summaries = [f"{name}: {c.message}" for name, c in checks.items()]
        return DatabaseHealth(
            status=status,
            responseTimeMs=elapsed_ms(started_at),
            message="; ".join(summaries),
            checks=checks,  # type: ignore[arg-type]
        )

    async def apis(self) -> ApisHealth:
        started_at = time.perf_counter()
        checks = await self.run_within_budget(
            {"supabase": self.supabase, "n8n": self.n8n, "googleCalendar": self.google}
        )
        for target, check in checks.items():
            if check.status in FAILED_CHECK_STATUSES:
                log_failure(APIS_CHECK, target, check)
        return ApisHealth(
            status=overall_api_status([check.status for check in checks.values()]),
            timestamp=utc_timestamp(),
            responseTimeMs=elapsed_ms(started_at),
            version=self.settings.app_version,
            environment=self.settings.app_env,
            services=ApiServices(**checks),
        )

    def liveness(self) -> dict[str, Any]:
        return {
            "status": "healthy",
            "version": self.settings.app_version,
            "environment": self.settings.app_env,
            "uptimeSeconds": round(time.monotonic() - self.started_at, 1),
            "release": {
                "version": self.settings.app_version,
                "commit": self.settings.release_commit,
                "image": self.settings.release_image,
                "frontend": self.frontend_build,
            },
        }


def log_failure(check: str, target: str, result: DependencyCheck) -> None:
    """One line per failed check; for the database check it is the line that
    contract.DATABASE_CHECK_FAILED (the CloudWatch metric filter) counts."""
    logger.warning(
        f"{check} health check failed: {target}",
        extra={
            "fields": {
                "event": HEALTH_CHECK_EVENT,
                "check": check,
                "target": target,
                "status": result.status,
                "response_time_ms": result.responseTimeMs,
                "detail": result.message,
            }
        },
    )
