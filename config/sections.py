"""One pydantic model per concern of the stack config; each field's alias is its Pulumi.yaml key.

Stack config is flat (`miko-platform:taskCpu`), so every section reads the same flat mapping and
picks its own keys. Relations inside a section are checked by the later field's validator (it
sees the fields validated before it in `info.data`), so one bad value never hides another
problem; relations between sections by `relation_problems` in config/stack.py.

The sections stay in one file (about 460 lines): each is a short list of bounded fields, and they
share the key spelling, the config types and the validators defined at the top.
"""

import datetime
import ipaddress
import json
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
)

from app.contract import (
    CONTAINER_STOP_TIMEOUT_RANGE_SECONDS,
    CSP_MODES,
    DEPLOYED_ENVIRONMENTS,
    LOAD_BALANCER_IDLE_TIMEOUT_RANGE_SECONDS,
    MIN_ASSET_RETENTION_HOURS,
    browser_key_problem,
    edge_idle_timeout_problem,
    keepalive_problem,
    shutdown_problem,
)
from config.catalogues import (
    FARGATE_SIZES,
    LOG_RETENTION_DAYS,
    MIN_VAULT_LOCK_COOLING_OFF_DAYS,
    S3_MIN_DAYS_BEFORE_TRANSITION,
    S3_MIN_STORAGE_DAYS,
)
from config.secrets import BROWSER_VISIBLE_SECRET_KEYS

EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
TAG_VALUE = re.compile(r"^[\w .:/=+@-]{1,256}$")
HTTPS_ORIGIN = re.compile(r"^https://[a-z0-9.-]+(:\d+)?$")
AWS_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
ECR_IMAGE_BY_DIGEST = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$"
)
STACK_NAME = re.compile(r"^([A-Za-z0-9_.-]+/){0,2}[A-Za-z0-9_.-]+$")
SCHEDULE_EXPRESSION = re.compile(r"^(cron|rate)\(.+\)$")


def camel_key(name: str) -> str:
    """`http_5xx_critical_percent` -> `http5xxCriticalPercent`, as Pulumi.yaml spells keys."""
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def _strict_bool(value: object) -> object:
    """Config booleans are `true` or `false`; pydantic's lax `yes`/`1`/`on` would hide typos."""
    if isinstance(value, str):
        if value not in ("true", "false"):
            raise ValueError(f"expected true or false, got {value!r}")
        return value == "true"
    return value


def _json_text(expected: str) -> BeforeValidator:
    """Arrays and objects reach the program as JSON text, as the CLI passes them."""

    def parse(value: object) -> object:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise ValueError(f"expected {expected}, got {value!r}") from None
        return value

    return BeforeValidator(parse)


def _retention(days: int) -> int:
    if days not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(value) for value in sorted(LOG_RETENTION_DAYS))
        raise ValueError(f"{days} days is not a CloudWatch retention ({allowed})")
    return days


def _at_least(value: int, info: ValidationInfo, field: str, key: str) -> int:
    """`value` is not below the earlier field `field` (config key `key`), when that one is valid."""
    floor = info.data.get(field)
    if floor is not None and value < floor:
        raise ValueError(f"{value} is below {key} {floor}")
    return value


def _retention_above_floor(days: int, info: ValidationInfo) -> int:
    """A published retention, and at least the stack's `logRetentionFloorDays`."""
    return _at_least(_retention(days), info, "log_retention_floor_days", "logRetentionFloorDays")


def _schedule(expression: str) -> str:
    if not SCHEDULE_EXPRESSION.fullmatch(expression):
        raise ValueError(f"{expression!r} is not a cron(...) or rate(...) expression")
    return expression


def _https_origins(origins: tuple[str, ...]) -> tuple[str, ...]:
    wrong = [origin for origin in origins if not HTTPS_ORIGIN.fullmatch(origin)]
    if wrong:
        raise ValueError(f"{wrong[0]!r} must be an https origin (https://host[:port], no path)")
    return origins


def _cidrs(cidrs: tuple[str, ...]) -> tuple[str, ...]:
    for cidr in cidrs:
        try:
            ipaddress.IPv4Network(cidr, strict=True)
        except ValueError as error:
            raise ValueError(f"{cidr!r} is not an IPv4 CIDR block ({error})") from None
    return cidrs


