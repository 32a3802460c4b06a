import json

import pytest

from policies.taggable_types import sdk_taggable_types
from policies.tagging import taggable_types
from tests.policies.conftest import REQUIRED_TAGS, aws_provider

BUCKET = "aws:s3/bucket:Bucket"


def provider_with_default_tags(tags, as_json=True):
    block = {"tags": tags}
    return aws_provider(
        {"region": "eu-west-1", "defaultTags": json.dumps(block) if as_json else block}
    )


@pytest.mark.parametrize("as_json", [True, False])
def test_tags_from_provider_defaults_pass(run_resource, as_json):
    provider = provider_with_default_tags(REQUIRED_TAGS, as_json)
    assert (
        run_resource("required-tags", BUCKET, {"tags": {"Name": "dumps"}}, provider=provider) == []
    )


def test_own_tags_merge_with_provider_defaults(run_resource):
    provider = provider_with_default_tags({"project": "miko-platform", "managed-by": "pulumi"})
    own = {"environment": "prod", "owner": "platform"}
    assert run_resource("required-tags", BUCKET, {"tags": own}, provider=provider) == []


def test_missing_tags_are_reported_by_key(run_resource):
    provider = provider_with_default_tags({"project": "miko-platform"})
    messages = run_resource("required-tags", BUCKET, {}, provider=provider)
    assert len(messages) == 1
    assert "environment, owner, managed-by" in messages[0]


def test_untagged_resource_without_provider_is_reported(run_resource):
    assert run_resource("required-tags", "aws:ecs/service:Service", {})


def test_wrong_managed_by_value_is_reported(run_resource):
    messages = run_resource(
        "required-tags", BUCKET, {"tags": {**REQUIRED_TAGS, "managed-by": "console"}}
    )
    assert messages
    assert "managed-by=pulumi" in messages[0]


def test_untaggable_types_are_skipped(run_resource):
    assert run_resource("required-tags", "aws:s3/bucketPolicy:BucketPolicy", {}) == []
    assert run_resource("required-tags", "cloudflare:index/ruleset:Ruleset", {}) == []


def test_taggable_type_list_matches_the_installed_sdk():
    assert sorted(taggable_types()) == sdk_taggable_types()
    assert {
        "aws:s3/bucket:Bucket",
        "aws:ecs/service:Service",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
    } <= taggable_types()
    assert "aws:s3/bucketPolicy:BucketPolicy" not in taggable_types()
