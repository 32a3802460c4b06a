"""The health responses' shapes (also the OpenAPI schemas) and the rules that combine checks."""

from typing import Literal

from pydantic import BaseModel

CheckStatus = Literal["healthy", "unhealthy", "unconfigured", "error"]


class DependencyCheck(BaseModel):
    status: CheckStatus
    responseTimeMs: float | None
    message: str
    statusCode: int | None = None


class Release(BaseModel):
    """What this task runs: deploys and rollbacks are checked against it."""

    version: str
    commit: str | None
    """The git commit the image was built from."""
    image: str | None
    """The image by digest, as the task definition names it."""
    frontend: str | None
    """The front-end build id: a digest of the files served."""


class Liveness(BaseModel):
    status: Literal["healthy"]
    version: str
    environment: str
    uptimeSeconds: float
    release: Release


class DatabaseHealth(BaseModel):
    status: CheckStatus
    responseTimeMs: float
    message: str
    checks: dict[Literal["supabase", "postgres"], DependencyCheck]


class ApiServices(BaseModel):
    supabase: DependencyCheck
    n8n: DependencyCheck
    googleCalendar: DependencyCheck


class ApisHealth(BaseModel):
    status: Literal["healthy", "degraded", "error"]
    timestamp: str
    responseTimeMs: float
    version: str
    environment: str
    services: ApiServices


def unconfigured(what: str) -> DependencyCheck:
    return DependencyCheck(status="unconfigured", responseTimeMs=None, message=f"{what} not set")


def overall_api_status(statuses: list[CheckStatus]) -> Literal["healthy", "degraded", "error"]:
    if "error" in statuses:
        return "error"
    if "unhealthy" in statuses:
        return "degraded"
    return "healthy"


def overall_database_status(checks: dict[str, DependencyCheck]) -> CheckStatus:
    statuses = [check.status for check in checks.values() if check.status != "unconfigured"]
    if not statuses:
        return "unconfigured"
    if "error" in statuses:
        return "error"
    if "unhealthy" in statuses:
        return "unhealthy"
    return "healthy"