ConfigBool = Annotated[bool, BeforeValidator(_strict_bool)]
StringList = Annotated[tuple[str, ...], _json_text("a list of strings")]
StringMap = Annotated[dict[str, str], _json_text("an object of strings")]
RetentionDays = Annotated[int, Field(ge=1, le=3653)]
FLOW_LOG_RETENTION_FLOOR_DAYS = 365
"""Fewest days VPC flow logs are kept (a year of network evidence; policies/config too)."""


def section_config(key_prefix: str = "") -> ConfigDict:
    """Frozen, reading its keys from the flat config: `key_prefix` + field name, camel-cased."""
    return ConfigDict(
        frozen=True,
        extra="ignore",
        validate_by_alias=True,
        validate_by_name=False,
        alias_generator=lambda name: camel_key(f"{key_prefix}_{name}" if key_prefix else name),
        hide_input_in_errors=True,
    )


class Section(BaseModel):
    """A section of the flat stack config; its fields' aliases are the Pulumi.yaml keys."""

    model_config = section_config()

    @classmethod
    def config_keys(cls) -> list[str]:
        """The Pulumi.yaml keys this section reads."""
        return [field.alias or name for name, field in cls.model_fields.items()]


class NetworkSettings(Section):
    vpc_cidr: str
    availability_zone_count: int = Field(ge=2, le=4)
    nat_mode: Literal["none", "single", "per-az"]
    vpc_endpoints: ConfigBool
    database_egress_cidrs: StringList
    log_retention_floor_days: int = Field(ge=1, le=3653)
    flow_log_retention_days: RetentionDays

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_block(cls, cidr: str) -> str:
        _cidrs((cidr,))
        if not 16 <= ipaddress.IPv4Network(cidr).prefixlen <= 20:
            raise ValueError(f"{cidr} must be a /16../20 block (subnets are /+4)")
        return cidr

    @field_validator("database_egress_cidrs")
    @classmethod
    def _egress_blocks(cls, cidrs: tuple[str, ...]) -> tuple[str, ...]:
        return _cidrs(cidrs)

    @field_validator("vpc_endpoints")
    @classmethod
    def _egress_path(cls, endpoints: bool, info: ValidationInfo) -> bool:
        if info.data.get("nat_mode") == "none" and not endpoints:
            raise ValueError(
                "natMode 'none' needs vpcEndpoints: true (tasks in private subnets could not "
                "pull images, read secrets or write logs)"
            )
        return endpoints

    @field_validator("flow_log_retention_days")
    @classmethod
    def _published_retention(cls, days: int, info: ValidationInfo) -> int:
        days = _retention_above_floor(days, info)
        if days < FLOW_LOG_RETENTION_FLOOR_DAYS:
            raise ValueError(
                f"{days} is below {FLOW_LOG_RETENTION_FLOOR_DAYS} days (flow logs are kept at "
                "least a year: issue 15, the policy pack's minFlowLogRetentionDays)"
            )
        return days


class ImageSettings(Section):
    """Where the image comes from: built here, promoted from another stack, or pinned."""

    model_config = section_config("image")
    build_on_preview: ConfigBool
    untagged_image_expiry_days: int = Field(ge=1, le=365, alias="untaggedImageExpiryDays")
    ref: str = Field(alias="imageRef")
    """An ECR image by digest to run instead (rollback, pin); empty: promote or build."""
    promote_from: str
    """A stack whose exported image_ref this stack runs, never rebuilding; empty: build here."""

    @field_validator("ref")
    @classmethod
    def _ecr_digest(cls, ref: str) -> str:
        if ref and not ECR_IMAGE_BY_DIGEST.fullmatch(ref):
            raise ValueError(
                f"{ref!r} is not an ECR image by digest "
                "(<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex>)"
            )
        return ref

    @field_validator("promote_from")
    @classmethod
    def _stack_name(cls, stack: str) -> str:
        if stack and not STACK_NAME.fullmatch(stack):
            raise ValueError(f"{stack!r} is not a stack name ([org/project/]stack)")
        return stack

    @property
    def builds(self) -> bool:
        """Whether this stack builds the image (neither pinned nor promoted)."""
        return not self.ref and not self.promote_from


