"""Each stack's accounting of the controls catalogue against its whole pack config.

A policy sees only its own config, so whether a control's holders are mandatory (and set to
hold it) in a stack is judged here, from the stack's committed config read the way the engine
reads it (`policy_settings`); tests/policies/test_controls.py and the README's table use it.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import EnforcementLevel, Policy

from policies.controls import POLICY_NAME, Control, Holder, applicable, reason_of
from policies.evaluate import policy_settings


@dataclass(frozen=True)
class Standing:
    control: Control
    held: bool
    reason: str
    """The exception's reason ("" when the config records none)."""

    @property
    def problem(self) -> str | None:
        if self.held and self.reason:
            return f"{self.control.id} is held by the pack and also excepted: drop the exception"
        if not self.held and not self.reason:
            return f"{self.control.id} is neither held nor excepted with a reason"
        return None


def _holds(holder: Holder, policies: Mapping[str, Policy], stack_config: Mapping[str, Any]) -> bool:
    policy = policies.get(holder.policy)
    if policy is None:
        return False
    level, settings = policy_settings(policy, stack_config)
    if level != EnforcementLevel.MANDATORY:
        return False
    if holder.setting is None:
        return True
    schema = policy.config_schema.properties if policy.config_schema else {}
    value = settings.get(holder.setting, schema.get(holder.setting, {}).get("default"))
    if holder.compare == "includes":
        return isinstance(value, list) and holder.value in value
    if holder.compare == "at_least":
        return isinstance(value, int | float) and value >= holder.value
    return bool(value == holder.value)


def standings(
    policies: Sequence[Policy], stack_config: Mapping[str, Any], kinds: set[str] | frozenset[str]
) -> list[Standing]:
    """Each control judging `kinds`: held by mandatory policies of the config, or excepted."""
    by_name = {policy.name: policy for policy in policies}
    entry = stack_config.get(POLICY_NAME)
    exceptions = entry.get("exceptions", {}) if isinstance(entry, Mapping) else {}
    return [
        Standing(
            control,
            held=bool(control.held_by)
            and all(_holds(h, by_name, stack_config) for h in control.held_by),
            reason=reason_of(exceptions, control.id),
        )
        for control in applicable(kinds)
    ]
