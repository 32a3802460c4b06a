"""Rotating one credential changes exactly its secret version and the service's deployment."""

from plan.render import render_stack
from tests.components.conftest import DUMMY_SECRETS

ROTATED = {**DUMMY_SECRETS, "supabaseAnonKey": "dummy-rotated-anon-key-4b2d"}


def changed_urns(before, after):
    """URNs whose inputs or outputs differ; secret inputs are compared through their outputs'
    computed fields (a new value gives a new version id)."""
    return {
        resource.urn
        for resource in after.resources
        if resource.inputs != before.by_urn(resource.urn).inputs
        or resource.outputs != before.by_urn(resource.urn).outputs
    }


def test_one_rotation_touches_its_secret_version_and_the_service_only():
    before = render_stack("prod", secret_values=DUMMY_SECRETS)
    after = render_stack("prod", secret_values=ROTATED)

    assert {r.urn for r in before.resources} == {r.urn for r in after.resources}
    changed = changed_urns(before, after)

    assert {before.by_urn(urn).name for urn in changed} == {
        "secrets-supabase-value",
        "app-service",
    }
    service = after.get("aws:ecs/service:Service", "app-service")
    old_service = before.by_urn(service.urn)
    assert service.inputs["triggers"] != old_service.inputs["triggers"]
    assert {k: v for k, v in service.inputs.items() if k != "triggers"} == {
        k: v for k, v in old_service.inputs.items() if k != "triggers"
    }
    # Full capacity during the roll: no task stops before its replacement is healthy.
    assert service.inputs["deploymentMinimumHealthyPercent"] == 100
    assert service.inputs["deploymentMaximumPercent"] == 200


def test_the_rotated_value_is_in_no_rendered_input_or_export():
    rendering = render_stack("prod", secret_values=ROTATED)
    text = repr([(r.inputs, r.outputs) for r in rendering.resources]) + repr(rendering.exports)
    assert ROTATED["supabaseAnonKey"] not in text


def test_an_origin_secret_rotation_touches_only_the_forwarding_rule():
    """Step 1 (previous = current, current = new) and step 2 (previous cleared) change the
    listener rule's accepted values only; no task is replaced (the app never sees the secret)."""
    current = DUMMY_SECRETS["originAuthSecret"]
    before = render_stack("prod", secret_values={**DUMMY_SECRETS, "originAuthSecretPrevious": ""})
    rotating = render_stack(
        "prod",
        secret_values={
            **DUMMY_SECRETS,
            "originAuthSecret": "RotatedOriginSecret4b2d000000000000",  # pragma: allowlist secret
            "originAuthSecretPrevious": current,
        },
    )
    for after in (rotating,):
        assert {r.urn for r in before.resources} == {r.urn for r in after.resources}
        changed = {before.by_urn(urn).name for urn in changed_urns(before, after)}
        assert changed <= {"load-balancer-forward-from-edge"}
