"""The app started for real with the environment of a rendered task definition.

The reported case: a prod stack with `containerStopTimeoutSeconds=60` and
`appShutdownGraceSeconds=40` is valid for the program; before the contract module the app, with
its stop timeout hard-coded to 30 s, refused to start with it.
"""

import httpx

from app.contract import (
    CLOUDFLARE_ORIGIN_IDLE_TIMEOUT_SECONDS,
    HEALTH_PATH,
    Env,
    SecretEnv,
    edge_idle_timeout_problem,
)
from plan.render import render_stack
from tests.app.conftest import closed_port
from tests.components.conftest import DUMMY_SECRETS
from tests.rendered_tasks import container_environment

STOP_AND_GRACE = {"containerStopTimeoutSeconds": 60, "appShutdownGraceSeconds": 40}


def loopback_stand_ins() -> dict[str, str]:
    """Integrations on closed loopback ports, and no Sentry: the started service reaches out to
    nothing but this machine."""
    closed = f"127.0.0.1:{closed_port()}"
    return {
        SecretEnv.SUPABASE_URL: f"http://{closed}",
        SecretEnv.N8N_WEBHOOK_URL: f"http://{closed}/webhook/chat",
        SecretEnv.DATABASE_URL: f"postgresql://app@{closed}/postgres",
    }


def test_a_long_stop_timeout_with_its_grace_is_accepted_and_the_app_starts(service):
    """Valid for the program, and the real server (`python -m app serve`) starts with it."""
    rendering = render_stack("prod", config=STOP_AND_GRACE, secret_values=DUMMY_SECRETS)
    environment = container_environment(rendering, "app-task")
    assert environment[Env.CONTAINER_STOP_TIMEOUT_SECONDS] == "60"
    assert environment[Env.SHUTDOWN_GRACE_SECONDS] == "40"
    assert environment[Env.APP_ENV] == "production"
    # The task's port and bind address give way to a free loopback port (the fixture's).
    kept = {
        name: value
        for name, value in environment.items()
        if name not in (Env.PORT, Env.HOST, SecretEnv.SENTRY_DSN)
    }
    started = service(**kept | loopback_stand_ins())
    response = httpx.get(f"{started.base_url}{HEALTH_PATH}", timeout=5)
    assert response.status_code == 200


def test_the_load_balancer_must_outlast_cloudflares_origin_keep_alive():
    """Cloudflare reuses an idle origin connection for up to 900 s (its Proxy Idle Timeout)."""
    assert CLOUDFLARE_ORIGIN_IDLE_TIMEOUT_SECONDS == 900
    assert edge_idle_timeout_problem(901) is None
    for idle in (60, 900):
        problem = edge_idle_timeout_problem(idle)
        assert problem is not None
        assert f"idle timeout ({idle} s) must exceed Cloudflare's origin keep-alive" in problem