class FrontendSettings(Section):
    """The single-page app: where it comes from, what the browser is told, how it is guarded."""

    source: str = Field(alias="frontendSource")
    """Path (inside the project) to the SPA's source or a prebuilt dist; empty: placeholder."""
    browser_secrets: StringMap
    """Browser key (VITE_*) -> secret config key whose value the browser gets at run time."""
    browser_values: StringMap
    """Browser key (VITE_*) -> plain value (feature flags, public identifiers)."""
    csp_mode: str
    asset_retention_hours: int = Field(ge=MIN_ASSET_RETENTION_HOURS, le=8760)
    """How long a release's fingerprinted assets stay loadable after it is replaced."""

    @field_validator("source")
    @classmethod
    def _relative_path(cls, source: str) -> str:
        if source and (source.startswith("/") or ".." in source.split("/")):
            raise ValueError(
                f"{source!r} must be a path inside the project (the image's build context)"
            )
        return source

    @field_validator("browser_secrets", "browser_values")
    @classmethod
    def _browser_keys(cls, config: dict[str, str]) -> dict[str, str]:
        for key in config:
            problem = browser_key_problem(key)
            if problem:
                raise ValueError(problem)
        return config

    @field_validator("browser_secrets")
    @classmethod
    def _browser_visible(cls, routes: dict[str, str]) -> dict[str, str]:
        for browser_key, secret_key in routes.items():
            if secret_key not in BROWSER_VISIBLE_SECRET_KEYS:
                raise ValueError(
                    f"{browser_key}: {secret_key!r} is not a browser-visible secret; only "
                    f"{', '.join(BROWSER_VISIBLE_SECRET_KEYS)} may reach the browser"
                )
        return routes

    @field_validator("browser_values")
    @classmethod
    def _not_routed_twice(cls, values: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        both = sorted(set(values) & set(info.data.get("browser_secrets") or {}))
        if both:
            raise ValueError(f"{', '.join(both)} also in browserSecrets: set each key once")
        return values

    @field_validator("csp_mode")
    @classmethod
    def _csp_mode(cls, mode: str) -> str:
        if mode not in CSP_MODES:
            raise ValueError(f"{mode!r} is not one of {', '.join(CSP_MODES)}")
        return mode


class ServiceSettings(Section):
    """The app's task: size, scaling, timings, logs, and the app settings the stack chooses."""

    task_cpu: int = Field(ge=256, le=16384)
    task_memory: int = Field(ge=512, le=122880)
    min_tasks_floor: int = Field(ge=1, le=100)
    min_tasks: int = Field(ge=1, le=100)
    max_tasks: int = Field(ge=1, le=100)
    cpu_target_percent: int = Field(ge=10, le=90)
    requests_per_target: int = Field(ge=10, le=100_000)
    health_check_grace_seconds: int = Field(ge=0, le=600)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    log_retention_floor_days: int = Field(ge=1, le=3653)
    log_retention_days: RetentionDays
    allowed_origins: StringList

    @field_validator("task_memory")
    @classmethod
    def _fargate_size(cls, memory: int, info: ValidationInfo) -> int:
        cpu = info.data.get("task_cpu")
        if cpu is not None and memory not in FARGATE_SIZES.get(cpu, frozenset()):
            raise ValueError(
                f"taskCpu {cpu} with taskMemory {memory} MiB is not a Fargate size "
                "(e.g. 256/512, 512/1024, 1024/2048)"
            )
        return memory

    @field_validator("min_tasks")
    @classmethod
    def _above_floor(cls, min_tasks: int, info: ValidationInfo) -> int:
        return _at_least(min_tasks, info, "min_tasks_floor", "minTasksFloor")

    @field_validator("max_tasks")
    @classmethod
    def _not_below_min(cls, max_tasks: int, info: ValidationInfo) -> int:
        return _at_least(max_tasks, info, "min_tasks", "minTasks")

    @field_validator("log_retention_days")
    @classmethod
    def _published_retention(cls, days: int, info: ValidationInfo) -> int:
        return _retention_above_floor(days, info)

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        # The app refuses to start in staging and production without ALLOWED_ORIGINS.
        if not origins:
            raise ValueError("at least one https origin (the site's own) must be allowed")
        return _https_origins(origins)


class TracingSettings(Section):
    """Traces of the app (app/tracing.py) through an ADOT collector sidecar to X-Ray.

    `tracingEnabled: false` leaves the task without the sidecar and the app with
    TRACING_SAMPLE_RATE=0 (no exporter, no per-request cost). The sidecar's CPU units and memory
    (a hard limit) come out of the task's size: the app container gets the rest.
    """

    model_config = section_config("tracing")
    enabled: ConfigBool
    sample_rate: float = Field(ge=0.0, le=1.0)
    """Share of new traces the app samples (the assessment's APM sample rate is 0.1)."""
    collector_cpu: int = Field(ge=16, le=1024)
    collector_memory_mib: int = Field(ge=64, le=2048)

    @field_validator("sample_rate")
    @classmethod
    def _samples_when_enabled(cls, rate: float, info: ValidationInfo) -> float:
        if info.data.get("enabled") and rate <= 0:
            raise ValueError("must be above 0 with tracingEnabled: true (or disable tracing)")
        return rate


class LoadBalancerSettings(Section):
    model_config = section_config("alb")
    deletion_protection: ConfigBool
    access_logs: ConfigBool
    access_log_expiry_days: int = Field(ge=1, le=3650)


class TimingSettings(Section):
    """The timeouts that must nest, from the edge to SIGKILL (relations in app/contract.py).

    The edge (Cloudflare) drops an idle connection before the load balancer does, the load
    balancer before the app does, and the app finishes draining before ECS's stop timeout kills
    it. The app receives the infrastructure's values
    in its environment and checks the same relations at start-up.
    """

    alb_idle_timeout_seconds: int = Field(
        ge=LOAD_BALANCER_IDLE_TIMEOUT_RANGE_SECONDS[0],
        le=LOAD_BALANCER_IDLE_TIMEOUT_RANGE_SECONDS[1],
    )
    app_keep_alive_seconds: int = Field(ge=1, le=4000)
    container_stop_timeout_seconds: int = Field(
        ge=CONTAINER_STOP_TIMEOUT_RANGE_SECONDS[0], le=CONTAINER_STOP_TIMEOUT_RANGE_SECONDS[1]
    )
    app_shutdown_grace_seconds: int = Field(ge=1, le=600)
    deregistration_delay_seconds: int = Field(ge=0, le=3600)
    """Seconds a deregistering target keeps serving in-flight requests before ECS stops it."""

    @field_validator("alb_idle_timeout_seconds")
    @classmethod
    def _outlasts_the_edge(cls, idle: int) -> int:
        problem = edge_idle_timeout_problem(idle)
        if problem:
            raise ValueError(problem)
        return idle

    @field_validator("app_keep_alive_seconds")
    @classmethod
    def _outlasts_load_balancer(cls, keep_alive: int, info: ValidationInfo) -> int:
        idle = info.data.get("alb_idle_timeout_seconds")
        problem = None if idle is None else keepalive_problem(keep_alive, idle)
        if problem:
            raise ValueError(f"{problem} (albIdleTimeoutSeconds {idle})")
        return keep_alive

    @field_validator("app_shutdown_grace_seconds")
    @classmethod
    def _drains_before_sigkill(cls, grace: int, info: ValidationInfo) -> int:
        stop_timeout = info.data.get("container_stop_timeout_seconds")
        problem = None if stop_timeout is None else shutdown_problem(grace, stop_timeout)
        if problem:
            raise ValueError(f"{problem} (containerStopTimeoutSeconds {stop_timeout})")
        return grace


class AlarmSettings(Section):
    """Who is alerted and the thresholds of the alarms (the signal catalogue names each field)."""

    period_seconds: ClassVar[int] = 60
    """Length of one evaluation period."""

    emails: StringList = Field(alias="alarmEmails")
    http_5xx_critical_percent: float = Field(gt=0, le=100)
    http_5xx_warning_percent: float = Field(gt=0, le=100)
    latency_p95_critical_seconds: float = Field(gt=0, le=60)
    latency_p95_warning_seconds: float = Field(gt=0, le=60)
    ecs_cpu_high_percent: int = Field(ge=1, le=100)
    ecs_memory_high_percent: int = Field(ge=1, le=100)
    database_failing_minutes: int = Field(ge=3, le=20)
    """Minutes of failed database checks from one task after which database-health-failures
    fires (components/signals.py derives the threshold from the check interval)."""
    booking_failures_per_period: int = Field(ge=1, le=1000)
    csp_violations_per_period: int = Field(ge=1, le=1_000_000)
    evaluation_periods: int = Field(ge=1, le=60, alias="alarmEvaluationPeriods")
    availability_evaluation_periods: int = Field(ge=1, le=60)

    @field_validator("emails")
    @classmethod
    def _addresses(cls, emails: tuple[str, ...]) -> tuple[str, ...]:
        if not emails:
            raise ValueError("at least one address must receive alarms")
        wrong = [email for email in emails if not EMAIL.fullmatch(email)]
        if wrong:
            raise ValueError(f"{wrong[0]!r} is not an email address")
        return emails

    @property
    def database_failing_datapoints(self) -> int:
        """Minutes of the window that must hold a task's failed checks: all but one, because
        each check starts an interval after the previous one ended, so a task's checks drift
        across minute boundaries and one minute in the window may hold none."""
        return self.database_failing_minutes - 1

    @field_validator("http_5xx_warning_percent")
    @classmethod
    def _5xx_warning_below_critical(cls, warning: float, info: ValidationInfo) -> float:
        return _below("http5xxCriticalPercent", warning, info.data.get("http_5xx_critical_percent"))

    @field_validator("latency_p95_warning_seconds")
    @classmethod
    def _latency_warning_below_critical(cls, warning: float, info: ValidationInfo) -> float:
        critical = info.data.get("latency_p95_critical_seconds")
        return _below("latencyP95CriticalSeconds", warning, critical)


def _below(critical_key: str, warning: float, critical: float | None) -> float:
    if critical is not None and warning >= critical:
        raise ValueError(f"{warning} must be below {critical_key} {critical}")
    return warning


# Counting periods and mitigation timeouts Cloudflare's rate limiting rules accept, in seconds
# (https://developers.cloudflare.com/waf/rate-limiting-rules/#availability, footnote 3); which of
# them the zone's plan allows is checked by the edge stack (config/edge_stack.py).
RATE_LIMIT_SECONDS: tuple[int, ...] = (10, 15, 20, 30, 40, 45, 60, 90, 120, 180, 240, 300, 480)
RATE_LIMIT_SECONDS += (600, 900, 1200, 1800, 2400, 3600, 65535, 86400)


def _rate_limit_seconds(seconds: int) -> int:
    if seconds not in RATE_LIMIT_SECONDS:
        allowed = ", ".join(str(value) for value in RATE_LIMIT_SECONDS)
        raise ValueError(f"{seconds} s is not a value Cloudflare accepts ({allowed})")
    return seconds


class EdgeSettings(Section):
    """The environment's hostname and its /api rate limit (served by the edge stack)."""

    zone_name: str = Field(alias="cloudflareZoneName")
    site_domain: str
    api_rate_limit_requests: int = Field(ge=1, le=1_000_000)
    api_rate_limit_period_seconds: int
    api_rate_limit_block_seconds: int

    @field_validator("api_rate_limit_period_seconds", "api_rate_limit_block_seconds")
    @classmethod
    def _cloudflare_seconds(cls, seconds: int) -> int:
        return _rate_limit_seconds(seconds)

    @field_validator("zone_name", "site_domain")
    @classmethod
    def _dns_name(cls, name: str) -> str:
        if not HOSTNAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a lower-case DNS name")
        return name

    @field_validator("site_domain")
    @classmethod
    def _inside_zone(cls, domain: str, info: ValidationInfo) -> str:
        zone = info.data.get("zone_name")
        if zone is not None and not f".{domain}".endswith(f".{zone}"):
            raise ValueError(f"{domain!r} is not inside zone {zone!r}")
        return domain


def cold_storage_problem(storage_class: str, after_days: int, expire_days: int) -> str | None:
    """Why a lifecycle move to `storage_class` on day `after_days` is wrong, if it is.

    S3 refuses some moves before a number of days in S3 Standard, and bills an object moved to
    a class for that class's minimum storage duration even when it expires earlier: a move
    whose minimum runs past the expiry pays for storage the objects never use.
    """
    if after_days >= expire_days:
        return f"backupColdStorageAfterDays {after_days} must be below {expire_days}"
    in_standard = S3_MIN_DAYS_BEFORE_TRANSITION.get(storage_class, 0)
    if after_days < in_standard:
        return (
            f"backupColdStorageAfterDays {after_days}: S3 moves objects to {storage_class} only "
            f"after {in_standard} days in S3 Standard (0 for no transition)"
        )
    minimum = S3_MIN_STORAGE_DAYS.get(storage_class, 0)
    if after_days + minimum > expire_days:
        return (
            f"backupColdStorageAfterDays {after_days} moves dumps to {storage_class}, billed for "
            f"at least {minimum} days there (to day {after_days + minimum}), past "
            f"backupExpireAfterDays {expire_days}: set backupColdStorageAfterDays to 0 "
            f"(no transition) or backupExpireAfterDays to at least {after_days + minimum}"
        )
    return None


BACKUP_START_DEADLINE_SECONDS = 3600
"""How long the scheduler keeps retrying to start a backup run (the retry policy's maximum event
age); past it the invocation goes to the dead-letter queue."""
BACKUP_RUN_ALLOWANCE_HOURS = 5
"""How long a dump or a verify may run (the app's stop timeouts are minutes; a dump of the
clinic's database takes minutes)."""
BACKUP_DAY_SLACK_HOURS = BACKUP_START_DEADLINE_SECONDS // 3600 + BACKUP_RUN_ALLOWANCE_HOURS
"""A backup schedule starts at least this many hours before midnight UTC, so a run that starts
late (retries) and runs long still succeeds inside its UTC day: the day its success alarm
evaluates (a wall clock window, components/backup_success_alarms.py)."""
_CLOCK_FIELD = re.compile(r"^\d{1,2}(,\d{1,2})*$")


def _starts_with_slack_before_midnight(expression: str) -> str:
    """A cron(...) at fixed UTC times, each at least BACKUP_DAY_SLACK_HOURS before midnight."""
    latest = (24 - BACKUP_DAY_SLACK_HOURS) * 60
    if not expression.startswith("cron("):
        raise ValueError(
            f"{expression!r} has no fixed time of day: a backup runs on a cron(...) at fixed "
            f"UTC hours, at least {BACKUP_DAY_SLACK_HOURS} h before midnight, so that it "
            "finishes within the UTC day its success alarm evaluates"
        )
    fields = expression.removeprefix("cron(").removesuffix(")").split()
    if len(fields) != 6 or not all(_CLOCK_FIELD.fullmatch(field) for field in fields[:2]):
        raise ValueError(
            f"{expression!r} must name fixed minutes and hours (e.g. cron(15 3 * * ? *)) so "
            "that the run's UTC day is known"
        )
    starts = [
        int(hour) * 60 + int(minute)
        for minute in fields[0].split(",")
        for hour in fields[1].split(",")
    ]
    if max(starts) > latest:
        start = max(starts)
        raise ValueError(
            f"{expression!r} starts at {start // 60:02d}:{start % 60:02d} UTC; a backup must "
            f"start by {latest // 60:02d}:00 UTC ({BACKUP_DAY_SLACK_HOURS} h before midnight: "
            f"{BACKUP_START_DEADLINE_SECONDS // 3600} h of start retries and "
            f"{BACKUP_RUN_ALLOWANCE_HOURS} h of run) so that it finishes within the UTC day its "
            "success alarm evaluates"
        )
    return expression


class BackupSettings(Section):
    model_config = section_config("backup")
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"]
    object_lock_days: int = Field(ge=1, le=3650)
    COLD_STORAGE_CLASS: ClassVar[str] = "GLACIER_IR"
    """Where dumps go after cold_storage_after_days: `verify` reads them back weekly, and
    Glacier Instant Retrieval keeps that a plain GET."""
    cold_storage_after_days: int = Field(ge=0, le=3650)
    """Days before dumps move to COLD_STORAGE_CLASS; 0 for no transition."""
    expire_after_days: int = Field(ge=1, le=3650)
    retention_floor_days: int = Field(ge=1, le=36500)
    retention_days: int = Field(ge=1, le=36500)
    copy_region: str
    """Region of the vault receiving a copy of each recovery point; empty for none."""
    vault_lock_cooling_off_days: int = Field(ge=0, le=36500)
    """Days before the vault lock becomes immutable; 0 for no vault lock."""
    restore_testing: ConfigBool
    restore_testing_schedule: str
    dump_schedule: str
    verify_schedule: str
    plan_schedule: str

    @field_validator("expire_after_days")
    @classmethod
    def _outlives_lock(cls, expire: int, info: ValidationInfo) -> int:
        lock = info.data.get("object_lock_days")
        if lock is not None and expire < lock:
            raise ValueError(
                f"{expire} is below backupObjectLockDays {lock} (a dump cannot expire while "
                "it is locked)"
            )
        cold = info.data.get("cold_storage_after_days")
        if cold:  # 0 is no transition
            problem = cold_storage_problem(cls.COLD_STORAGE_CLASS, cold, expire)
            if problem is not None:
                raise ValueError(problem)
        return expire

    @property
    def cold_storage_days(self) -> int | None:
        """Days before dumps move to COLD_STORAGE_CLASS, or None for no transition."""
        return self.cold_storage_after_days or None

    @field_validator("retention_days")
    @classmethod
    def _above_floor(cls, retention: int, info: ValidationInfo) -> int:
        return _at_least(retention, info, "retention_floor_days", "backupRetentionFloorDays")

    @field_validator("copy_region")
    @classmethod
    def _region_or_empty(cls, region: str) -> str:
        if region and not AWS_REGION.fullmatch(region):
            raise ValueError(f"{region!r} is not an AWS region name (or empty for no copy)")
        return region

    @field_validator("vault_lock_cooling_off_days")
    @classmethod
    def _aws_minimum(cls, days: int) -> int:
        if 0 < days < MIN_VAULT_LOCK_COOLING_OFF_DAYS:
            raise ValueError(
                f"{days} is below AWS's minimum of {MIN_VAULT_LOCK_COOLING_OFF_DAYS} "
                "(0 for no vault lock)"
            )
        return days

    @field_validator(
        "restore_testing_schedule", "dump_schedule", "verify_schedule", "plan_schedule"
    )
    @classmethod
    def _schedule_expression(cls, expression: str) -> str:
        return _schedule(expression)

    @field_validator("dump_schedule", "verify_schedule")
    @classmethod
    def _finishes_within_its_day(cls, expression: str) -> str:
        return _starts_with_slack_before_midnight(expression)

    @property
    def copy_to_region(self) -> str | None:
        return self.copy_region or None

    @property
    def vault_lock_days(self) -> int | None:
        return self.vault_lock_cooling_off_days or None

    @property
    def restore_testing_cron(self) -> str | None:
        return self.restore_testing_schedule if self.restore_testing else None


class AuditSettings(Section):
    """The audit trail (components/audit_trail.py): a CloudTrail trail into a locked bucket."""

    model_config = section_config("audit")
    organization_trail: ConfigBool
    """The account is covered by an organization trail: the program creates no trail of its own."""
    account_trail: ConfigBool
    """This stack's trail is the account's: it records read and write management events in every
    region and carries the CIS alarms. False where another stack in the same AWS account owns it
    (staging shares prod's account): the stack's trail then records only its own buckets' object
    (data) events, so the account pays no second copy of management events and no alarm pages
    twice."""
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"]
    object_lock_days: int = Field(ge=1, le=3650)
    expire_after_days: int = Field(ge=1, le=3650)

    @field_validator("account_trail")
    @classmethod
    def _one_owner_of_management_events(cls, account_trail: bool, info: ValidationInfo) -> bool:
        if account_trail and info.data.get("organization_trail"):
            raise ValueError(
                "auditAccountTrail true contradicts auditOrganizationTrail true: an organization "
                "trail already records the account's management events and the program creates "
                "no trail; set auditAccountTrail false (or auditOrganizationTrail false where no "
                "organization trail covers the account)"
            )
        return account_trail

    @field_validator("expire_after_days")
    @classmethod
    def _outlives_lock(cls, expire: int, info: ValidationInfo) -> int:
        return _at_least(expire, info, "object_lock_days", "auditObjectLockDays")

    @property
    def creates_trail(self) -> bool:
        """Whether the program creates a trail (none where an organization trail covers it)."""
        return not self.organization_trail


class IdentitySettings(Section):
    """Who the stack is: APP_ENV, region, tags, retention floors, protection."""

    environment: str
    owner: str
    aws_region: str
    protect_stateful_resources: ConfigBool
    """Whether keys, secrets, buckets and vaults are protected from deletion and replacement."""
    secret_recovery_window_days: int = Field(ge=7, le=30)

    @field_validator("environment")
    @classmethod
    def _deployed_environment(cls, environment: str) -> str:
        if environment not in DEPLOYED_ENVIRONMENTS:
            raise ValueError(f"{environment!r} is not one of {', '.join(DEPLOYED_ENVIRONMENTS)}")
        return environment

    @field_validator("owner")
    @classmethod
    def _tag_value(cls, owner: str) -> str:
        if not TAG_VALUE.fullmatch(owner):
            raise ValueError(f"{owner!r} is not a tag value (letters, digits, ' .:/=+@-')")
        return owner

    @field_validator("aws_region")
    @classmethod
    def _region(cls, region: str) -> str:
        if not AWS_REGION.fullmatch(region):
            raise ValueError(f"{region!r} is not an AWS region name")
        return region


CANARY_RATE = re.compile(r"^rate\((?P<count>\d+) (?P<unit>minute|minutes|hour|hours)\)$")
"""The canary schedules accepted: a fixed rate, whose interval is also its alarm's period."""
CANARY_MEMORY_RANGE_MB = (960, 3008)
"""Synthetics' run memory bounds (RunConfig.MemoryInMB); a multiple of 64."""
CANARY_TIMEOUT_RANGE_SECONDS = (3, 840)
"""Synthetics' run timeout bounds (RunConfig.TimeoutInSeconds)."""
CANARY_RETENTION_RANGE_DAYS = (1, 455)
"""Synthetics' success/failure retention bounds (days)."""


def canary_interval_seconds(schedule: str) -> int:
    """Seconds between two runs of a `rate(N minutes|hours)` schedule; ValueError otherwise."""
    match = CANARY_RATE.fullmatch(schedule)
    if match is None:
        raise ValueError(
            f"{schedule!r} is not rate(N minutes) or rate(N hours): the canary runs at a fixed "
            "rate, one run per period of its alarm"
        )
    count, unit = int(match["count"]), match["unit"]
    if count < 1 or (count == 1) != (not unit.endswith("s")):
        raise ValueError(f"{schedule!r}: write rate(1 minute), rate(5 minutes), rate(1 hour)")
    seconds = count * (3600 if unit.startswith("hour") else 60)
    if seconds > 3600:
        raise ValueError(
            f"{schedule!r} runs less than hourly: a journey check a day apart is no alarm"
        )
    return seconds


class CanarySettings(Section):
    """The synthetic patient journey: a CloudWatch Synthetics canary on the public URL.

    The selectors are the SPA's side of the journey (canary/journey.js): the clinic's real SPA
    replaces the fixture by changing them here, not the script.
    """

    model_config = section_config("canary")
    enabled: ConfigBool
    """Whether the stack runs the canary (its bucket, role and alarm come with it)."""
    schedule: str
    """`rate(N minutes)`: how often the journey runs; also its alarm's period."""
    home_selector: str
    """An element the SPA always renders on its home page, once it has rendered."""
    booking_path: str
    """The consultation booking page's path."""
    booking_selector: str
    """The booking form on that page."""
    ignored_console_errors: StringList
    """Regular expressions of console errors that do not fail the journey (known noise)."""
    timeout_seconds: int = Field(
        ge=CANARY_TIMEOUT_RANGE_SECONDS[0], le=CANARY_TIMEOUT_RANGE_SECONDS[1]
    )
    memory_mb: int = Field(ge=CANARY_MEMORY_RANGE_MB[0], le=CANARY_MEMORY_RANGE_MB[1])
    artifact_retention_days: int = Field(
        ge=CANARY_RETENTION_RANGE_DAYS[0], le=CANARY_RETENTION_RANGE_DAYS[1]
    )
    """Days run artifacts (screenshots, logs, HAR) and run results are kept."""
    failed_runs_to_alarm: int = Field(ge=1, le=10)
    """Consecutive failed runs after which the journey alarm pages."""

    @field_validator("schedule")
    @classmethod
    def _fixed_rate(cls, schedule: str) -> str:
        canary_interval_seconds(schedule)
        return schedule

    @field_validator("home_selector", "booking_selector")
    @classmethod
    def _selector(cls, selector: str) -> str:
        if not selector.strip():
            raise ValueError("a CSS selector is required")
        return selector

    @field_validator("booking_path")
    @classmethod
    def _path(cls, path: str) -> str:
        if not re.fullmatch(r"/[A-Za-z0-9._~/-]*", path):
            raise ValueError(f"{path!r} is not a URL path (starting with /, no query)")
        return path

    @field_validator("ignored_console_errors")
    @classmethod
    def _patterns(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"{pattern!r} is not a regular expression ({error})") from None
        return patterns

    @field_validator("timeout_seconds")
    @classmethod
    def _within_interval(cls, timeout: int, info: ValidationInfo) -> int:
        schedule = info.data.get("schedule")
        if schedule is not None and timeout > canary_interval_seconds(schedule):
            raise ValueError(
                f"{timeout} s is longer than the interval of canarySchedule {schedule}"
            )
        return timeout

    @field_validator("memory_mb")
    @classmethod
    def _multiple_of_64(cls, memory: int) -> int:
        if memory % 64:
            raise ValueError(f"{memory} MB is not a multiple of 64 (Synthetics' rule)")
        return memory

    @property
    def interval_seconds(self) -> int:
        return canary_interval_seconds(self.schedule)


def rotation_dates_model(rotated_on_keys: tuple[str, ...]) -> type[BaseModel]:
    """A model of the `<key>RotatedOn` dates, one ISO date field per secret."""
    fields: dict[str, Any] = dict.fromkeys(rotated_on_keys, (datetime.date, ...))
    return create_model(
        "RotationDates",
        __config__=ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True),
        **fields,
    )
