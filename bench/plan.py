"""Time of the whole offline plan per stack: render, policy pack, report (target: under 5 s).

Measured two ways in one run: `python -m plan` as a fresh process (what CI and `make plan` pay,
SDK imports included) and the warm in-process plan (median of three).
"""

import statistics
import subprocess
import sys
import time

from plan.cli import make_plan

STACKS = ("staging", "prod")
TARGET_SECONDS = 5.0
WARM_RUNS = 3


def cold_plan_seconds(stack: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "plan", "--stack", stack],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def warm_plan_seconds(stack: str) -> tuple[float, int, int]:
    durations = []
    for _ in range(WARM_RUNS):
        started = time.perf_counter()
        result = make_plan(stack, base=None)
        durations.append(time.perf_counter() - started)
    return statistics.median(durations), len(result.resources), len(result.findings)


def main() -> int:
    print(
        f"{'stack':<8} {'process s':>10} {'warm s':>8} {'process/target':>15} "
        f"{'resources':>10} {'findings':>9}"
    )
    over = []
    for stack in STACKS:
        cold = cold_plan_seconds(stack)
        warm, resources, findings = warm_plan_seconds(stack)
        print(
            f"{stack:<8} {cold:>10.2f} {warm:>8.2f} {cold / TARGET_SECONDS:>15.2f} "
            f"{resources:>10} {findings:>9}"
        )
        if cold >= TARGET_SECONDS:
            over.append(stack)
    if over:
        print(f"over the {TARGET_SECONDS:.0f} s target: {', '.join(over)}", file=sys.stderr)
    return 1 if over else 0
