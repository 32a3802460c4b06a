"""Time to render each stack under Pulumi's mock runtime, and resource counts per component.

Target: under 3 s per stack. The first render in a process also pays for importing the
provider SDKs, so it is shown apart from the warm renders (median of three).
"""

import statistics
import sys
import time

from plan.placeholders import placeholder_secrets
from plan.render import Rendering, render_stack

STACKS = ("staging", "prod")
TARGET_SECONDS = 3.0
WARM_RUNS = 3
PLACEHOLDER_SECRETS = placeholder_secrets()


def timed_render(stack: str) -> tuple[float, Rendering]:
    started = time.perf_counter()
    rendering = render_stack(stack, secret_values=PLACEHOLDER_SECRETS)
    return time.perf_counter() - started, rendering


def counts_by_component(rendering: Rendering) -> dict[str, int]:
    counts = {
        f"{r.type} ({r.name})": len(rendering.descendants(r.urn))
        for r in rendering.resources
        if r.type.startswith("miko:")
    }
    counts["providers"] = len(
        [r for r in rendering.resources if r.type.startswith("pulumi:providers:")]
    )
    return counts


def main() -> int:
    timings: dict[str, tuple[float, float]] = {}
    renderings: dict[str, Rendering] = {}
    for stack in STACKS:
        cold, renderings[stack] = timed_render(stack)
        warm = statistics.median(timed_render(stack)[0] for _ in range(WARM_RUNS))
        timings[stack] = (cold, warm)
    print(f"{'stack':<8} {'first s':>8} {'warm s':>8} {'warm/target':>12} {'resources':>10}")
    for stack, (cold, warm) in timings.items():
        total = len(renderings[stack].resources)
        print(f"{stack:<8} {cold:>8.2f} {warm:>8.2f} {warm / TARGET_SECONDS:>12.2f} {total:>10}")
    print()
    components = sorted({name for r in renderings.values() for name in counts_by_component(r)})
    print(f"{'component':<52} " + " ".join(f"{stack:>8}" for stack in STACKS))
    for component in components:
        row = [counts_by_component(renderings[stack]).get(component, 0) for stack in STACKS]
        print(f"{component:<52} " + " ".join(f"{count:>8}" for count in row))
    slow = [stack for stack, (_, warm) in timings.items() if warm >= TARGET_SECONDS]
    if slow:
        print(f"over the {TARGET_SECONDS:.0f} s target: {', '.join(slow)}", file=sys.stderr)
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
