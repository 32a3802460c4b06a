"""The rendering of the program at another git revision, for the plan's `--base` diff."""

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.image import REVISION_VARIABLE
from plan.project import PROJECT_DIR
from plan.render import Rendering


class RevisionError(Exception):
    """The other revision could not be exported or rendered; the message says why."""


def export_revision(ref: str, destination: Path, repo_dir: Path = PROJECT_DIR) -> None:
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref],
        cwd=repo_dir,
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        reason = archive.stderr.decode(errors="replace").strip()
        raise RevisionError(f"cannot read git revision {ref!r}: {reason}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(destination, filter="data")


def render_revision(
    ref: str,
    stack: str,
    repo_dir: Path = PROJECT_DIR,
    project_subdir: str = "",
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> Rendering:
    """Renders `stack` as the program stood at `ref`; empty if it had no program or no stack.

    `project_subdir`: the project's directory in the repository (`edge` for the edge stack);
    `stack_outputs` answer its StackReferences."""
    with tempfile.TemporaryDirectory(prefix="plan-base-") as scratch:
        program_dir = Path(scratch) / project_subdir
        export_revision(ref, Path(scratch), repo_dir)
        if not (program_dir / "__main__.py").is_file():
            return Rendering(stack=stack, resources=(), exports={})
        if not (program_dir / f"Pulumi.{stack}.yaml").is_file():
            return Rendering(stack=stack, resources=(), exports={})
        outputs_file = Path(scratch) / ".plan-stack-outputs.json"
        outputs_file.write_text(json.dumps(stack_outputs or {}))
        extra = ["--project-subdir", project_subdir, "--stack-outputs", str(outputs_file)]
        # The exported tree has no .git: the image's release commit is read from the
        # repository's history at `ref` (components/image.py, last_commit).
        history = {"GIT_DIR": str(repo_dir / ".git"), REVISION_VARIABLE: ref}
        snapshot = subprocess.run(
            [
                *(sys.executable, "-m", "plan.snapshot", "--program-dir", scratch),
                *("--stack", stack, *extra),
            ],
            cwd=repo_dir,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **history},
        )
    if snapshot.returncode != 0:
        last_lines = "\n".join(snapshot.stderr.strip().splitlines()[-15:])
        raise RevisionError(f"rendering stack {stack!r} at {ref!r} failed:\n{last_lines}")
    return Rendering.from_json(json.loads(snapshot.stdout))
