"""Runs the real policy pack over a rendering, through `policies.evaluate` and the SDK's types."""

from collections.abc import Mapping
from typing import Any

from plan.render import RenderedResource, Rendering
from plan.report import Finding
from policies.evaluate import PlannedProvider, PlannedResource, evaluate, load_policy_config

PROVIDER_TYPE_PREFIX = "pulumi:providers:"


def _provider_urn(reference: str) -> str:
    """A provider reference is `<provider urn>::<provider id>`."""
    return reference.rsplit("::", 1)[0]


def _providers(rendering: Rendering) -> dict[str, PlannedProvider]:
    return {
        resource.urn: PlannedProvider(
            type=resource.type, urn=resource.urn, name=resource.name, props=resource.inputs
        )
        for resource in rendering.resources
        if resource.type.startswith(PROVIDER_TYPE_PREFIX)
    }


def planned_resources(rendering: Rendering) -> list[PlannedResource]:
    """The rendering's custom resources as the policy pack sees them (providers excluded)."""
    providers = _providers(rendering)

    def planned(resource: RenderedResource) -> PlannedResource:
        return PlannedResource(
            type=resource.type,
            name=resource.name,
            urn=resource.urn,
            props=resource.inputs,
            parent=resource.parent or None,
            protect=resource.protect,
            provider=providers.get(_provider_urn(resource.provider)),
            outputs=resource.outputs,
            dependencies=resource.dependencies,
        )

    return [
        planned(resource)
        for resource in rendering.resources
        if resource.custom and not resource.type.startswith(PROVIDER_TYPE_PREFIX)
    ]


def check_policies(
    rendering: Rendering, policy_config: Mapping[str, Any] | None = None
) -> list[Finding]:
    config = load_policy_config(rendering.stack) if policy_config is None else policy_config
    return [
        Finding(
            policy=violation.policy_name,
            level=violation.enforcement_level,
            message=violation.message,
            urn=violation.urn or None,
        )
        for violation in evaluate(planned_resources(rendering), config)
    ]
