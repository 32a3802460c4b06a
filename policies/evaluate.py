"""Run the pack without the engine: the offline plan's entry point into the real policies.

`evaluate` builds the SDK's own argument types (ResourceValidationArgs, StackValidationArgs,
PolicyResource, PolicyResourceOptions, PolicyProviderResource) the way the analyzer server does
(props behind `unknown_checking_proxy`, config numbers as JSON doubles, stack policies seeing
inputs overlaid with outputs) and applies each policy's enforcement level from the stack's
policy config (`policies/config/<stack>.json`, the `--policy-pack-config` format).
"""

import asyncio
import inspect
import json
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from policies.pack import ALL_POLICIES

CONFIG_DIR = Path(__file__).with_name("config")


@dataclass(frozen=True)
class PlannedProvider:
    """The explicit or default provider a resource was registered with."""

    type: str  # e.g. "pulumi:providers:aws"
    urn: str
    name: str
    props: Mapping[str, Any] = field(
        default_factory=dict
    )  # e.g. {"region": ..., "defaultTags": ...}


@dataclass(frozen=True)
class PlannedResource:
    """One resource of a rendered stack, in the shape the policies need."""

    type: str  # type token, e.g. "aws:s3/bucket:Bucket"
    name: str
    urn: str
    props: Mapping[str, Any]  # inputs with the engine's camelCase names
    parent: str | None = None  # parent URN
    protect: bool = False
    provider: PlannedProvider | None = None
    outputs: Mapping[str, Any] = field(default_factory=dict)  # mock outputs (ids, ARNs)
    resource_id: str | None = None
    dependencies: Sequence[str] = ()  # URNs
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)  # prop -> URNs


@dataclass(frozen=True)
class Violation:
    policy_name: str
    enforcement_level: str  # "mandatory" or "advisory"
    message: str
    urn: str  # "" when a stack policy reports the stack as a whole
    description: str


def load_policy_config(stack: str) -> dict[str, Any]:
    """The committed policy config of a stack; ValueError naming the stacks that have one."""
    path = CONFIG_DIR / f"{stack}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.json")))
        raise ValueError(f"no policy config for stack {stack!r} (have: {known})")
    loaded = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: expected a JSON object of policy name to settings")
    return loaded


def _level(value: Any, where: str) -> EnforcementLevel:
    try:
        return EnforcementLevel(value)
    except ValueError:
        allowed = ", ".join(level.value for level in EnforcementLevel)
        raise ValueError(f"{where}: enforcement level {value!r} is not one of {allowed}") from None


def policy_settings(
    policy: Policy, stack_config: Mapping[str, Any]
) -> tuple[EnforcementLevel, dict[str, Any]]:
    """The enforcement level and config properties the engine would give `policy`."""
    entry = stack_config.get(policy.name)
    pack_wide = stack_config.get("all")  # the CLI's key for every policy of the pack
    default_level = (
        _level(pack_wide, "all")
        if isinstance(pack_wide, str)
        else policy.enforcement_level or EnforcementLevel.ADVISORY
    )
    if entry is None:
        return default_level, {}
    if isinstance(entry, str):
        return _level(entry, policy.name), {}
    properties = {key: value for key, value in entry.items() if key != "enforcementLevel"}
    known = set(policy.config_schema.properties) if policy.config_schema else set()
    unknown = sorted(set(properties) - known)
    if unknown:
        raise ValueError(f"policy config for {policy.name!r} has unknown properties: {unknown}")
    level = entry.get("enforcementLevel")
    # The engine passes config through a protobuf Struct, where every number is a double.
    as_engine_sends = json.loads(json.dumps(properties), parse_int=float)
    return (_level(level, policy.name) if level else default_level), as_engine_sends


def _check_config_names(policies: Sequence[Policy], stack_config: Mapping[str, Any]) -> None:
    unknown = sorted(set(stack_config) - {policy.name for policy in policies} - {"all"})
    if unknown:
        raise ValueError(f"policy config names policies the pack does not have: {unknown}")


def _options(resource: PlannedResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent,
    )


