"""Differences between two desired states: resources added, removed, changed property by property.

Inputs that hold JSON documents (container definitions, IAM policies, dashboard bodies) are parsed
first, so a change reads `containerDefinitions[0].readonlyRootFilesystem: true -> false` rather
than as two long strings.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from plan.render import RenderedResource

ChangeKind = Literal["add", "remove", "change"]


@dataclass(frozen=True)
class PropertyChange:
    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class ResourceChange:
    kind: ChangeKind
    urn: str
    type: str
    properties: list[PropertyChange] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "urn": self.urn,
            "type": self.type,
            "properties": [
                {"path": change.path, "before": change.before, "after": change.after}
                for change in self.properties
            ],
        }


def _parsed(value: Any) -> Any:
    """A string holding a JSON object or array, parsed; anything else unchanged."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaf values by path (`a.b[0].c`); empty containers are leaves so their removal shows."""
    value = _parsed(value)
    if isinstance(value, Mapping) and value:
        leaves: dict[str, Any] = {}
        for key in sorted(value):
            leaves |= flatten(value[key], f"{path}.{key}" if path else str(key))
        return leaves
    if isinstance(value, list) and value:
        leaves = {}
        for index, item in enumerate(value):
            leaves |= flatten(item, f"{path}[{index}]")
        return leaves
    return {path: value}


def flatten_inputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    leaves: dict[str, Any] = {}
    for key in sorted(inputs):
        leaves |= flatten(inputs[key], key)
    return leaves


def property_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[PropertyChange]:
    old, new = flatten_inputs(before), flatten_inputs(after)
    return [
        PropertyChange(path, old.get(path), new.get(path))
        for path in sorted(old.keys() | new.keys())
        if old.get(path) != new.get(path) or (path in old) != (path in new)
    ]


def _by_urn(resources: Iterable[RenderedResource]) -> dict[str, RenderedResource]:
    return {resource.urn: resource for resource in resources}


def diff_states(
    base: Sequence[RenderedResource], head: Sequence[RenderedResource]
) -> list[ResourceChange]:
    """Changes from `base` to `head`, ordered by URN so two runs print the same."""
    old, new = _by_urn(base), _by_urn(head)
    changes = [ResourceChange("add", urn, new[urn].type) for urn in new.keys() - old.keys()]
    changes += [ResourceChange("remove", urn, old[urn].type) for urn in old.keys() - new.keys()]
    for urn in old.keys() & new.keys():
        properties = property_changes(old[urn].inputs, new[urn].inputs)
        if old[urn].protect != new[urn].protect:
            properties.append(PropertyChange("(protect)", old[urn].protect, new[urn].protect))
        if properties:
            changes.append(ResourceChange("change", urn, new[urn].type, properties))
    return sorted(changes, key=lambda change: change.urn)
