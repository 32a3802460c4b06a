"""GET /health, /health/db and /health/apis as ASGI endpoints."""

from starlette.types import Receive, Scope, Send

from app.errors import send_json
from app.health.checks import HealthChecks
from app.health.models import ApisHealth, DatabaseHealth


class HealthEndpoints:
    """The three ASGI endpoints over one HealthChecks (the router checks the method)."""

    def __init__(self, checks: HealthChecks) -> None:
        self.checks = checks

    async def liveness(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_json(scope, send, 200, self.checks.liveness())

    async def database(self, scope: Scope, receive: Receive, send: Send) -> None:
        result: DatabaseHealth = await self.checks.shared("database", self.checks.database)
        status = 200 if result.status in ("healthy", "unconfigured") else 503
        await send_json(scope, send, status, result.model_dump(mode="json"))

    async def apis(self, scope: Scope, receive: Receive, send: Send) -> None:
        result: ApisHealth = await self.checks.shared("apis", self.checks.apis)
        status = 503 if result.status == "error" else 200
        await send_json(scope, send, status, result.model_dump(mode="json"))
