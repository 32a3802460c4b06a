"""`python -m secret_rotation --stack STACK SECRET`: rotate one credential of one stack.

The new value is read from a no-echo prompt, or from standard input when it is not a terminal,
never from the command line. Everything is checked before anything is written.

originAuthSecret (the origin proof) rotates in two steps: the first generates the new value
(or takes one piped on stdin) and keeps the old one as originAuthSecretPrevious, accepted until
the edge stack sends the new one; `--finish` clears it.
"""

import argparse
import sys
from pathlib import Path

from plan.project import PROJECT_DIR
from secret_rotation.rotate import RotationError, rotate


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m secret_rotation", description=__doc__)
    parser.add_argument("--stack", required=True, help="stack to rotate in, e.g. staging or prod")
    parser.add_argument("secret", help="config key of the credential, e.g. supabaseAnonKey")
    parser.add_argument(
        "--project-dir", type=Path, default=PROJECT_DIR, help="folder holding Pulumi.yaml"
    )
    parser.add_argument(
        "--finish",
        action="store_true",
        help="originAuthSecret only: end a rotation (clear originAuthSecretPrevious) once the "
        "edge stack sends the new value",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        summary = rotate(args.stack, args.secret, args.project_dir, finish=args.finish)
    except RotationError as error:
        print(f"rotate-secret: {error}", file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
