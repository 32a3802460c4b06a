"""Facts read from the project's own files: its stacks and the config keys it declares secret."""

from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[1]
EDGE_PROJECT_DIR = PROJECT_DIR / "edge"
"""The edge stack's project (miko-edge): the zone-level Cloudflare configuration."""
PROJECTS = {"platform": PROJECT_DIR, "edge": EDGE_PROJECT_DIR}
"""`python -m plan --project NAME`: the Pulumi projects of this repository."""


def declared_secret_keys(project_dir: Path = PROJECT_DIR) -> list[str]:
    """Config keys that Pulumi.yaml declares `secret: true`."""
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    config: dict[str, Any] = project.get("config") or {}
    return sorted(
        key for key, spec in config.items() if isinstance(spec, dict) and spec.get("secret")
    )


def stack_names(project_dir: Path = PROJECT_DIR) -> list[str]:
    stack_files = project_dir.glob("Pulumi.*.yaml")
    return sorted(path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in stack_files)
