import pytest

from app.health.models import DependencyCheck, overall_api_status, overall_database_status


def check(status):
    return DependencyCheck(status=status, responseTimeMs=1.0, message="")


@pytest.mark.parametrize(
    ("statuses", "overall"),
    [
        (["healthy", "healthy", "unconfigured"], "healthy"),
        (["healthy", "unhealthy", "unconfigured"], "degraded"),
        (["unhealthy", "error", "healthy"], "error"),
        (["unconfigured", "unconfigured", "unconfigured"], "healthy"),
    ],
)
def test_apis_follow_the_assessment_rule(statuses, overall):
    assert overall_api_status(statuses) == overall


@pytest.mark.parametrize(
    ("supabase", "postgres", "overall"),
    [
        ("unconfigured", "unconfigured", "unconfigured"),
        ("healthy", "unconfigured", "healthy"),
        ("unconfigured", "unhealthy", "unhealthy"),
        ("healthy", "error", "error"),
        ("unhealthy", "error", "error"),
    ],
)
def test_database_status_ignores_unconfigured_checks(supabase, postgres, overall):
    checks = {"supabase": check(supabase), "postgres": check(postgres)}
    assert overall_database_status(checks) == overall
