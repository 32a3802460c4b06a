"""The desired-state diff names every added, removed and changed resource and property."""

import json

from plan.diff import diff_states, flatten
from plan.render import RenderedResource
from tests.plan.builders import make_resource

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"


def resource(name, protect=False, **inputs):
    return make_resource(SECURITY_GROUP, name, protect=protect, **inputs)


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
    assert RenderedResource.from_json(json.loads(json.dumps(original.to_json()))) == original
