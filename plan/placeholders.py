"""Stand-ins for secret config: the offline plan renders with these and never reads a secret."""

from collections.abc import Callable
from pathlib import Path

from plan.project import PROJECT_DIR, declared_secret_keys


def placeholder_secrets(project_dir: Path = PROJECT_DIR) -> dict[str, str]:
    placeholder = _placeholder_rule()
    return {key: placeholder(key) for key in declared_secret_keys(project_dir)}


def _placeholder_rule() -> Callable[[str], str]:
    """The program's own stand-in per key (some secrets have a format the program checks).

    Imported when called, not with this module: `plan.snapshot` imports the plan package before
    it puts another revision's program first on the import path, and a program module imported
    here would then stand in for that revision's. A revision without the rule gets the old one.
    """
    try:
        from config.secrets import secret_placeholder  # noqa: PLC0415
    except ImportError:
        return lambda key: f"placeholder-{key}"
    return secret_placeholder
