"""Call the real policies with the SDK's own argument types and collect what they report."""

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import unknown_checking_proxy

from policies.evaluate import PlannedProvider, PlannedResource
from policies.pack import ALL_POLICIES

AWS_PROVIDER_TYPE = "pulumi:providers:aws"
REQUIRED_TAGS = {
    "project": "miko-platform",
    "environment": "prod",
    "owner": "platform",
    "managed-by": "pulumi",
}
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234"
TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:miko-alarms"


def find_policy(name: str) -> Policy:
    matches = [policy for policy in ALL_POLICIES if policy.name == name]
    assert matches, f"no policy named {name}"
    return matches[0]


def urn_of(resource_type: str, name: str, stack: str = "prod") -> str:
    return f"urn:pulumi:{stack}::miko-platform::{resource_type}::{name}"


def planned_aws_provider(props: Mapping[str, Any], stack: str = "prod") -> PlannedProvider:
    """The explicit aws provider, as `policies.evaluate` takes it."""
    return PlannedProvider(AWS_PROVIDER_TYPE, urn_of(AWS_PROVIDER_TYPE, "aws", stack), "aws", props)


def planned_resource(
    resource_type: str, name: str, props: Mapping[str, Any], *, stack: str = "prod", **kwargs: Any
) -> PlannedResource:
    """A resource as `policies.evaluate` takes it, with the URN the engine gives it in `stack`."""
    return PlannedResource(
        type=resource_type,
        name=name,
        urn=urn_of(resource_type, name, stack),
        props=props,
        **kwargs,
    )


def options(protect: bool = False, parent: str | None = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)


def aws_provider(props: Mapping[str, Any] | None = None) -> PolicyProviderResource:
    return PolicyProviderResource(
        AWS_PROVIDER_TYPE,
        unknown_checking_proxy(dict(props or {})),
        urn_of(AWS_PROVIDER_TYPE, "aws"),
        "aws",
    )


def resource_args(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    name: str = "subject",
    config: Mapping[str, Any] | None = None,
    protect: bool = False,
    provider: PolicyProviderResource | None = None,
) -> ResourceValidationArgs:
    """Args as the analyzer builds them: props behind the SDK's unknown-checking proxy."""
    return ResourceValidationArgs(
        resource_type,
        unknown_checking_proxy(dict(props)),
        urn_of(resource_type, name),
        name,
        options(protect),
        provider,
        dict(config or {}),
    )


def stack_resource(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    name: str = "subject",
    depends_on: Mapping[str, list[PolicyResource]] | None = None,
) -> PolicyResource:
    return PolicyResource(
        resource_type,
        unknown_checking_proxy(dict(props)),
        urn_of(resource_type, name),
        name,
        options(),
        None,
        None,
        [dependency for dependencies in (depends_on or {}).values() for dependency in dependencies],
        dict(depends_on or {}),
    )


Reported = list[tuple[str, str | None]]


def _collect() -> tuple[Reported, Callable[[str, str | None], None]]:
    reported: Reported = []

    def report_violation(message: str, urn: str | None = None) -> None:
        assert isinstance(message, str)
        assert message
        reported.append((message, urn))

    return reported, report_violation


@pytest.fixture
def run_resource() -> Callable[..., list[str]]:
    """run_resource(policy_name, resource_type, props, **resource_args kwargs) -> messages."""

    def run(
        policy_name: str, resource_type: str, props: Mapping[str, Any], **kwargs: Any
    ) -> list[str]:
        reported, report_violation = _collect()
        result = find_policy(policy_name).validate(  # type: ignore[attr-defined]
            resource_args(resource_type, props, **kwargs), report_violation
        )
        assert result is None
        return [message for message, _ in reported]

    return run


@pytest.fixture
def run_stack() -> Callable[..., Reported]:
    """run_stack(policy_name, resources, config=None) -> [(message, urn)]."""

    def run(
        policy_name: str, resources: list[PolicyResource], config: Mapping[str, Any] | None = None
    ) -> Reported:
        reported, report_violation = _collect()
        find_policy(policy_name).validate(  # type: ignore[attr-defined]
            StackValidationArgs(resources, dict(config or {})), report_violation
        )
        return reported

    return run
