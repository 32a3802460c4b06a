"""`python -m plan [--stack STACK] [--base REF] [--json PATH]`: the offline plan of a stack.

Renders the stack's desired state with the real program under Pulumi's mock runtime (no CLI, no
cloud credentials, secrets replaced by placeholders and shown as `[secret]`), runs the real
policy pack over it, and with `--base` diffs it against the same render of another revision.
Exit status: 0 clean, 1 a mandatory policy violation, 2 the plan could not be made.
"""

import argparse
import json
import sys
from pathlib import Path

from plan.diff import diff_states
from plan.placeholders import placeholder_secrets
from plan.policy_check import check_policies
from plan.project import PROJECT_DIR, stack_names
from plan.render import RenderFailed, Rendering, render_stack
from plan.report import PlanResult, render_text
from plan.revision import RevisionError, render_revision


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m plan", description=__doc__.split("\n")[0])
    parser.add_argument("--stack", default="staging", help="stack to plan (default: staging)")
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


def make_plan(stack: str, base: str | None) -> PlanResult:
    rendering = render_with_promotion(stack)
    changes = None
    if base:
        changes = diff_states(render_revision(base, stack).resources, rendering.resources)
    findings = check_policies(rendering)
    return PlanResult(
        stack,
        rendering.resources,
        findings,
        changes,
        base,
        rendering.warnings,
        release=rendering.exports.get("release"),
    )


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.stack not in stack_names():
        print(
            f"plan: unknown stack {args.stack!r}; known: {', '.join(stack_names())}",
            file=sys.stderr,
        )
        return 2
    try:
        result = make_plan(args.stack, args.base)
    except (RenderFailed, RevisionError) as failure:
        print(f"plan: {failure}", file=sys.stderr)
        return 2
    print(render_text(result), end="")
    json_path = args.json or PROJECT_DIR / ".plan" / f"{args.stack}.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n")
    return 1 if result.mandatory else 0
