#!/usr/bin/env python3
"""Fails when a tracked file holds a credential-looking string not in the committed baseline.

When it fires: rotate the credential first (docs/runbooks/secret-rotation.md), then remove it
from the change. Only a reviewed false positive goes into `.secrets.baseline`.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BASELINE = Path(".secrets.baseline")
NEW_SECRETS = 1
# detect-secrets-hook rewrites its baseline when only line numbers moved and says so with 3;
# that is no finding, and CI must not depend on (or change) the committed file's line numbers.
BASELINE_REFRESHED = 3


def tracked_files() -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    files = (path for path in listing.split("\0") if path and path != str(BASELINE))
    return [path for path in files if Path(path).is_file()]


def main() -> int:
    hook = Path(sys.executable).with_name("detect-secrets-hook")
    with tempfile.TemporaryDirectory() as scratch:
        baseline = Path(scratch) / BASELINE.name
        shutil.copyfile(BASELINE, baseline)
        result = subprocess.run(
            [str(hook), "--baseline", str(baseline), *tracked_files()],
            check=False,
            capture_output=True,
            text=True,
        )
    if result.returncode in (0, BASELINE_REFRESHED):
        return 0
    print(result.stdout, result.stderr, sep="", file=sys.stderr)
    if result.returncode == NEW_SECRETS:
        print(
            "scan-secrets: a credential-looking string was added. Rotate it if it is real, "
            "then remove it from the change.",
            file=sys.stderr,
        )
    return 1


if __name__ == "__main__":
    sys.exit(main())
