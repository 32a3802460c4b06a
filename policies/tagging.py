"""Required tags on every taggable AWS resource, counting the provider's default tags.

"Taggable" means the resource type takes a `tags` map in the pinned pulumi-aws SDK; the list is
generated into `aws_taggable_types.txt` (`python -m policies.taggable_types`) so the pack does not
need pulumi-aws at run time, and a test keeps it equal to the installed SDK.
"""

import json
from functools import cache
from pathlib import Path
from typing import Any

from pulumi_policy import PolicyProviderResource, ResourceValidationArgs

from policies._props import (
    ConfigSchema,
    Props,
    Report,
    config_value,
    is_unknown,
    lookup,
    object_setting,
    plain,
    resource_policy,
    string_list_setting,
    tags_of,
)

TAGGABLE_TYPES_FILE = Path(__file__).with_name("aws_taggable_types.txt")

TAGS_SCHEMA: ConfigSchema = {
    "requiredTags": string_list_setting(
        description="Tag keys every taggable AWS resource must carry (own or provider default).",
        default=["project", "environment", "owner", "managed-by"],
    ),
    "requiredTagValues": object_setting(
        values={"type": "string"},
        description="Tags whose value is fixed.",
        default={"managed-by": "pulumi"},
    ),
}


@cache
def taggable_types() -> frozenset[str]:
    lines = TAGGABLE_TYPES_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip())


def provider_default_tags(provider: PolicyProviderResource | None) -> dict[str, Any]:
    """`defaultTags.tags` of an aws provider; the SDK sends the block as JSON text."""
    if provider is None:
        return {}
    default_tags = lookup(plain(provider.props), "defaultTags")
    if isinstance(default_tags, str) and not is_unknown(default_tags):
        try:
            default_tags = json.loads(default_tags)
        except ValueError:
            return {}
    tags = lookup(default_tags, "tags")
    return dict(tags) if isinstance(tags, dict) else {}


def _check_required_tags(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type not in taggable_types() or is_unknown(lookup(props, "tags")):
        return
    tags = {**provider_default_tags(args.provider), **tags_of(props)}
    config = args.get_config()
    missing = [
        key for key in config_value(config, TAGS_SCHEMA, "requiredTags") if not tags.get(key)
    ]
    fixed = config_value(config, TAGS_SCHEMA, "requiredTagValues")
    wrong = [
        f"{key}={value}"
        for key, value in fixed.items()
        if key in tags and not is_unknown(tags[key]) and tags[key] != value
    ]
    if missing or wrong:
        problems = [f"add tags {', '.join(missing)}"] if missing else []
        problems += [f"set {', '.join(wrong)}"] if wrong else []
        report(
            f"'{args.name}': {'; '.join(problems)} (through the explicit aws provider's "
            "default_tags, which every component receives in its providers option)."
        )


POLICIES = [
    resource_policy(
        "required-tags",
        "Checks whether every taggable AWS resource carries the project, environment, owner and "
        "managed-by tags.",
        None,
        _check_required_tags,
        TAGS_SCHEMA,
    ),
]
