"""The FSBP/CIS controls catalogue, its stack policy, and each stack's accounting of it.

Sources of truth: the catalogue's ids and titles are Security Hub's (policies/controls.py names
the snapshot); the kinds a program can create are read from pulumi_aws's own resource classes
(their type tokens), and the kinds each stack creates from its offline rendering.
"""

import inspect
import json
import re
from pathlib import Path
from typing import Any

import pulumi_aws
import pytest

from plan import readme_tables
from policies.control_accounting import Standing, _holds, standings
from policies.controls import CONTROL_BY_ID, CONTROLS, KNOWN_KINDS, POLICY_NAME, Control, Holder
from policies.evaluate import CONFIG_DIR, load_policy_config
from policies.pack import ALL_POLICIES
from tests.components.conftest import STACKS, render
from tests.policies.conftest import stack_resource

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "aws:s3/bucket:Bucket"
ROUTE = "aws:ec2/route:Route"
REASON = "a reason a reviewer can check"
POLICIES_BY_NAME = {policy.name: policy for policy in ALL_POLICIES}
CONSTRUCTOR = re.compile(r"\baws\.([a-z0-9_]+)\.([A-Z][A-Za-z0-9]*)\(")


def kinds_in_source() -> set[str]:
    """The type token of every pulumi_aws resource class the components construct."""
    kinds = set()
    for path in sorted((ROOT / "components").glob("*.py")):
        for module, name in CONSTRUCTOR.findall(path.read_text(encoding="utf-8")):
            cls = getattr(getattr(pulumi_aws, module), name)
            init = getattr(cls, "_internal_init", None)
            if init is None:  # an *Args class, not a resource
                continue
            kinds.update(re.findall(r"'(aws:[^']+)'", inspect.getsource(init)))
    return kinds


def rendered_kinds(stack: str) -> frozenset[str]:
    return frozenset(resource.type for resource in render(stack).resources)


# --- the catalogue ---


def test_control_ids_are_unique_and_well_formed():
    ids = [control.id for control in CONTROLS]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Za-z0-9]+\.\d+", control_id) for control_id in ids)


@pytest.mark.parametrize("control", CONTROLS, ids=lambda control: control.id)
def test_every_holder_is_a_policy_of_the_pack_with_that_setting(control: Control):
    for holder in control.held_by:
        policy = POLICIES_BY_NAME.get(holder.policy)
        assert policy is not None, f"{control.id}: no policy named {holder.policy}"
        if holder.setting is not None:
            assert policy.config_schema is not None
            assert holder.setting in policy.config_schema.properties


def test_every_kind_the_components_can_create_is_in_the_catalogue():
    found = kinds_in_source()
    assert "aws:ecr/repository:Repository" in found  # only a building stack creates it
    assert found - KNOWN_KINDS == set()


@pytest.mark.parametrize("stack", STACKS)
def test_every_kind_a_stack_renders_is_in_the_catalogue(stack: str):
    aws_kinds = {kind for kind in rendered_kinds(stack) if kind.startswith("aws:")}
    assert aws_kinds - KNOWN_KINDS == set()


# --- each stack's config accounts for every control ---


@pytest.mark.parametrize("stack", STACKS)
def test_every_control_judging_the_stack_is_held_or_excepted_not_both(stack: str):
    found = standings(ALL_POLICIES, load_policy_config(stack), rendered_kinds(stack))
    assert len(found) > 80
    assert [s.problem for s in found if s.problem] == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_exception_judges_something_the_stack_renders(stack: str):
    assert stale_exceptions(stack, load_policy_config(stack)) == []


def test_an_exception_for_a_kind_the_stack_lacks_is_stale():
    config = load_policy_config("prod")
    config[POLICY_NAME]["exceptions"]["ECS.12"] = REASON  # a kind prod has: not stale
    config[POLICY_NAME]["exceptions"]["ECR.5"] = REASON  # prod promotes staging's image: stale
    assert stale_exceptions("prod", config) == ["ECR.5"]


