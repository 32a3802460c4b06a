"""Checks and writes one rotation: the secret value on stdin to `pulumi`, then its rotation date."""

import datetime
import getpass
import hmac
import os
import subprocess
import sys
from pathlib import Path

from components.origin_auth import (
    ORIGIN_AUTH_PREVIOUS_SECRET_KEY,
    ORIGIN_AUTH_SECRET_KEY,
    generate_origin_secret,
    origin_secret_problem,
)
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


def _set_secret(stack: str, key: str, value: str, project_dir: Path) -> None:
    # An empty value is no secret material: it goes as an argument (stdin "" would prompt).
    args = ["config", "set", "--secret", key, *([""] if value == "" else []), "--stack", stack]
    result = pulumi(args, project_dir, stdin=None if value == "" else value)
    if result.returncode != 0:
        raise RotationError(f"pulumi config set --secret {key} failed: {result.stderr.strip()}")


def read_origin_secret() -> str:
    """A value piped on stdin (checked later), or else a generated one: nobody needs to see it,
    the edge stack reads it from this stack's `edge` output."""
    if not sys.stdin.isatty():
        piped = sys.stdin.read().rstrip("\r\n")
        if piped.strip():
            return piped
    return generate_origin_secret()


def rotate_origin_secret(stack: str, project_dir: Path, today: datetime.date | None = None) -> str:
    """Step 1 of 2: previous = current, current = new; both accepted by the load balancer."""
    value = read_origin_secret()  # first: the pulumi calls below inherit standard input
    previous = current_value(stack, ORIGIN_AUTH_PREVIOUS_SECRET_KEY, project_dir)
    if previous:
        raise RotationError(
            f"a rotation of {ORIGIN_AUTH_SECRET_KEY} is under way in {stack} "
            f"({ORIGIN_AUTH_PREVIOUS_SECRET_KEY} is set): deploy the edge stack, then finish it "
            f"with `scripts/rotate-secret --stack {stack} --finish {ORIGIN_AUTH_SECRET_KEY}`; "
            "nothing was changed"
        )
    problem = origin_secret_problem(ORIGIN_AUTH_SECRET_KEY, value)
    if problem:
        raise RotationError(f"{ORIGIN_AUTH_SECRET_KEY}: {problem}; nothing was changed")
    check_request(stack, ORIGIN_AUTH_SECRET_KEY, value, project_dir)
    current = current_value(stack, ORIGIN_AUTH_SECRET_KEY, project_dir)
    rotated_on = today or datetime.datetime.now(datetime.UTC).date()
    if current:
        _set_secret(stack, ORIGIN_AUTH_PREVIOUS_SECRET_KEY, current, project_dir)
    write_rotation(stack, ORIGIN_AUTH_SECRET_KEY, value, rotated_on, project_dir)
    return "\n".join(
        [
            f"{ORIGIN_AUTH_SECRET_KEY} rotated in stack {stack} (stamped "
            f"{ORIGIN_AUTH_SECRET_KEY}{ROTATED_ON_SUFFIX}={rotated_on}); the value it replaced "
            f"is now {ORIGIN_AUTH_PREVIOUS_SECRET_KEY}, still accepted.",
            "Next, in this order:",
            f"  1. pulumi up --stack {stack}: the load balancer accepts both values (its "
            "forward-from-edge rule changes, shown [secret])",
            "  2. pulumi up of the edge stack (edge/): Cloudflare sends the new value",
            f"  3. scripts/rotate-secret --stack {stack} --finish {ORIGIN_AUTH_SECRET_KEY}, "
            f"then pulumi up --stack {stack}: the old value is refused",
            f"Check with: pulumi preview --diff --stack {stack}",
        ]
    )


def finish_origin_rotation(stack: str, project_dir: Path) -> str:
    """Step 2 of 2, once the edge sends the new value: the previous value is no longer accepted."""
    stacks = stack_names(project_dir)
    if stack not in stacks:
        raise RotationError(f"unknown stack {stack!r}; known: {', '.join(stacks)}")
    if not current_value(stack, ORIGIN_AUTH_PREVIOUS_SECRET_KEY, project_dir):
        raise RotationError(
            f"no rotation of {ORIGIN_AUTH_SECRET_KEY} is under way in {stack} "
            f"({ORIGIN_AUTH_PREVIOUS_SECRET_KEY} is empty); nothing was changed"
        )
    _set_secret(stack, ORIGIN_AUTH_PREVIOUS_SECRET_KEY, "", project_dir)
    return "\n".join(
        [
            f"{ORIGIN_AUTH_PREVIOUS_SECRET_KEY} cleared in stack {stack}.",
            f"pulumi up --stack {stack}: the load balancer accepts only the current value. Do it "
            "only after the edge stack's deployment has finished, or Cloudflare's requests with "
            "the old value get 403s.",
        ]
    )


def rotate(
    stack: str,
    secret: str,
    project_dir: Path = PROJECT_DIR,
    today: datetime.date | None = None,
    *,
    finish: bool = False,
) -> str:
    if finish and secret != ORIGIN_AUTH_SECRET_KEY:
        raise RotationError(f"--finish is for {ORIGIN_AUTH_SECRET_KEY} only (a two-step rotation)")
    if secret == ORIGIN_AUTH_PREVIOUS_SECRET_KEY:
        raise RotationError(
            f"{secret} is set by the rotation of {ORIGIN_AUTH_SECRET_KEY} "
            f"(`scripts/rotate-secret --stack {stack} {ORIGIN_AUTH_SECRET_KEY}`), not by hand"
        )
    if secret == ORIGIN_AUTH_SECRET_KEY and secret in declared_secret_keys(project_dir):
        if finish:
            return finish_origin_rotation(stack, project_dir)
        return rotate_origin_secret(stack, project_dir, today)
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
