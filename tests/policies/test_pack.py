import json

import jsonschema  # type: ignore[import-untyped]
import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from policies.evaluate import CONFIG_DIR, load_policy_config, policy_settings
from policies.pack import ALL_POLICIES, PACK_NAME, build_pack, validate_pack_policies
from tests.policies.conftest import find_policy

STRICTNESS = {"disabled": 0, "advisory": 1, "mandatory": 2, "remediate": 2}


def test_build_pack_gives_policypack_arguments():
    arguments = build_pack()
    assert arguments["name"] == PACK_NAME
    assert len(arguments["policies"]) == len(ALL_POLICIES) >= 25
    assert arguments["enforcement_level"] == EnforcementLevel.MANDATORY
    kinds = {type(policy) for policy in arguments["policies"]}
    assert kinds == {ResourceValidationPolicy, StackValidationPolicy}


@pytest.mark.parametrize(
    ("name", "description", "problem"),
    [
        ("Bad_Name", "Checks whether x.", "kebab-case"),
        ("fine-name", "Makes sure x.", "one sentence"),
        ("fine-name", "Checks whether x. And y.", "one sentence"),
    ],
)
def test_badly_named_policy_is_refused(name, description, problem):
    policy = ResourceValidationPolicy(name, description, lambda args, report: None)
    with pytest.raises(ValueError, match=problem):
        validate_pack_policies([policy])


def test_duplicate_policy_is_refused():
    with pytest.raises(ValueError, match="used twice"):
        validate_pack_policies([ALL_POLICIES[0], ALL_POLICIES[0]])


def test_stack_config_files_exist_for_every_stack():
    # Both environment stacks and the zone's edge stack (edge/, clinic).
    assert sorted(path.stem for path in CONFIG_DIR.glob("*.json")) == ["clinic", "prod", "staging"]


@pytest.mark.parametrize("stack", ["clinic", "prod", "staging"])
def test_config_file_matches_policy_schemas(stack):
    config = load_policy_config(stack)
    assert set(config) == {policy.name for policy in ALL_POLICIES}
    for name, entry in config.items():
        policy = find_policy(name)
        policy_settings(policy, config)  # refuses unknown properties
        if isinstance(entry, dict):
            properties = {k: v for k, v in entry.items() if k != "enforcementLevel"}
            schema = {
                "type": "object",
                "properties": policy.config_schema.properties if policy.config_schema else {},
            }
            jsonschema.validate(properties, schema)


def level(config, name):
    entry = config[name]
    return entry if isinstance(entry, str) else entry["enforcementLevel"]


def test_prod_is_at_least_as_strict_as_staging():
    prod, staging = load_policy_config("prod"), load_policy_config("staging")
    for policy in ALL_POLICIES:
        assert level(prod, policy.name) != "disabled", policy.name
        assert STRICTNESS[level(prod, policy.name)] >= STRICTNESS[level(staging, policy.name)], (
            policy.name
        )
    assert any(STRICTNESS[level(prod, n)] > STRICTNESS[level(staging, n)] for n in prod)


def test_issue_levels_for_rotation_and_public_ips():
    prod, staging = load_policy_config("prod"), load_policy_config("staging")
    assert level(prod, "secret-rotation-age") == "mandatory"
    assert level(staging, "secret-rotation-age") == "advisory"
    assert prod["secret-rotation-age"]["maxSecretAgeDays"] == 90
    assert level(prod, "ecs-service-no-public-ip") == "mandatory"
    assert prod["backup-cross-region-copy"]["requireCrossRegionCopy"] is True


def test_unknown_stack_config_is_refused():
    with pytest.raises(ValueError, match="have: clinic, prod, staging"):
        load_policy_config("qa")


def test_config_files_are_formatted_json():
    for path in CONFIG_DIR.glob("*.json"):
        assert path.read_text() == json.dumps(json.loads(path.read_text()), indent=2) + "\n"


def test_readme_lists_every_policy():
    readme = (CONFIG_DIR.parent / "README.md").read_text()
    assert all(f"| `{policy.name}` |" in readme for policy in ALL_POLICIES)
