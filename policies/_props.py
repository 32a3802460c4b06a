"""Shared helpers: safe property reads, policy factories, config schemas and config lookups.

Under the Pulumi engine a resource's props are proxies that raise `UnknownValueError` when a value
is not known yet (preview). Every validator first copies the props into plain Python data with
`plain`, which turns each unknown into the `UNKNOWN` sentinel; checks then skip what is unknown
instead of failing the whole policy.
"""

import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
    proxy,
)
from pulumi_policy.proxy import UnknownValueError


class _Unknown:
    """A value the engine cannot know during preview."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()

# What the offline renderer puts where a secret value was; the engine itself sends secrets in clear.
REDACTION_MARKER: Final = "[secret]"

_UNKNOWN_SENTINELS = frozenset(
    {
        proxy.UNKNOWN_ARCHIVE_VALUE,
        proxy.UNKNOWN_ARRAY_VALUE,
        proxy.UNKNOWN_ASSET_VALUE,
        proxy.UNKNOWN_BOOLEAN_VALUE,
        proxy.UNKNOWN_NUMBER_VALUE,
        proxy.UNKNOWN_OBJECT_VALUE,
        proxy.UNKNOWN_STRING_VALUE,
    }
)

Props = Mapping[str, Any]
ConfigSchema = Mapping[str, Mapping[str, Any]]
Report = Callable[[str], None]
ResourceCheck = Callable[[Props, ResourceValidationArgs, Report], None]
StackCheck = Callable[[StackValidationArgs, ReportViolation], None]


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in _UNKNOWN_SENTINELS)


def _read(container: Any, key: Any) -> Any:
    try:
        return container[key]
    except UnknownValueError:
        return UNKNOWN


def plain(value: Any) -> Any:
    """A plain copy of (possibly proxied) props, with every unknown replaced by `UNKNOWN`."""
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, Mapping):
        return {key: plain(_read(value, key)) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(_read(value, index)) for index in range(len(value))]
    return value


def contains_unknown(value: Any) -> bool:
    """Whether plain data holds `UNKNOWN` anywhere."""
    if value is UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(item) for item in value.values())
    if isinstance(value, list):
        return any(contains_unknown(item) for item in value)
    return False


def lookup(value: Any, *path: str | int) -> Any:
    """The value at `path` in plain data; None when absent, `UNKNOWN` when unknown on the way."""
    current = value
    for key in path:
        if current is UNKNOWN:
            return UNKNOWN
        if isinstance(key, str) and isinstance(current, Mapping):
            current = current.get(key)
        elif (
            isinstance(key, int)
            and isinstance(current, list)
            and -len(current) <= key < len(current)
        ):
            current = current[key]
        else:
            return None
    return current


def items(value: Any) -> list[Any]:
    """The elements of a list prop: one object counts as one element, absent/unknown as none."""
    if value is None or value is UNKNOWN:
        return []
    if isinstance(value, list):
        return value
    return [value]


def strings(value: Any) -> list[str]:
    """The known string elements of a string-or-list prop."""
    return [item for item in items(value) if isinstance(item, str) and not is_unknown(item)]


def json_document(value: Any) -> Any:
    """A JSON prop that may arrive as text (e.g. `containerDefinitions`, policies) or as data.

    Returns `UNKNOWN` for unknown text, None for text that is not JSON.
    """
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def tags_of(props: Props) -> dict[str, Any]:
    tags = lookup(props, "tags")
    return dict(tags) if isinstance(tags, Mapping) else {}


def tag(props: Props, key: str) -> Any:
    """The value of one tag: None when absent, `UNKNOWN` when it (or the whole map) is unknown."""
    tags = lookup(props, "tags")
    return UNKNOWN if tags is UNKNOWN else lookup(tags, key)


def integer_setting(*, minimum: int, description: str, default: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "description": description, "default": default}


def boolean_setting(*, description: str, default: bool) -> dict[str, Any]:
    return {"type": "boolean", "description": description, "default": default}


def string_setting(
    *, description: str, default: str | None = None, pattern: str | None = None
) -> dict[str, Any]:
    """A string property; without `default` the policy sees None when the stack sets none."""
    setting: dict[str, Any] = {"type": "string"}
    if pattern is not None:
        setting["pattern"] = pattern
    setting["description"] = description
    if default is not None:
        setting["default"] = default
    return setting


def string_list_setting(*, description: str, default: list[str]) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {"type": "string"},
        "description": description,
        "default": default,
    }


def object_setting(
    *, values: Mapping[str, Any], description: str, default: Mapping[str, Any]
) -> dict[str, Any]:
    """An object of arbitrary keys whose every value matches the schema `values`."""
    return {
        "type": "object",
        "additionalProperties": values,
        "description": description,
        "default": default,
    }


def reasons_setting(*, keys: str) -> dict[str, Any]:
    """An exception map: `keys` -> why each may go without the rule; a blank reason does not
    count (tests/policies/test_controls.py finds every such setting by its value schema)."""
    return object_setting(
        values={"type": "string", "minLength": 1, "pattern": "\\S"},
        description=f"{keys} -> why it is excepted; an empty reason does not count.",
        default={},
    )


def reason_for(exceptions: Mapping[str, Any], key: str) -> str | None:
    """The reason an exception map gives `key`: None without an entry, "" for a blank one."""
    if key not in exceptions:
        return None
    reason = exceptions[key]
    return reason.strip() if isinstance(reason, str) else ""


def config_value(config: Mapping[str, Any], schema: ConfigSchema, key: str) -> Any:
    """The policy config property `key`, or the default declared in the policy's schema.

    An integer property comes back as an int: the engine sends every config number as a double.
    """
    value = config.get(key)
    value = plain(value) if value is not None else schema[key].get("default")
    return int(value) if value is not None and schema[key].get("type") == "integer" else value


def _config_schema(schema: ConfigSchema | None) -> PolicyConfigSchema | None:
    if not schema:
        return None
    return PolicyConfigSchema(properties={key: dict(value) for key, value in schema.items()})


def resource_policy(
    name: str,
    description: str,
    resource_types: Collection[str] | None,
    check: ResourceCheck,
    schema: ConfigSchema | None = None,
) -> ResourceValidationPolicy:
    """A mandatory-by-default resource policy that runs `check` on the plain props of resources
    of `resource_types` (of every type when None)."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if resource_types is None or args.resource_type in resource_types:
            check(plain(args.props), args, lambda message: report_violation(message, None))

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=_config_schema(schema),
    )


