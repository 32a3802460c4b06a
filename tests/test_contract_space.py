"""Over the stack config space: whatever the program accepts, the app it deploys accepts too.

The source of truth on each side is the real thing: the program's own config validation (run
through the whole program under Pulumi's mocks) and the app's own settings loaders
(`app.settings.Settings`, `app.backup.config.BackupJobSettings`), fed exactly the environment and
secret names of the rendered container definitions. Before the contract module, a valid prod
stack with `containerStopTimeoutSeconds=60` and `appShutdownGraceSeconds=40` deployed an app
that refused to start: it checked its grace against a hard-coded 30 s.
"""

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.backup.config import BackupJobSettings
from app.contract import CLOUDFLARE_ORIGIN_IDLE_TIMEOUT_SECONDS, Env
from config.catalogues import FARGATE_SIZES
from config.stack import InvalidConfigError
from plan.render import RenderFailed, Rendering, render_stack
from tests.components.conftest import DUMMY_SECRETS
from tests.rendered_tasks import JOB_TASKS, app_settings_from, container_environment


def render_or_refusal(stack: str, overrides: dict[str, object]) -> Rendering | RenderFailed:
    try:
        return render_stack(stack, config=overrides, secret_values=DUMMY_SECRETS)
    except RenderFailed as failure:
        return failure


def any_timings() -> st.SearchStrategy[dict[str, int]]:
    """Each timing anywhere in its own range: mostly timings that do not nest."""
    return st.fixed_dictionaries(
        {
            "albIdleTimeoutSeconds": st.integers(1, 4000),
            "appKeepAliveSeconds": st.integers(1, 4000),
            "containerStopTimeoutSeconds": st.integers(2, 120),
            "appShutdownGraceSeconds": st.integers(1, 600),
            "deregistrationDelaySeconds": st.integers(0, 3600),
        }
    )


@st.composite
def nested_timings(draw: st.DrawFn) -> dict[str, int]:
    """Timings that nest: the idle timeout above Cloudflare's origin keep-alive, the keep-alive
    above the idle timeout, the grace below the stop."""
    idle = draw(st.integers(CLOUDFLARE_ORIGIN_IDLE_TIMEOUT_SECONDS + 1, 3999))
    stop = draw(st.integers(2, 120))
    return {
        "albIdleTimeoutSeconds": idle,
        "appKeepAliveSeconds": draw(st.integers(idle + 1, 4000)),
        "containerStopTimeoutSeconds": stop,
        "appShutdownGraceSeconds": draw(st.integers(1, stop - 1)),
        "deregistrationDelaySeconds": draw(st.integers(0, 3600)),
    }


def timings() -> st.SearchStrategy[dict[str, int]]:
    return st.one_of(nested_timings(), nested_timings(), any_timings())


def task_sizes() -> st.SearchStrategy[dict[str, int]]:
    pairs = [(cpu, memory) for cpu, memories in FARGATE_SIZES.items() for memory in memories]
    return st.sampled_from(sorted(pairs)).map(lambda p: {"taskCpu": p[0], "taskMemory": p[1]})


def app_choices() -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries(
        {
            "logLevel": st.sampled_from(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]),
            "allowedOrigins": st.lists(
                st.sampled_from(
                    ["https://mikoplasticsurgery.com", "https://www.mikoplasticsurgery.com"]
                ),
                min_size=1,
                unique=True,
            ),
        }
    )


def config_space() -> st.SearchStrategy[tuple[str, dict[str, object]]]:
    overrides = st.tuples(timings(), task_sizes(), app_choices()).map(
        lambda parts: {key: value for part in parts for key, value in part.items()}
    )
    return st.tuples(st.sampled_from(["staging", "prod"]), overrides)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(config_space())
def test_every_accepted_config_deploys_tasks_whose_app_accepts_them(case):
    stack, overrides = case
    rendering = render_or_refusal(stack, overrides)
    event("refused" if isinstance(rendering, RenderFailed) else "accepted")
    if isinstance(rendering, RenderFailed):
        # Refused: before any resource, naming a key that was set.
        assert isinstance(rendering.cause, InvalidConfigError), rendering.cause
        assert rendering.resources == ()
        assert any(key in str(rendering.cause) for key in overrides), str(rendering.cause)
        return
    app = app_settings_from(container_environment(rendering, "app-task"))
    assert app.keepalive_timeout_seconds == overrides["appKeepAliveSeconds"]
    assert app.shutdown_grace_seconds == overrides["appShutdownGraceSeconds"]
    for job in JOB_TASKS:
        environment = container_environment(rendering, job)
        assert environment[Env.APP_ENV] == app.app_env
        job_settings = BackupJobSettings.from_env(environment)
        assert job_settings.require_bucket()
        assert job_settings.require_database_url()


def test_the_config_space_reaches_both_outcomes():
    """The property above must see refused and accepted configs, or it proves nothing."""
    accepted = {"albIdleTimeoutSeconds": 930, "appKeepAliveSeconds": 960}
    refused = {"albIdleTimeoutSeconds": 990, "appKeepAliveSeconds": 960}
    render_stack("staging", config=accepted, secret_values=DUMMY_SECRETS)
    with pytest.raises(RenderFailed, match="albIdleTimeoutSeconds"):
        render_stack("staging", config=refused, secret_values=DUMMY_SECRETS)


def test_a_grace_beyond_the_stop_timeout_is_refused_naming_both_keys():
    config = {"containerStopTimeoutSeconds": 40, "appShutdownGraceSeconds": 60}
    with pytest.raises(RenderFailed) as failure:
        render_stack("prod", config=config, secret_values=DUMMY_SECRETS)
    message = str(failure.value.cause)
    assert "appShutdownGraceSeconds" in message
    assert "containerStopTimeoutSeconds" in message
    assert failure.value.resources == ()
