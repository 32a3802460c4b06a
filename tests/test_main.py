"""The whole program, both stacks: exports, secrecy, determinism, component layout."""

import contextlib
import json
import re
from pathlib import Path

import pytest

from config.secrets import SECRET_KEYS
from plan.render import render_stack
from tests.components.conftest import DUMMY_SECRETS, STACKS, render

COMPONENT_TYPES = {
    "miko:network:Network",
    "miko:image:AppImage",
    "miko:secrets:SecretsStore",
    "miko:service:AppService",
    "miko:loadbalancer:LoadBalancer",
    "miko:edge:Cdn",
    "miko:observability:Alarms",
    "miko:observability:Dashboard",
    "miko:backup:Backups",
    "miko:assets:AssetArchive",
    "miko:observability:SyntheticsCanary",
    "miko:audit:AuditTrail",
}
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"


def walk(value, path=""):
    """Every (path, leaf) of a JSON-like value; JSON text inside strings is walked too."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]")
    else:
        yield path, value
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(ValueError):
                yield from walk(json.loads(value), path + "<json>")


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_value_appears_in_plaintext(stack):
    rendering = render(stack)
    assert set(DUMMY_SECRETS) == set(SECRET_KEYS)
    secret_holders = set()
    for resource in rendering.resources:
        for where, document in (("inputs", resource.inputs), ("outputs", resource.outputs)):
            for path, leaf in walk(document):
                for key, dummy in DUMMY_SECRETS.items():
                    assert dummy not in str(leaf), (
                        f"{key} in plaintext at {resource.urn} {where}{path}"
                    )
        if resource.secret_paths:
            secret_holders.add(resource.type)
    assert SECRET_VERSION in secret_holders
    assert not any(dummy in json.dumps(rendering.exports) for dummy in DUMMY_SECRETS.values())


def test_the_walk_finds_a_planted_value():
    document = {"a": [{"b": json.dumps({"env": [{"value": DUMMY_SECRETS["sentryDsn"]}]})}]}
    assert any(DUMMY_SECRETS["sentryDsn"] == leaf for _, leaf in walk(document))


@pytest.mark.parametrize("stack", STACKS)
def test_secret_versions_are_the_only_holders_of_integration_secrets(stack):
    rendering = render(stack)
    holders = {
        r.type
        for r in rendering.resources
        if any(p.startswith("secretString") for p in r.secret_paths)
    }
    assert holders == {SECRET_VERSION}


@pytest.mark.parametrize("stack", STACKS)
def test_two_renders_give_identical_inputs(stack):
    first, second = render(stack), render_stack(stack, secret_values=DUMMY_SECRETS)
    assert [r.urn for r in first.resources] == [r.urn for r in second.resources]
    for a, b in zip(first.resources, second.resources, strict=True):
        assert a.inputs == b.inputs, a.urn
        assert a.provider == b.provider, a.urn
    assert first.exports == second.exports


@pytest.mark.parametrize("stack", STACKS)
def test_exports(stack):
    exports = render(stack).exports
    site = {"staging": "staging.mikoplasticsurgery.com", "prod": "www.mikoplasticsurgery.com"}[
        stack
    ]
    assert exports["site_url"] == f"https://{site}"
    assert exports["load_balancer_dns_name"].endswith(".elb.amazonaws.com")
    assert exports["cluster_name"] == f"miko-{stack}"
    assert exports["service_name"] == f"miko-{stack}-app"
    assert exports["alarm_topic_arn"].startswith("arn:aws:sns:")
    assert sorted(exports["secret_arns"]) == [
        "backup-scratch",
        "base44",
        "database",
        "google",
        "n8n",
        "sentry",
        "supabase",
    ]
    assert exports["backup_bucket_name"].startswith("backups-dumps-")
    assert exports["backup_vault_arn"].startswith("arn:aws:backup:")
    assert exports["backup_restore_role_arn"].startswith("arn:aws:iam:")
    assert exports["backup_kms_key_arn"].startswith("arn:aws:kms:")
    assert len(exports["private_subnet_ids"]) == {"staging": 2, "prod": 3}[stack]
    assert "@sha256:" in exports["image_ref"]
    assert exports["dashboard_url"].endswith(f"#dashboards:name=miko-{stack}-operations")


@pytest.mark.parametrize("stack", STACKS)
def test_components_parent_their_resources(stack):
    rendering = render(stack)
    components = {r.type: r for r in rendering.resources if r.type.startswith("miko:")}
    assert set(components) >= COMPONENT_TYPES
    for component in components.values():
        children = rendering.descendants(component.urn)
        # An image promoted or pinned by digest is a reference: nothing is created for it.
        builds = (
            component.type != "miko:image:AppImage"
            or rendering.exports["release"]["source"] == "built here"
        )
        assert bool(children) == builds, component.urn
        prefix = component.name + "-"
        assert all(child.name.startswith(prefix) for child in children), component.urn
    stack_urn = f"urn:pulumi:{stack}::miko-platform::pulumi:pulumi:Stack::miko-platform-{stack}"
    top_level = {r.type for r in rendering.resources if r.parent == stack_urn}
    assert top_level == COMPONENT_TYPES | {"pulumi:providers:aws"}


def test_no_code_branches_on_the_stack_name():
    root = Path(__file__).resolve().parents[1]
    sources = [root / "__main__.py", *sorted((root / "components").glob("*.py"))]
    pattern = re.compile(r"get_stack\(\)\s*[!=]=|[!=]=\s*[\"'](prod|staging|production)[\"']")
    offenders = [str(path) for path in sources if pattern.search(path.read_text())]
    assert offenders == []
