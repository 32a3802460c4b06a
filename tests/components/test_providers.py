"""Tags: two explicit AWS providers carry the default tags, and every AWS resource uses one."""

import json

import pytest

REQUIRED_TAGS = {"project", "environment", "owner", "managed-by"}


def providers(rendering):
    return {r.name: r for r in rendering.of_type("pulumi:providers:aws")}


def test_providers_carry_the_required_default_tags(rendering):
    found = providers(rendering)
    assert sorted(found) == ["aws", "aws-us-east-1"]
    environment = {"staging": "staging", "prod": "production"}[rendering.stack]
    for provider in found.values():
        tags = json.loads(provider.inputs["defaultTags"])["tags"]
        assert tags == {
            "project": "miko-platform",
            "environment": environment,
            "owner": "platform-team",
            "managed-by": "pulumi",
        }
    assert found["aws"].inputs["region"] == "us-west-2"
    assert found["aws-us-east-1"].inputs["region"] == "us-east-1"


def test_every_aws_resource_uses_an_explicit_provider(rendering):
    explicit = {f"{p.urn}::{p.outputs['id']}" for p in providers(rendering).values()}
    aws_resources = [r for r in rendering.resources if r.type.startswith("aws:")]
    assert len(aws_resources) > 50
    for resource in aws_resources:
        assert resource.provider in explicit, resource.urn


def test_only_the_health_check_alarm_and_its_topic_live_in_us_east_1(rendering):
    us_east_1 = next(
        f"{p.urn}::{p.outputs['id']}"
        for p in providers(rendering).values()
        if p.name == "aws-us-east-1"
    )
    names = sorted(r.name for r in rendering.resources if r.provider == us_east_1)
    assert "alarms-external-health-check" in names
    assert all(name.startswith("alarms-") for name in names), names


@pytest.mark.parametrize("owner", ["data team"])
def test_owner_tag_comes_from_config(render_with, owner):
    rendering = render_with("staging", {"owner": owner})
    tags = json.loads(providers(rendering)["aws"].inputs["defaultTags"])["tags"]
    assert tags["owner"] == owner
