"""The front end as the stacks deliver it: one header set at the app and the edge, the runtime
configuration the app is given, and one image built once and promoted.

The headers are compared between the Cloudflare rule the edge stack (edge/) renders for the
stack's hostname, from the stack's `edge` output, and the app's own settings loaded from the
rendered task definition (tests/rendered_tasks.py), per committed stack: the two places a
browser gets its headers from, computed from the same stack config.
"""

import json

import pytest

from app.contract import Env, SecretEnv
from app.security_headers import csp_header_name
from app.static_files import StaticFiles
from components.image import repository_arn_of
from config.stack import PROJECT_DIR, excluded_from_build_context
from plan.render import render_stack
from tests.components.conftest import DUMMY_SECRETS, STACKS
from tests.components.edge_stack_fixtures import HOSTNAMES, render_edge, rules_of
from tests.rendered_tasks import INJECTED, app_settings_from, container_environment, main_container

RULESET = "cloudflare:index/ruleset:Ruleset"
IMAGE = "docker:index/image:Image"
REPOSITORY = "aws:ecr/repository:Repository"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
# The stack's secrets as Secrets Manager would inject them into the container (INJECTED).
REALISTIC_SECRETS = {
    **DUMMY_SECRETS,
    "supabaseUrl": INJECTED[SecretEnv.SUPABASE_URL],
    "n8nWebhookUrl": INJECTED[SecretEnv.N8N_WEBHOOK_URL],
}

_renders: dict[str, object] = {}


def realistic(stack: str):
    if stack not in _renders:
        _renders[stack] = render_stack(stack, secret_values=REALISTIC_SECRETS)
    return _renders[stack]


def edge_headers(stack: str) -> dict[str, str]:
    """The headers the edge stack's rule sets for `stack`'s hostname, rendered against the
    realistic renderings of both environment stacks."""
    outputs = {name: realistic(name).exports for name in HOSTNAMES}
    rendering = render_edge(stack_outputs=outputs)
    (rule,) = rules_of(rendering, "http_response_headers_transform", HOSTNAMES[stack])
    return {
        name: header["value"]
        for name, header in rule["actionParameters"]["headers"].items()
        if header["operation"] == "set"
    }


@pytest.mark.parametrize("stack", STACKS)
def test_the_edge_sends_exactly_the_app_s_headers(stack):
    rendering = realistic(stack)
    app = app_settings_from(container_environment(rendering, "app-task"))

    assert edge_headers(stack) == app.security_headers()
    csp = app.security_headers()[csp_header_name(app.csp_mode)]
    # The routed Supabase and n8n origins are in connect-src, from the one source.
    assert "https://abcd.supabase.co" in csp
    assert "wss://abcd.supabase.co" in csp
    assert "https://n8n.example.com" in csp
    assert "/webhook/chat" not in csp


@pytest.mark.parametrize("stack", STACKS)
def test_the_app_is_told_what_reaches_the_browser_by_name_never_by_value(stack):
    environment = container_environment(realistic(stack), "app-task")
    routed = json.loads(environment[Env.BROWSER_CONFIG_FROM])

    assert routed["VITE_SUPABASE_URL"] == SecretEnv.SUPABASE_URL
    assert SecretEnv.DATABASE_URL not in routed.values()
    task = realistic(stack).get(TASK, "app-task")
    container = main_container(task.inputs["containerDefinitions"])
    plain = json.dumps(container["environment"])
    for secret_key in ("supabaseAnonKey", "googleApiKey", "databaseUrl"):
        assert DUMMY_SECRETS[secret_key] not in plain


def test_staging_builds_the_image_and_exports_it(staging):
    assert len(staging.of_type(IMAGE)) == 1
    release = staging.exports["release"]
    assert release["source"] == "built here"
    assert release["image"] == staging.exports["image_ref"]
    # The placeholder's build id, computed by the service's own code from the same files.
    assert release["frontend"] == StaticFiles(PROJECT_DIR / "app" / "static").build_id
    assert staging.exports["image_ref"].startswith(
        "123456789012.dkr.ecr.us-west-2.amazonaws.com/miko-staging-app@sha256:"
    )
    assert len(release["commit"]) == 40


def test_prod_runs_the_digest_staging_ran_without_building(staging):
    prod = render_stack(
        "prod",
        secret_values=DUMMY_SECRETS,
        stack_outputs={
            "staging": {
                "image_ref": staging.exports["image_ref"],
                "release": staging.exports["release"],
            }
        },
    )

    assert not prod.of_type(IMAGE)
    assert not prod.of_type(REPOSITORY)
    environment = container_environment(prod, "app-task")
    assert environment[Env.RELEASE_IMAGE] == staging.exports["image_ref"]
    container = main_container(prod.get(TASK, "app-task").inputs["containerDefinitions"])
    assert container["image"] == staging.exports["image_ref"]
    assert prod.exports["release"] == {
        **staging.exports["release"],
        "source": "promoted from stack staging",
    }
    # The execution role may pull from staging's repository, the one the digest names.
    assert repository_arn_of(staging.exports["image_ref"]) in json.dumps(
        [resource.inputs for resource in prod.of_type("aws:iam/rolePolicy:RolePolicy")]
    )


def test_a_pinned_image_is_the_rollback_and_nothing_is_built(render_with):
    earlier = "123456789012.dkr.ecr.us-west-2.amazonaws.com/miko-staging-app@sha256:" + "ab" * 32
    prod = render_with("prod", {"imageRef": earlier})

    assert not prod.of_type(IMAGE)
    assert container_environment(prod, "app-task")[Env.RELEASE_IMAGE] == earlier
    assert prod.exports["release"]["source"] == "pinned (imageRef)"


def test_the_build_context_check_follows_dockerignore_s_last_match_rule():
    # The patterns of the project's own .dockerignore, with Docker's semantics (moby's
    # patternmatcher: the last matching line wins, `!` re-includes, `**` spans directories).
    assert excluded_from_build_context("tests/frontend/spa") is None
    assert excluded_from_build_context("tests/frontend/spa/node_modules/react") is not None
    assert excluded_from_build_context("frontend/clinic/src/main.tsx") is None
    assert excluded_from_build_context("frontend/clinic/node_modules") == "**/node_modules"
    assert excluded_from_build_context("components/image.py") == "components"


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"imageRef": "miko-app:latest"}, "imageRef"),
        ({"imageRef": "docker.io/library/nginx@sha256:" + "ab" * 32}, "imageRef"),
        ({"frontendSource": "tests/frontend/spa"}, "does not build one"),
        ({"imagePromoteFrom": "", "frontendSource": "no/such/dir"}, "neither package.json"),
        (
            {"imagePromoteFrom": "", "frontendSource": "tests/app"},
            "outside the image's build context .*'tests'",
        ),
        ({"browserSecrets": {"VITE_DB": "databaseUrl"}}, "databaseUrl"),
    ],
)
def test_bad_image_and_frontend_config_is_refused_before_anything_is_created(
    render_with, config, named
):
    with pytest.raises(Exception, match=named):
        render_with("prod", config)