def stale_exceptions(stack: str, config: dict[str, Any]) -> list[str]:
    judged = {s.control.id for s in standings(ALL_POLICIES, config, rendered_kinds(stack))}
    return sorted(set(config[POLICY_NAME]["exceptions"]) - judged)


def test_a_disabled_holder_needs_an_exception():
    config = load_policy_config("prod")
    config["alb-access-logs-enabled"] = {"enforcementLevel": "disabled"}
    found = {s.control.id: s for s in standings(ALL_POLICIES, config, rendered_kinds("prod"))}
    assert found["ELB.5"].problem == "ELB.5 is neither held nor excepted with a reason"


def test_a_holder_setting_that_no_longer_holds_needs_an_exception():
    config = load_policy_config("prod")
    config["log-group-retention"] = {"enforcementLevel": "mandatory", "minRetentionDays": 90}
    found = {s.control.id: s for s in standings(ALL_POLICIES, config, rendered_kinds("prod"))}
    assert not found["CloudWatch.16"].held


def test_an_exception_for_a_held_control_is_stale():
    config = load_policy_config("prod")
    config[POLICY_NAME]["exceptions"]["ELB.4"] = REASON
    found = {s.control.id: s for s in standings(ALL_POLICIES, config, rendered_kinds("prod"))}
    assert "drop the exception" in (found["ELB.4"].problem or "")


def test_holder_comparisons():
    policies = POLICIES_BY_NAME
    config = {"log-group-retention": {"minRetentionDays": 400}}
    assert _holds(
        Holder("log-group-retention", "minRetentionDays", 365, "at_least"), policies, config
    )
    assert not _holds(
        Holder("log-group-retention", "minRetentionDays", 500, "at_least"), policies, config
    )
    assert not _holds(Holder("no-such-policy"), policies, {})
    alarms = {"promised-alarms-present": {"requiredAlarms": ["root-account-usage"]}}
    holder = Holder("promised-alarms-present", "requiredAlarms", "root-account-usage")
    assert _holds(holder, policies, alarms)
    assert not _holds(holder, policies, {"promised-alarms-present": {"requiredAlarms": []}})


# --- every exception in every stack's config names a reason ---


def reason_maps() -> list[tuple[str, str, str]]:
    """(policy, setting, stack) for every setting whose values are reasons (non-blank strings)."""
    found: list[tuple[str, str, str]] = []
    for policy in ALL_POLICIES:
        schema = policy.config_schema.properties if policy.config_schema else {}
        for setting, spec in schema.items():
            values = spec.get("additionalProperties") if isinstance(spec, dict) else None
            if isinstance(values, dict) and values.get("pattern") == "\\S":
                found.extend(
                    (policy.name, setting, path.stem) for path in sorted(CONFIG_DIR.glob("*.json"))
                )
    return found


def test_the_reason_maps_include_every_kind_of_exception():
    settings = {(policy, setting) for policy, setting, _ in reason_maps()}
    assert {
        (POLICY_NAME, "exceptions"),
        ("service-principal-source-condition", "serviceExceptions"),
        ("s3-bucket-kms-encryption", "sseS3Buckets"),
    } <= settings


@pytest.mark.parametrize(("policy", "setting", "stack"), reason_maps())
def test_each_exception_in_the_config_names_a_reason(policy: str, setting: str, stack: str):
    entry = json.loads((CONFIG_DIR / f"{stack}.json").read_text()).get(policy) or {}
    for key, reason in (entry.get(setting) or {}).items():
        assert isinstance(reason, str), f"{stack} {policy} {key}"
        assert len(reason.split()) >= 8, f"{stack} {policy} {key}: {reason!r}"


# --- the stack policy, with the SDK's argument types ---


