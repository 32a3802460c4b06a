"""`python -m bench [NAME ...]`: run every benchmark, or the named ones, in a fixed order."""

import importlib
import sys

BENCHMARKS = ("app_http", "render", "plan", "backup", "scrub")


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s) {unknown}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    failures = 0
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as missing:
            if missing.name != f"bench.{name}":
                raise
            print(f"== {name}: not written yet, skipped", file=sys.stderr)
            continue
        print(f"== {name}", flush=True)
        failures += module.main() != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
