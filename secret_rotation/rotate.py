"""Checks and writes one rotation: the secret value on stdin to `pulumi`, then its rotation date."""

import datetime
import getpass
import hmac
import os
import subprocess
import sys
from pathlib import Path

from plan.project import PROJECT_DIR, declared_secret_keys, stack_names

ROTATED_ON_SUFFIX = "RotatedOn"


class RotationError(Exception):
    """A rotation that was refused; nothing has been written."""


def read_new_value(secret: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(f"New value for {secret} (input is hidden): ")
    return sys.stdin.read().rstrip("\r\n")


def pulumi(
    args: list[str], project_dir: Path, *, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs the pulumi CLI in the project directory; the value, if any, goes on stdin only."""
    return subprocess.run(
        ["pulumi", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        cwd=project_dir,
        env=os.environ.copy(),
    )


def current_value(stack: str, secret: str, project_dir: Path) -> str | None:
    result = pulumi(["config", "get", secret, "--stack", stack], project_dir)
    return result.stdout.rstrip("\n") if result.returncode == 0 else None


def check_request(stack: str, secret: str, value: str, project_dir: Path) -> None:
    known_secrets = declared_secret_keys(project_dir)
    if secret not in known_secrets:
        raise RotationError(f"unknown secret {secret!r}; known: {', '.join(known_secrets)}")
    stacks = stack_names(project_dir)
    if stack not in stacks:
        raise RotationError(f"unknown stack {stack!r}; known: {', '.join(stacks)}")
    if not value.strip():
        raise RotationError(f"empty value for {secret}: nothing was changed")
    for other in (name for name in stacks if name != stack):
        other_value = current_value(other, secret, project_dir)
        if other_value is not None and hmac.compare_digest(other_value, value):
            raise RotationError(
                f"the new {secret} for {stack} equals the one in stack {other}: "
                "each stack must have its own credential; nothing was changed"
            )


def write_rotation(
    stack: str, secret: str, value: str, today: datetime.date, project_dir: Path
) -> None:
    set_secret = pulumi(
        ["config", "set", "--secret", secret, "--stack", stack], project_dir, stdin=value
    )
    if set_secret.returncode != 0:
        raise RotationError(
            f"pulumi config set --secret {secret} failed: {set_secret.stderr.strip()}"
        )
    stamp_key = secret + ROTATED_ON_SUFFIX
    stamp = pulumi(["config", "set", stamp_key, today.isoformat(), "--stack", stack], project_dir)
    if stamp.returncode != 0:
        raise RotationError(
            f"{secret} was set, but stamping {stamp_key} failed: {stamp.stderr.strip()}; "
            f"run: pulumi config set {stamp_key} {today.isoformat()} --stack {stack}"
        )


def rotate(
    stack: str,
    secret: str,
    project_dir: Path = PROJECT_DIR,
    today: datetime.date | None = None,
) -> str:
    value = read_new_value(secret)
    check_request(stack, secret, value, project_dir)
    rotated_on = today or datetime.datetime.now(datetime.UTC).date()
    write_rotation(stack, secret, value, rotated_on, project_dir)
    return "\n".join(
        [
            f"{secret} rotated in stack {stack} "
            f"(stamped {secret}{ROTATED_ON_SUFFIX}={rotated_on}).",
            f"`pulumi up --stack {stack}` will change exactly:",
            f"  - the Secrets Manager secret version that holds {secret} (a new version)",
            "  - the ECS service (its deployment trigger): a rolling deployment at full capacity",
            f"  - the tag rotated-on on that secret ({rotated_on})",
            f"Check with: pulumi preview --diff --stack {stack}",
        ]
    )
