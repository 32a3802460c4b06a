"""The whole stack's settings: every section, the secrets, and the relations between sections.

Every default lives in Pulumi.yaml (the CLI merges it into the stack's config), so this module
only reads and checks. All problems, each naming its key, are raised together as one
`InvalidConfigError` before the program registers a single resource. Secret values are read with
`get_secret` and stay `pulumi.Output` secrets: nothing here keeps their plaintext (the format
checks of config/secrets.py read a value only to refuse it, without printing it).
"""

import datetime
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pulumi
from pydantic import BaseModel, ValidationError

from config.secrets import (
    OPTIONAL_SECRET_KEYS,
    ROTATED_ON_KEYS,
    ROTATED_ON_SUFFIX,
    SECRET_KEYS,
    SECRET_VALUE_CHECKS,
)
from config.sections import (
    AlarmSettings,
    AuditSettings,
    BackupSettings,
    CanarySettings,
    EdgeSettings,
    FrontendSettings,
    IdentitySettings,
    ImageSettings,
    LoadBalancerSettings,
    NetworkSettings,
    Section,
    ServiceSettings,
    TimingSettings,
    TracingSettings,
    rotation_dates_model,
)

PROJECT = "miko-platform"
SECTIONS: tuple[type[Section], ...] = (
    IdentitySettings,
    NetworkSettings,
    ImageSettings,
    ServiceSettings,
    TimingSettings,
    LoadBalancerSettings,
    AlarmSettings,
    EdgeSettings,
    FrontendSettings,
    BackupSettings,
    CanarySettings,
    TracingSettings,
    AuditSettings,
)
PROJECT_DIR = Path(__file__).resolve().parent.parent
"""The Pulumi project: the image's build context, against which frontendSource resolves."""
RotationDates = rotation_dates_model(ROTATED_ON_KEYS)


class InvalidConfigError(pulumi.RunError):
    """Stack config with one or more problems; the message lists all of them."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.problems = problems
        listed = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            f"stack {stack!r} has {len(problems)} config problem(s):\n{listed}\n"
            "Fix them in Pulumi.<stack>.yaml (secrets: `pulumi config set --secret KEY`)."
        )


@dataclass(frozen=True)
class StackSettings:
    """Everything the program reads from stack config, validated."""

    stack: str
    identity: IdentitySettings
    network: NetworkSettings
    image: ImageSettings
    service: ServiceSettings
    timings: TimingSettings
    load_balancer: LoadBalancerSettings
    alarms: AlarmSettings
    edge: EdgeSettings
    frontend: FrontendSettings
    backup: BackupSettings
    canary: CanarySettings
    tracing: TracingSettings
    audit: AuditSettings
    secrets: Mapping[str, pulumi.Output[str]]
    rotated_on: Mapping[str, datetime.date]
    """Last rotation date by secret config key (from `<key>RotatedOn`)."""

    @property
    def prefix(self) -> str:
        """Prefix of physical names that must be unique per account and region."""
        return f"miko-{self.stack}"

    @property
    def environment(self) -> str:
        """The app's APP_ENV."""
        return self.identity.environment

    @property
    def tags(self) -> dict[str, str]:
        """Tags every taggable AWS resource carries, through the providers' default tags."""
        return {
            "project": PROJECT,
            "environment": self.identity.environment,
            "owner": self.identity.owner,
            "managed-by": "pulumi",
        }


def describe(error: ValidationError) -> list[str]:
    """One line per problem, naming the config key; values only of plain (non-secret) config."""
    problems = []
    for problem in error.errors(include_url=False):
        key = next((str(part) for part in problem["loc"] if isinstance(part, str)), "")
        message = str(problem["msg"]).removeprefix("Value error, ")
        if problem["type"] == "missing":
            problems.append(f"{key}: missing (no value in the stack file or Pulumi.yaml)")
        elif problem["type"] == "value_error":
            problems.append(f"{key}: {message}")
        else:
            problems.append(f"{key}: {message}, got {problem.get('input')!r}")
    return problems


M = TypeVar("M", bound=BaseModel)


class _Collector:
    """Validates models from the flat config, recording problems instead of raising."""

    def __init__(self, flat: Mapping[str, str]) -> None:
        self.flat = flat
        self.problems: list[str] = []

    def model(self, model: type[M]) -> M | None:
        try:
            return model.model_validate(self.flat)
        except ValidationError as error:
            self.problems += describe(error)
            return None


def _copy_region(identity: IdentitySettings, backup: BackupSettings) -> str | None:
    if backup.copy_region != identity.aws_region:
        return None
    return (
        f"backupCopyRegion: {backup.copy_region!r} must be another AWS region than "
        f"awsRegion {identity.aws_region!r} (or empty for no copy)"
    )


