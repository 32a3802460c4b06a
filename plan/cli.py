"""`python -m plan [--project platform|edge] [--stack STACK] [--base REF] [--json PATH]`.

The offline plan of a stack: of the environment project (miko-platform, the repository root:
stacks staging, prod) or of the edge project (miko-edge, edge/: stack clinic). An edge stack is
rendered against the renderings of the environment stacks its `environments` config names, their
exports answering its StackReferences (as `pulumi up` of the edge stack reads the deployed ones).

Renders the stack's desired state with the real program under Pulumi's mock runtime (no CLI, no
cloud credentials, secrets replaced by placeholders and shown as `[secret]`), runs the real
policy pack over it, and with `--base` diffs it against the same render of another revision.
Exit status: 0 clean, 1 a mandatory policy violation, 2 the plan could not be made.
"""

import argparse
import json
import sys
from pathlib import Path

from plan.cost import delta, estimate, load_prices, load_usage
from plan.diff import diff_states
from plan.placeholders import placeholder_secrets
from plan.policy_check import check_policies
from plan.project import EDGE_PROJECT_DIR, PROJECT_DIR, PROJECTS, stack_names
from plan.render import RenderFailed, Rendering, project_name, render_stack, stack_config
from plan.report import PlanResult, render_text
from plan.revision import RevisionError, render_revision


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m plan", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--project",
        choices=sorted(PROJECTS),
        default="platform",
        help="platform: the environment stacks (default); edge: the zone's edge stack (edge/)",
    )
    parser.add_argument(
        "--stack", help="stack to plan (default: staging; clinic with --project edge)"
    )
    parser.add_argument("--base", help="git revision to diff against, e.g. origin/main")
    parser.add_argument(
        "--json", type=Path, help="where to write the JSON document (default: .plan/STACK.json)"
    )
    return parser.parse_args(argv)


PROMOTED_FROM = "promoted from stack "


def render_with_promotion(stack: str) -> Rendering:
    """The stack's rendering; a stack promoting another's image is rendered against that
    stack's own rendering, so the plan shows the release it would really take over."""
    rendering = render_stack(stack, secret_values=placeholder_secrets())
    source = str((rendering.exports.get("release") or {}).get("source", ""))
    if not source.startswith(PROMOTED_FROM):
        return rendering
    promoted = source.removeprefix(PROMOTED_FROM).rsplit("/", 1)[-1]
    if promoted not in stack_names():
        return rendering
    exports = render_stack(promoted, secret_values=placeholder_secrets()).exports
    return render_stack(
        stack, secret_values=placeholder_secrets(), stack_outputs={promoted: exports}
    )


def environment_stacks(edge_stack: str, project_dir: Path = EDGE_PROJECT_DIR) -> list[str]:
    """The environment stacks (short names) an edge stack's `environments` config reads."""
    values, _ = stack_config(edge_stack, project_dir=project_dir)
    listed = json.loads(values.get(f"{project_name(project_dir)}:environments", "[]"))
    return [str(item.get("stackReference", "")).rsplit("/", 1)[-1] for item in listed]


def environment_exports(edge_stack: str) -> dict[str, dict[str, object]]:
    """The exports of the environment stacks the edge stack reads, each rendered (with the
    stack it promotes from) as its own plan renders it."""
    known = stack_names()
    return {
        stack: render_with_promotion(stack).exports
        for stack in environment_stacks(edge_stack)
        if stack in known
    }


def render_edge(stack: str, outputs: dict[str, dict[str, object]] | None = None) -> Rendering:
    return render_stack(
        stack,
        secret_values=placeholder_secrets(EDGE_PROJECT_DIR),
        project_dir=EDGE_PROJECT_DIR,
        stack_outputs=environment_exports(stack) if outputs is None else outputs,
    )


def make_plan(stack: str, base: str | None, project: str = "platform") -> PlanResult:
    outputs = environment_exports(stack) if project == "edge" else None
    rendering = render_edge(stack, outputs) if project == "edge" else render_with_promotion(stack)
    changes = None
    prices, usage = load_prices(), load_usage(stack)
    cost = estimate(rendering, prices, usage)
    cost_change = None
    if base:
        # The edge stack at `base` is rendered against today's environment exports: the diff
        # shows what the edge program's own change does.
        subdir = "edge" if project == "edge" else ""
        before = render_revision(base, stack, project_subdir=subdir, stack_outputs=outputs)
        changes = diff_states(before.resources, rendering.resources)
        # Both sides at today's prices and usage: the delta is the change's own.
        cost_change = delta(estimate(before, prices, usage), cost)
    findings = check_policies(rendering)
    return PlanResult(
        stack,
        rendering.resources,
        findings,
        changes,
        base,
        rendering.warnings,
        release=rendering.exports.get("release"),
        cost=cost,
        cost_change=cost_change,
    )


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    project_dir = PROJECTS[args.project]
    stack = args.stack or {"platform": "staging", "edge": "clinic"}[args.project]
    if stack not in stack_names(project_dir):
        print(
            f"plan: unknown stack {stack!r}"
            f"{'' if args.project == 'platform' else ' of project ' + args.project}; known: "
            f"{', '.join(stack_names(project_dir))}",
            file=sys.stderr,
        )
        return 2
    try:
        result = make_plan(stack, args.base, args.project)
    except (RenderFailed, RevisionError) as failure:
        print(f"plan: {failure}", file=sys.stderr)
        return 2
    print(render_text(result), end="")
    json_path = args.json or PROJECT_DIR / ".plan" / f"{stack}.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n")
    return 1 if result.mandatory else 0