def is_true(value: Any) -> bool:
    return value is True


def property_check(
    kind: str,
    path: str,
    passes: Callable[[Any], bool],
    requirement: str,
    *,
    only_when: Mapping[str, Collection[Any]] | None = None,
) -> ResourceCheck:
    """A check reporting "<kind> '<name>' must set <path> <requirement>." when the value at the
    dotted `path` is known and fails `passes`. Resources whose props fall outside `only_when`
    (prop: the values it may have) are skipped."""
    keys = path.split(".")

    def check(props: Props, args: ResourceValidationArgs, report: Report) -> None:
        conditions = (only_when or {}).items()
        if any(lookup(props, prop) not in allowed for prop, allowed in conditions):
            return
        value = lookup(props, *keys)
        if not is_unknown(value) and not passes(value):
            report(f"{kind} '{args.name}' must set {path} {requirement}.")

    return check


def stack_policy(
    name: str, description: str, check: StackCheck, schema: ConfigSchema | None = None
) -> StackValidationPolicy:
    return StackValidationPolicy(
        name=name,
        description=description,
        validate=check,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=_config_schema(schema),
    )


def resources_of(args: StackValidationArgs, *resource_types: str) -> Iterator[PolicyResource]:
    return (resource for resource in args.resources if resource.resource_type in resource_types)


def _identifiers(resource: PolicyResource) -> set[str]:
    props = plain(resource.props)
    found = [lookup(props, key) for key in ("id", "arn", "name", "bucket")]
    return {value for value in found if isinstance(value, str) and value and not is_unknown(value)}


def references(source: PolicyResource, prop: str, target: PolicyResource) -> bool:
    """Whether `source.<prop>` points at `target`: by the engine's property dependencies, or by
    value (the target's id, ARN, name or bucket) when the values are known."""
    dependencies = source.property_dependencies.get(prop) or []
    if any(dependency.urn == target.urn for dependency in dependencies):
        return True
    values = set(strings(lookup(plain(source.props), prop)))
    return bool(values & _identifiers(target))