def _dockerignore_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex over slash-separated paths (moby's patternmatcher:
    `**` any number of directories, `*` and `?` within one name)."""
    parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern.strip("/"))
    wildcards = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wildcards.get(part, re.escape(part)) for part in parts))


def excluded_from_build_context(relative: str, project_dir: Path = PROJECT_DIR) -> str | None:
    """The .dockerignore line that keeps `relative` (or a parent of it) out of the image's build
    context, or None; the last matching line wins, `!` lines re-include."""
    ignore = project_dir / ".dockerignore"
    lines = ignore.read_text().splitlines() if ignore.is_file() else []
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    parts = relative.strip("/").split("/")
    candidates = ["/".join(parts[: end + 1]) for end in range(len(parts))]
    verdict: str | None = None
    for pattern in patterns:
        regex = _dockerignore_regex(pattern.removeprefix("!"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            verdict = None if pattern.startswith("!") else pattern
    return verdict


def _frontend_source(image: ImageSettings, frontend: FrontendSettings) -> str | None:
    if not frontend.source:
        return None
    if not image.builds:
        return (
            f"frontendSource: {frontend.source!r} is built into the image, but this stack does "
            "not build one (imageRef or imagePromoteFrom is set); set it on the stack that builds"
        )
    excluded_by = excluded_from_build_context(frontend.source)
    if excluded_by is not None:
        return (
            f"frontendSource: {frontend.source!r} is outside the image's build context "
            f"(.dockerignore: {excluded_by!r}); keep the SPA elsewhere in the project"
        )
    path = PROJECT_DIR / frontend.source
    if not (path / "package.json").is_file() and not (path / "index.html").is_file():
        return (
            f"frontendSource: {frontend.source!r} has neither package.json (an SPA's source) "
            "nor index.html (a built dist)"
        )
    return None


def _collector_share(service: ServiceSettings, tracing: TracingSettings) -> str | None:
    """The collector sidecar takes at most half of the task's CPU and a quarter of its memory."""
    if not tracing.enabled:
        return None
    if tracing.collector_cpu * 2 > service.task_cpu:
        return (
            f"tracingCollectorCpu: {tracing.collector_cpu} is more than half of taskCpu "
            f"{service.task_cpu}; the app container gets what the collector leaves"
        )
    if tracing.collector_memory_mib * 4 > service.task_memory:
        return (
            f"tracingCollectorMemoryMib: {tracing.collector_memory_mib} is more than a quarter of "
            f"taskMemory {service.task_memory}; the app container gets what the collector leaves"
        )
    return None


def _collector_reachable(network: NetworkSettings, tracing: TracingSettings) -> str | None:
    """The sidecar's image is on ECR Public and X-Ray has no endpoint here: both need a NAT."""
    if tracing.enabled and network.nat_mode == "none":
        return (
            "tracingEnabled: natMode 'none' leaves the collector sidecar without its image (ECR "
            "Public) and X-Ray; use a NAT gateway or set tracingEnabled: false"
        )
    return None


# Checks across sections, each run when every section it reads is valid.
RELATIONS: tuple[tuple[Callable[..., str | None], tuple[type[Section], ...]], ...] = (
    (_copy_region, (IdentitySettings, BackupSettings)),
    (_frontend_source, (ImageSettings, FrontendSettings)),
    (_collector_share, (ServiceSettings, TracingSettings)),
    (_collector_reachable, (NetworkSettings, TracingSettings)),
)


def relation_problems(sections: Mapping[type[Section], Section | None]) -> list[str]:
    problems = []
    for check, needs in RELATIONS:
        arguments = [sections[section] for section in needs]
        if all(argument is not None for argument in arguments):
            problem = check(*arguments)
            if problem:
                problems.append(problem)
    return problems


def _read_secret(config: pulumi.Config, key: str, problems: list[str]) -> pulumi.Output[str]:
    value = config.get_secret(key)
    if value is None:
        if key not in OPTIONAL_SECRET_KEYS:
            problems.append(
                f"{key}: secret missing (pulumi config set --secret {key} --stack <stack>)"
            )
        return pulumi.Output.secret("")
    if not pulumi.runtime.is_config_secret(config.full_key(key)):
        problems.append(
            f"{key}: set as plaintext; remove it and set it with `pulumi config set --secret {key}`"
        )
    check = SECRET_VALUE_CHECKS.get(key)
    # The one place a plaintext is read: to refuse it. The message never holds the value.
    problem = check(key, config.get(key) or "") if check else None
    if problem:
        problems.append(f"{key}: {problem}")
    return value


def _flat_config(config: pulumi.Config) -> dict[str, str]:
    keys = [key for section in SECTIONS for key in section.config_keys()]
    present = {key: config.get(key) for key in (*keys, *ROTATED_ON_KEYS)}
    return {key: value for key, value in present.items() if value is not None}


def deploy_warnings(network: NetworkSettings) -> list[str]:
    """Valid config that would still break the deployed app: shown in every preview."""
    warnings = []
    if not network.database_egress_cidrs:
        warnings.append(
            "databaseEgressCidrs is empty: tasks cannot reach PostgreSQL on port 5432 (the app's "
            "DATABASE_URL check, the backup jobs); list the database's ranges before deploying"
        )
    return warnings


def load_stack_settings(config: pulumi.Config | None = None) -> StackSettings:
    """Read and validate the current stack's config; raise InvalidConfigError listing all."""
    config = config or pulumi.Config()
    collect = _Collector(_flat_config(config))
    sections: dict[type[Section], Any] = {section: collect.model(section) for section in SECTIONS}
    collect.problems += relation_problems(sections)
    dates = collect.model(RotationDates)
    secrets = {key: _read_secret(config, key, collect.problems) for key in SECRET_KEYS}
    stack = pulumi.get_stack()
    if collect.problems:
        raise InvalidConfigError(stack, collect.problems)
    for warning in deploy_warnings(sections[NetworkSettings]):
        pulumi.log.warn(warning)
    return StackSettings(
        stack=stack,
        identity=sections[IdentitySettings],
        network=sections[NetworkSettings],
        image=sections[ImageSettings],
        service=sections[ServiceSettings],
        timings=sections[TimingSettings],
        load_balancer=sections[LoadBalancerSettings],
        alarms=sections[AlarmSettings],
        edge=sections[EdgeSettings],
        frontend=sections[FrontendSettings],
        backup=sections[BackupSettings],
        canary=sections[CanarySettings],
        tracing=sections[TracingSettings],
        audit=sections[AuditSettings],
        secrets=secrets,
        rotated_on={
            key.removesuffix(ROTATED_ON_SUFFIX): value
            for key, value in dates.model_dump().items()  # type: ignore[union-attr]
        },
    )
