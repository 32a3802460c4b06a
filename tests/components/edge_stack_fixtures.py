"""The edge stack (edge/, stack clinic) rendered against the environment stacks' renderings.

As `python -m plan --project edge` does: each environment stack is rendered (prod against
staging's exports, as it promotes staging's image) and their exports answer the edge stack's
StackReferences.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from plan.project import EDGE_PROJECT_DIR
from plan.render import Rendering, render_stack
from tests.components.conftest import DUMMY_SECRETS

EDGE_STACK = "clinic"
HOSTNAMES = {"staging": "staging.mikoplasticsurgery.com", "prod": "www.mikoplasticsurgery.com"}
RULESET = "cloudflare:index/ruleset:Ruleset"
ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"

_environments: dict[str, Rendering] = {}
_edge: list[Rendering] = []


def environment(stack: str, secrets: Mapping[str, str] | None = None) -> Rendering:
    """An environment stack's rendering (cached for the dummy secrets)."""
    if secrets is not None or stack not in _environments:
        outputs = {"staging": environment("staging").exports} if stack == "prod" else None
        rendering = render_stack(
            stack, secret_values=secrets or DUMMY_SECRETS, stack_outputs=outputs
        )
        if secrets is not None:
            return rendering
        _environments[stack] = rendering
    return _environments[stack]


def environment_exports() -> dict[str, dict[str, Any]]:
    return {stack: environment(stack).exports for stack in HOSTNAMES}


def render_edge(
    config: Mapping[str, Any] | None = None,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    project_dir: Path = EDGE_PROJECT_DIR,
) -> Rendering:
    """The edge stack's rendering; the committed one (cached) without arguments."""
    if config is None and stack_outputs is None and _edge:
        return _edge[0]
    rendering = render_stack(
        EDGE_STACK,
        config=config,
        project_dir=project_dir,
        stack_outputs=environment_exports() if stack_outputs is None else stack_outputs,
    )
    if config is None and stack_outputs is None:
        _edge.append(rendering)
    return rendering


def ruleset_of(rendering: Rendering, phase: str) -> dict[str, Any]:
    (ruleset,) = [r for r in rendering.of_type(RULESET) if r.inputs["phase"] == phase]
    return ruleset.inputs


def rules_of(rendering: Rendering, phase: str, hostname: str) -> list[dict[str, Any]]:
    """The phase's rules scoped to `hostname`."""
    scope = f'http.host eq "{hostname}"'
    return [
        rule
        for rule in ruleset_of(rendering, phase)["rules"]
        if rule["expression"].startswith(scope)
    ]


def rule_of_host(rules: list[dict[str, Any]], hostname: str) -> dict[str, Any]:
    (rule,) = [rule for rule in rules if f'"{hostname}"' in rule["expression"]]
    return rule
