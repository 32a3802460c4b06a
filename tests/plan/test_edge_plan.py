"""The offline plan of the zone's edge stack (`python -m plan --project edge`), the renderer's
per-project config namespace and nested secret exports, and the Cloudflare policies' scope."""

import json
import textwrap
from dataclasses import replace
from typing import Any

import pytest

from plan.cli import environment_stacks, main
from plan.mocks import PlatformMocks
from plan.policy_check import check_policies
from plan.project import EDGE_PROJECT_DIR, PROJECTS, stack_names
from plan.render import Rendering, project_name, render_stack, stack_config
from policies.evaluate import load_policy_config
from tests.components.edge_stack_fixtures import HOSTNAMES, environment, render_edge

CLOUDFLARE_POLICIES = (
    "cloudflare-security-headers",
    "cloudflare-api-never-cached",
    "cloudflare-api-rate-limited",
    "cloudflare-zone-tls-settings",
)


def test_the_edge_project_is_its_own_pulumi_project_with_one_stack():
    assert PROJECTS["edge"] == EDGE_PROJECT_DIR
    assert project_name(EDGE_PROJECT_DIR) == "miko-edge"
    assert stack_names(EDGE_PROJECT_DIR) == ["clinic"]
    assert environment_stacks("clinic") == ["staging", "prod"]


def test_config_keys_are_namespaced_by_the_project_s_own_name():
    values, _ = stack_config("clinic", project_dir=EDGE_PROJECT_DIR)

    assert values["miko-edge:cloudflarePlan"] == "pro"
    assert json.loads(values["miko-edge:environments"]) == [
        {"name": "staging", "stackReference": "staging"},
        {"name": "prod", "stackReference": "prod"},
    ]
    assert not [key for key in values if key.startswith("miko-platform:")]


def test_a_secret_inside_a_dict_export_is_masked_where_it_is(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: demo\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n")
    (tmp_path / "__main__.py").write_text(
        textwrap.dedent(
            """
            import pulumi

            pulumi.export("edge", {"host": "a.example.com", "key": pulumi.Output.secret("k")})
            pulumi.export("whole", pulumi.Output.secret("w"))
            """
        )
    )
    rendering = render_stack("dev", project_dir=tmp_path)

    assert rendering.exports == {
        "edge": {"host": "a.example.com", "key": "[secret]"},
        "whole": "[secret]",
    }
    assert rendering.secret_exports == {"edge.key", "whole"}


def test_a_stack_reference_to_an_output_holding_a_secret_is_secret():
    mocks = PlatformMocks("us-west-2", {"staging": {"edge": {"k": "[secret]"}, "url": "u"}})

    answer = mocks._stack_reference("ref", {"name": "org/miko-platform/staging"})
    assert answer["secretOutputNames"] == ["edge"]


def test_the_edge_plan_is_clean_and_rendered_against_both_environments(tmp_path, capsys):
    json_path = tmp_path / "clinic.json"

    assert main(["--project", "edge", "--json", str(json_path)]) == 0
    text = capsys.readouterr().out
    document = json.loads(json_path.read_text())
    assert "Offline plan of stack clinic" in text
    assert "Policies: no violations." in text
    assert "clinic: 11 resources in 2 components, 0 mandatory" in text
    assert document["stack"] == "clinic"
    origin = next(r for r in document["resources"] if r["name"] == "zone-rulesets-origin-auth")
    assert [rule["expression"] for rule in origin["inputs"]["rules"]] == [
        f'http.host eq "{host}"' for host in HOSTNAMES.values()
    ]


def test_an_unknown_edge_stack_is_refused(capsys):
    assert main(["--project", "edge", "--stack", "staging"]) == 2
    assert "unknown stack 'staging' of project edge; known: clinic" in capsys.readouterr().err


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_cloudflare_policies_skip_an_environment_stack(stack):
    findings = check_policies(environment(stack))

    assert not [f for f in findings if f.policy in CLOUDFLARE_POLICIES]


def _without(rendering: Rendering, ruleset_name: str, hostname: str) -> Rendering:
    """The rendering with `hostname`'s rules left out of one ruleset."""

    def kept(props: dict[str, Any]) -> dict[str, Any]:
        rules = [r for r in props["rules"] if f'"{hostname}"' not in r["expression"]]
        return {**props, "rules": rules}

    resources = tuple(
        resource
        if resource.name != ruleset_name
        else replace(resource, inputs=kept(resource.inputs), outputs=kept(resource.outputs))
        for resource in rendering.resources
    )
    return Rendering(rendering.stack, resources, rendering.exports)


@pytest.mark.parametrize(
    ("ruleset", "policy", "message"),
    [
        (
            "zone-rulesets-rate-limit",
            "cloudflare-api-rate-limited",
            "No Cloudflare rate-limit rule covers /api/* on www.mikoplasticsurgery.com",
        ),
        (
            "zone-rulesets-cache",
            "cloudflare-api-never-cached",
            "No cache rule bypasses the cache for /api/* on www.mikoplasticsurgery.com",
        ),
        (
            "zone-rulesets-response-headers",
            "cloudflare-security-headers",
            "must set on every response on www.mikoplasticsurgery.com",
        ),
        (
            "zone-rulesets-config",
            "cloudflare-zone-tls-settings",
            "Cloudflare zone setting 'ssl' must be set to one of strict",
        ),
        # The header's value is secret: the plan masks it where it is, not the whole rule list,
        # so the policy still sees which hostnames have the rule (plan/render.py).
        (
            "zone-rulesets-origin-auth",
            "cloudflare-origin-proof-header",
            "No http_request_late_transform rule sets the origin proof header",
        ),
    ],
)
def test_the_cloudflare_policies_check_each_hostname_of_the_edge_stack(ruleset, policy, message):
    assert check_policies(render_edge(), load_policy_config("clinic")) == []

    findings = check_policies(_without(render_edge(), ruleset, HOSTNAMES["prod"]))

    assert [(f.policy, f.level) for f in findings] == [(policy, "mandatory")]
    assert message in findings[0].message
