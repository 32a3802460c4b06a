"""The desired-state diff names every added, removed and changed resource and property."""

import json

from plan.diff import PlannedResource, diff_states, flatten

URN = "urn:pulumi:staging::miko-platform::"


def resource(name, type_="aws:ec2/securityGroup:SecurityGroup", protect=False, **inputs):
    return PlannedResource(
        urn=f"{URN}{type_}::{name}", type=type_, name=name, inputs=inputs, protect=protect
    )


def test_flatten_reaches_into_json_documents_and_lists():
    definitions = json.dumps([{"name": "app", "readonlyRootFilesystem": True}])
    assert flatten({"containerDefinitions": definitions, "tags": {"a": "b"}}) == {
        "containerDefinitions[0].name": "app",
        "containerDefinitions[0].readonlyRootFilesystem": True,
        "tags.a": "b",
    }


def test_identical_states_have_no_changes():
    state = [resource("tasks", description="tasks"), resource("alb", description="alb")]
    assert diff_states(state, list(reversed(state))) == []


def test_added_removed_and_changed_resources_are_named():
    base = [resource("kept", ingress=[{"cidrBlocks": ["10.0.0.0/16"]}]), resource("gone")]
    head = [resource("kept", ingress=[{"cidrBlocks": ["0.0.0.0/0"]}]), resource("new")]

    changes = {change.urn.rsplit("::", 1)[1]: change for change in diff_states(base, head)}

    assert changes["new"].kind == "add"
    assert changes["gone"].kind == "remove"
    [opened] = changes["kept"].properties
    assert (opened.path, opened.before, opened.after) == (
        "ingress[0].cidrBlocks[0]",
        "10.0.0.0/16",
        "0.0.0.0/0",
    )


def test_a_property_that_appears_or_disappears_is_a_change():
    changes = diff_states([resource("sg")], [resource("sg", revokeRulesOnDelete=True)])
    assert [(p.path, p.before, p.after) for p in changes[0].properties] == [
        ("revokeRulesOnDelete", None, True)
    ]


def test_protection_changes_are_shown():
    changes = diff_states([resource("key", protect=True)], [resource("key", protect=False)])
    assert [(p.path, p.before, p.after) for p in changes[0].properties] == [
        ("(protect)", True, False)
    ]


def test_json_round_trip_keeps_every_field():
    original = resource("sg", protect=True, description="x")
    assert PlannedResource.from_json(original.to_json()) == original
