"""Stand-ins for secret config: the offline plan renders with these and never reads a secret."""

from pathlib import Path

from plan.project import PROJECT_DIR, declared_secret_keys


def placeholder_secrets(project_dir: Path = PROJECT_DIR) -> dict[str, str]:
    return {key: f"placeholder-{key}" for key in declared_secret_keys(project_dir)}
