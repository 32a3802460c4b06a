"""Command line of the image: `python -m app serve` (the default) or `python -m app backup ...`.

Each command imports only its own modules: the web server never loads boto3, the backup job
never loads uvicorn.
"""

import sys


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("serve", [])
    if command == "serve":
        from app.server import main as serve  # noqa: PLC0415

        return serve(rest)
    if command == "backup":
        from app.backup.cli import main as backup  # noqa: PLC0415

        return backup(rest)
    print(f"unknown command {command!r}: use 'serve' or 'backup'", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
