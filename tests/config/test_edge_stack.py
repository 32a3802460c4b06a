"""The edge stack's config (config/edge_stack.py): refused before any resource, naming the key."""

import pytest

from config.edge_stack import EnvironmentReference
from config.stack import InvalidConfigError
from plan.project import EDGE_PROJECT_DIR
from plan.render import RenderFailed, render_stack


def problems(config: dict[str, object]) -> str:
    with pytest.raises(RenderFailed) as failure:
        render_stack("clinic", config=config, project_dir=EDGE_PROJECT_DIR, stack_outputs={})
    assert isinstance(failure.value.cause, InvalidConfigError), failure.value.cause
    assert failure.value.resources == ()
    return str(failure.value.cause)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"cloudflarePlan": "premium"}, "cloudflarePlan: Input should be 'free', 'pro'"),
        ({"cloudflareZoneName": "Miko.com"}, "cloudflareZoneName: 'Miko.com' is not"),
        ({"environments": []}, "environments: Tuple should have at least 1 item"),
        (
            {"environments": [{"name": "prod", "stackReference": "prod"}] * 2},
            "environments: environment name listed twice: prod",
        ),
        (
            {"environments": [{"name": "Prod", "stackReference": "prod"}]},
            "environment name 'Prod' must be 1-16 lower-case letters/digits",
        ),
        ({"environments": "prod"}, "expected a list of {name, stackReference} objects"),
    ],
)
def test_bad_edge_config_is_refused_naming_the_key(config, expected):
    assert expected in problems(config)


@pytest.mark.parametrize(
    ("reference", "qualified"),
    [
        ("prod", "acme/miko-platform/prod"),
        ("miko-platform/prod", "acme/miko-platform/prod"),
        ("other/miko-platform/prod", "other/miko-platform/prod"),
    ],
)
def test_a_bare_stack_reference_names_a_miko_platform_stack(reference, qualified):
    environment = EnvironmentReference.model_validate({"name": "prod", "stackReference": reference})
    assert environment.qualified_stack_name("acme") == qualified