def test_the_policy_passes_when_every_holderless_control_is_excepted(run_stack):
    resources = [stack_resource(BUCKET, {}), stack_resource(ROUTE, {})]
    holderless = [c.id for c in CONTROLS if BUCKET in c.kinds and not c.held_by]
    exceptions = dict.fromkeys(holderless, REASON)
    assert run_stack(POLICY_NAME, resources, {"exceptions": exceptions}) == []


def test_the_policy_refuses_a_holderless_control_without_exception(run_stack):
    reported = run_stack(POLICY_NAME, [stack_resource(BUCKET, {})], {"exceptions": {}})
    messages = [message for message, _ in reported]
    assert any(message.startswith("S3.7 (") for message in messages)
    assert not any(message.startswith("S3.14 (") for message in messages)  # held


def test_the_policy_refuses_a_kind_the_catalogue_does_not_know(run_stack):
    unknown = "aws:rds/instance:Instance"
    reported = run_stack(POLICY_NAME, [stack_resource(unknown, {})])
    assert [message for message, _ in reported] == [
        f"The stack creates '{unknown}', which the controls catalogue (policies/controls.py) "
        "does not know: list the FSBP/CIS controls that judge it (or say none does)."
    ]


@pytest.mark.parametrize(
    ("exceptions", "problem"),
    [
        ({"S3.99": REASON}, "names no control of the catalogue"),
        ({"S3.7": "  "}, "names no reason"),
    ],
)
def test_the_policy_refuses_bad_exceptions(run_stack, exceptions, problem):
    holderless = dict.fromkeys(
        (c.id for c in CONTROLS if BUCKET in c.kinds and not c.held_by), REASON
    )
    reported = run_stack(
        POLICY_NAME, [stack_resource(BUCKET, {})], {"exceptions": holderless | exceptions}
    )
    assert len(reported) == 1
    assert problem in reported[0][0]


def test_non_aws_kinds_are_not_judged(run_stack):
    resources = [stack_resource("cloudflare:index/dnsRecord:DnsRecord", {})]
    assert run_stack(POLICY_NAME, resources) == []


# --- the README's table ---


def test_the_readme_tables_are_generated_from_the_pack_catalogue_and_configs():
    generated = readme_tables.blocks({stack: rendered_kinds(stack) for stack in STACKS})
    readme = (ROOT / "README.md").read_text()
    for block, text in generated.items():
        assert readme_tables.readme_copy(readme, block) == text, f"stale {block} table"
    assert all(f"| {control_id}" in generated["controls"] for control_id in ("S3.9", "KMS.4"))
    assert all(f"`{policy.name}`" in generated["policies"] for policy in ALL_POLICIES)


def test_a_stale_readme_table_fails_the_check(tmp_path, monkeypatch):
    monkeypatch.setattr(readme_tables, "stack_kinds", rendered_kinds)
    stale = tmp_path / "README.md"
    stale.write_text(
        "".join(
            f"{readme_tables.begin(b)}\nold\n{readme_tables.end(b)}\n"
            for b in ("policies", "controls")
        )
    )
    assert readme_tables.main(["--check", str(stale)]) == 1
    assert readme_tables.main(["--write", str(stale)]) == 0
    assert readme_tables.main(["--check", str(stale)]) == 0


def test_missing_markers_are_named(tmp_path, monkeypatch, capsys):
    with pytest.raises(ValueError, match="controls"):
        readme_tables.rewritten("no markers", {"controls": "x"})
    monkeypatch.setattr(readme_tables, "stack_kinds", rendered_kinds)
    unmarked = tmp_path / "README.md"
    unmarked.write_text("no markers\n")
    assert readme_tables.main(["--write", str(unmarked)]) == 2
    assert "markers" in capsys.readouterr().err
    assert unmarked.read_text() == "no markers\n"  # nothing half-written


def test_standing_problem_names_the_control():
    control = CONTROL_BY_ID["S3.7"]
    assert Standing(control, held=False, reason="").problem == (
        "S3.7 is neither held nor excepted with a reason"
    )
    assert Standing(control, held=False, reason=REASON).problem is None
