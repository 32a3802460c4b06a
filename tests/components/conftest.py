"""Renders of the real program for both stacks, shared by the component tests.

Each stack is rendered once per session with dummy secret values; tests that change config
render again with their own overrides.
"""

from collections.abc import Callable

import pytest

from components.origin_auth import ORIGIN_AUTH_PREVIOUS_SECRET_KEY, ORIGIN_AUTH_SECRET_KEY
from config.secrets import SECRET_KEYS
from plan.render import Rendering, render_stack
from tests.components import edge_alarm_fixtures as observability

STACKS = ("staging", "prod")
# The origin secrets must be 32+ letters and digits (components/origin_auth.py).
DUMMY_ORIGIN_SECRET = "dummyOriginSecret6f1c9aCurrent000"  # pragma: allowlist secret
DUMMY_PREVIOUS_ORIGIN_SECRET = "dummyOriginSecret6f1c9aPrevious00"  # pragma: allowlist secret
DUMMY_SECRETS = {key: f"dummy-{key}-6f1c9a" for key in SECRET_KEYS} | {
    ORIGIN_AUTH_SECRET_KEY: DUMMY_ORIGIN_SECRET,
    ORIGIN_AUTH_PREVIOUS_SECRET_KEY: DUMMY_PREVIOUS_ORIGIN_SECRET,
}

_cache: dict[str, Rendering] = {}


def render(stack: str) -> Rendering:
    if stack not in _cache:
        _cache[stack] = render_stack(stack, secret_values=DUMMY_SECRETS)
    return _cache[stack]


@pytest.fixture(params=STACKS)
def rendering(request: pytest.FixtureRequest) -> Rendering:
    """The committed stack's rendering (staging and prod)."""
    return render(request.param)


@pytest.fixture
def staging() -> Rendering:
    return render("staging")


@pytest.fixture
def prod() -> Rendering:
    return render("prod")


@pytest.fixture
def render_with() -> Callable[..., Rendering]:
    """Render a stack with config overrides (and the dummy secrets unless given)."""

    def _render(stack: str, config: dict[str, object] | None = None, secrets=None) -> Rendering:
        return render_stack(
            stack, config=config, secret_values=DUMMY_SECRETS if secrets is None else secrets
        )

    return _render


# --- observability: alarms, dashboard and the signal catalogue, rendered alone ---


@pytest.fixture(scope="session")
def alarm_settings():
    """A realistic alarm section, read from its Pulumi.yaml keys like a stack's config."""
    return observability.ALARM_SETTINGS


@pytest.fixture(scope="session")
def signal_sources():
    """The watched resources of a prod-like stack."""
    return observability.SIGNAL_SOURCES


@pytest.fixture(scope="session")
def signal_scope():
    """The same sources as the dashboard sees them: resolved, with a health check ID."""
    return observability.SIGNAL_SCOPE


@pytest.fixture(scope="session")
def render_alarms() -> Callable[..., observability.RecordingMocks]:
    """Render the Alarms component alone under mocks (`pager_url`, `outputs`, `protect`...)."""
    return observability.render_alarms
