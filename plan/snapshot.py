"""`python -m plan.snapshot --program-dir DIR --stack S`: another checkout's rendering, as JSON.

Used by `--base`: this process imports the current `plan` package first, then puts DIR first on
the import path, so the program, its components and `app` are the other revision's.
"""

import argparse
import gc
import json
import sys
from pathlib import Path

from plan.placeholders import placeholder_secrets
from plan.render import render_stack


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m plan.snapshot")
    parser.add_argument("--program-dir", type=Path, required=True)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--project-subdir", default="", help="the project's directory (edge)")
    parser.add_argument("--stack-outputs", type=Path, help="JSON: stack name -> its outputs")
    args = parser.parse_args(argv)
    program_dir = args.program_dir.resolve()
    sys.path.insert(0, str(program_dir))
    project_dir = program_dir / args.project_subdir
    outputs = json.loads(args.stack_outputs.read_text()) if args.stack_outputs else None
    rendering = render_stack(
        args.stack,
        secret_values=placeholder_secrets(project_dir),
        project_dir=project_dir,
        stack_outputs=outputs,
    )
    json.dump(rendering.to_json(), sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    gc.disable()  # a one-shot process, as in plan/__main__.py
    sys.exit(main(sys.argv[1:]))