def _plain_containers(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _plain_containers(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_containers(item) for item in value]
    return value


def _proxied(props: Mapping[str, Any]) -> Mapping[str, Any]:
    proxy: Mapping[str, Any] = unknown_checking_proxy(_plain_containers(props))
    return proxy


def _provider(resource: PlannedResource) -> PolicyProviderResource | None:
    provider = resource.provider
    if provider is None:
        return None
    return PolicyProviderResource(
        provider.type, _proxied(provider.props), provider.urn, provider.name
    )


def _stack_resources(resources: Sequence[PlannedResource]) -> list[PolicyResource]:
    """PolicyResources linked to their parents and dependencies, as the analyzer links them."""
    built: dict[str, PolicyResource] = {}
    for resource in resources:
        state = {**resource.props, **resource.outputs}
        if resource.resource_id is not None:
            state.setdefault("id", resource.resource_id)
        built[resource.urn] = PolicyResource(
            resource.type,
            _proxied(state),
            resource.urn,
            resource.name,
            _options(resource),
            _provider(resource),
            None,
            [],
            {},
        )
    for resource in resources:
        policy_resource = built[resource.urn]
        policy_resource.parent = built.get(resource.parent) if resource.parent else None
        policy_resource.dependencies = [built[urn] for urn in resource.dependencies if urn in built]
        policy_resource.property_dependencies = {
            prop: [built[urn] for urn in urns if urn in built]
            for prop, urns in resource.property_dependencies.items()
        }
    return list(built.values())


def _run(result: Awaitable[Any] | None) -> None:
    if result is not None and inspect.isawaitable(result):
        asyncio.run(_await(result))


async def _await(result: Awaitable[Any]) -> None:
    await result


class _Collector:
    def __init__(self, policy: Policy, level: EnforcementLevel) -> None:
        self.policy = policy
        self.level = EnforcementLevel.MANDATORY if level == EnforcementLevel.REMEDIATE else level
        self.violations: list[Violation] = []

    def reporter(self, default_urn: str) -> Any:
        def report_violation(message: str, urn: str | None = None) -> None:
            self.add(message, urn or default_urn)

        return report_violation

    def add(self, message: str, urn: str, level: EnforcementLevel | None = None) -> None:
        self.violations.append(
            Violation(
                policy_name=self.policy.name,
                enforcement_level=(level or self.level).value,
                message=message,
                urn=urn,
                description=self.policy.description,
            )
        )

    def validate(
        self, args: ResourceValidationArgs | StackValidationArgs, default_urn: str
    ) -> None:
        try:
            _run(self.policy.validate(args, self.reporter(default_urn)))  # type: ignore[attr-defined]
        except UnknownValueError as unknown:
            # The engine downgrades a policy that trips on an unknown value to an advisory note.
            self.add(
                f"can't run policy during preview: {unknown.message}",
                default_urn,
                EnforcementLevel.ADVISORY,
            )


def evaluate(
    resources: Sequence[PlannedResource],
    stack_config: Mapping[str, Any],
    policies: Sequence[Policy] = ALL_POLICIES,
) -> list[Violation]:
    """Every violation the policies report for `resources` under the stack's policy config."""
    _check_config_names(policies, stack_config)
    stack_resources: list[PolicyResource] | None = None
    violations: list[Violation] = []
    for policy in policies:
        level, config = policy_settings(policy, stack_config)
        if level == EnforcementLevel.DISABLED:
            continue
        collector = _Collector(policy, level)
        if isinstance(policy, ResourceValidationPolicy):
            for resource in resources:
                args = ResourceValidationArgs(
                    resource.type,
                    _proxied(resource.props),
                    resource.urn,
                    resource.name,
                    _options(resource),
                    _provider(resource),
                    config,
                )
                collector.validate(args, resource.urn)
        elif isinstance(policy, StackValidationPolicy):
            stack_resources = stack_resources or _stack_resources(resources)
            collector.validate(StackValidationArgs(stack_resources, config), "")
        violations.extend(collector.violations)
    return violations
