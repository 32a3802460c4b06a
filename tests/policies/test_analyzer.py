"""The pack served the way `pulumi preview --policy-pack policies` serves it, driven over gRPC.

The CLI's analyzer shim runs `python -u -m pulumi.policy <engine> <pack dir>` inside the pack
folder; the pack prints its port and answers the Analyzer service. Here the test plays the
engine, and checks that `evaluate` reports what the analyzer reports for the same resources.
"""

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.evaluate import PlannedResource, evaluate, load_policy_config
from policies.pack import ALL_POLICIES
from tests.policies.conftest import REQUIRED_TAGS, planned_aws_provider, planned_resource

pytestmark = pytest.mark.network

POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"
LEVELS = {proto.ADVISORY: "advisory", proto.MANDATORY: "mandatory"}
TAGS = {**REQUIRED_TAGS, "environment": "staging"}
PROVIDER = planned_aws_provider(
    {"region": "eu-west-1", "defaultTags": '{"tags": {"project": "miko-platform"}}'}, "staging"
)


def planned(
    resource_type: str, name: str, props: Mapping[str, Any], **kwargs: Any
) -> PlannedResource:
    return planned_resource(
        resource_type, name, props, stack="staging", provider=PROVIDER, **kwargs
    )


BUCKET = planned("aws:s3/bucket:Bucket", "dumps", {"tags": TAGS})
RESOURCES = [
    planned("aws:ecr/repository:Repository", "repo", {"imageTagMutability": "MUTABLE"}),
    planned("aws:kms/key:Key", "key", {"enableKeyRotation": UNKNOWN_STRING_VALUE, "tags": TAGS}),
    planned(
        "aws:secretsmanager/secret:Secret",
        "supabase",
        {"kmsKeyId": "arn:k", "tags": {**TAGS, "rotated-on": "2020-01-01"}},
    ),
    BUCKET,
    planned(
        "aws:s3/bucketVersioning:BucketVersioning",
        "dumps-versioning",
        {"bucket": UNKNOWN_STRING_VALUE, "versioningConfiguration": {"status": "Enabled"}},
        property_dependencies={"bucket": [BUCKET.urn]},
    ),
]


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    json_format.ParseDict(dict(values), struct)
    return struct


def _provider(resource: PlannedResource) -> proto.AnalyzerProviderResource:
    provider = resource.provider
    assert provider is not None
    return proto.AnalyzerProviderResource(
        type=provider.type, properties=_struct(provider.props), urn=provider.urn, name=provider.name
    )


def _resource_fields(resource: PlannedResource) -> dict[str, Any]:
    """What an AnalyzeRequest and a stack's AnalyzerResource both say of a resource."""
    return {
        "type": resource.type,
        "properties": _struct(resource.props),
        "urn": resource.urn,
        "name": resource.name,
        "options": proto.AnalyzerResourceOptions(protect=resource.protect),
        "provider": _provider(resource),
    }


def _analyze_request(resource: PlannedResource) -> proto.AnalyzeRequest:
    return proto.AnalyzeRequest(**_resource_fields(resource))


def _stack_resource(resource: PlannedResource) -> proto.AnalyzerResource:
    message = proto.AnalyzerResource(**_resource_fields(resource))
    for prop, urns in resource.property_dependencies.items():
        message.propertyDependencies[prop].urns.extend(urns)
    return message


def _policy_config(config: Mapping[str, Any]) -> proto.ConfigureAnalyzerRequest:
    request = proto.ConfigureAnalyzerRequest()
    for name, entry in config.items():
        level = entry if isinstance(entry, str) else entry["enforcementLevel"]
        properties = (
            {}
            if isinstance(entry, str)
            else {k: v for k, v in entry.items() if k != "enforcementLevel"}
        )
        enum = {
            "advisory": proto.ADVISORY,
            "mandatory": proto.MANDATORY,
            "disabled": proto.DISABLED,
        }[level]
        request.policyConfig[name].CopyFrom(
            proto.PolicyConfig(enforcementLevel=enum, properties=_struct(properties))
        )
    return request


@pytest.fixture(scope="module")
def analyzer() -> Iterator[Any]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
            cwd=POLICIES_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        try:
            with ThreadPoolExecutor(max_workers=1) as pool:
                port = pool.submit(process.stdout.readline).result(timeout=60).decode().strip()  # type: ignore[union-attr]
            if not port.isdigit():
                stderr.seek(0)
                pytest.fail(f"policy pack did not start: {stderr.read().decode()[-2000:]}")
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                yield analyzer_pb2_grpc.AnalyzerStub(channel)
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_analyzer_announces_every_policy_with_its_schema(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == "miko-platform-policies"
    assert [policy.name for policy in info.policies] == [policy.name for policy in ALL_POLICIES]
    by_name = {policy.name: policy for policy in info.policies}
    assert "maxSecretAgeDays" in by_name["secret-rotation-age"].configSchema.properties
    assert by_name["s3-bucket-versioning"].policy_type == proto.PolicyType.POLICY_TYPE_STACK


def _diagnostics(response: Any) -> set[tuple[str, str, str]]:
    return {(d.policyName, LEVELS[d.enforcementLevel], d.urn) for d in response.diagnostics}


def test_analyzer_and_evaluate_report_the_same_violations(analyzer):
    config = load_policy_config("staging")
    config["secret-rotation-age"]["today"] = "2026-11-25"
    analyzer.Configure(_policy_config(config), timeout=30)
    from_engine: set[tuple[str, str, str]] = set()
    for resource in RESOURCES:
        response = analyzer.Analyze(_analyze_request(resource), timeout=30)
        from_engine |= {
            (name, level, urn or resource.urn) for name, level, urn in _diagnostics(response)
        }
    stack = proto.AnalyzeStackRequest(resources=[_stack_resource(r) for r in RESOURCES])
    from_engine |= _diagnostics(analyzer.AnalyzeStack(stack, timeout=30))

    offline = {(v.policy_name, v.enforcement_level, v.urn) for v in evaluate(RESOURCES, config)}
    assert offline == from_engine
    assert ("ecr-immutable-tags", "mandatory", RESOURCES[0].urn) in offline
    assert ("secret-rotation-age", "advisory", RESOURCES[2].urn) in offline
    assert ("s3-bucket-public-access-block", "mandatory", BUCKET.urn) in offline
    assert not any(
        name in ("kms-key-rotation-enabled", "s3-bucket-versioning") for name, _, _ in offline
    )
    assert any(name == "required-tags" and urn == RESOURCES[0].urn for name, _, urn in offline)
