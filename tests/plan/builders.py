"""Builders of rendered resources for the plan's pure tests (diff, report)."""

from plan.render import RenderedResource

URN_PREFIX = "urn:pulumi:staging::miko-platform::"


def make_resource(type_, name, parent="", protect=False, **inputs) -> RenderedResource:
    return RenderedResource(
        type=type_,
        name=name,
        urn=f"{URN_PREFIX}{type_}::{name}",
        parent=parent,
        provider="",
        custom=not type_.startswith("miko:"),
        inputs=inputs,
        secret_paths=frozenset(),
        outputs={},
        protect=protect,
    )
