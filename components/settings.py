"""The program's settings: one typed object read from stack config and validated as a whole.

Every default lives in Pulumi.yaml (the CLI merges it into the stack's config), so this module
only reads and checks. All problems are collected and raised together as one `InvalidConfigError`
before the program registers a single resource. Secret values are read with `get_secret` and
stay `pulumi.Output` secrets: nothing here ever sees their plaintext.
"""

import datetime
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import pulumi

from components.alarms import AlarmThresholds

PROJECT = "miko-platform"
APP_PORT = 8080
DATABASE_PORT = 5432

NatMode = Literal["none", "single", "per-az"]
NAT_MODES: tuple[NatMode, ...] = ("none", "single", "per-az")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
APP_ENVIRONMENTS = ("staging", "production")

# Secrets Manager secret per integration: (container variable, JSON key) <- secret config key.
INTEGRATION_SECRETS: Mapping[str, Mapping[str, str]] = {
    "supabase": {"SUPABASE_URL": "supabaseUrl", "SUPABASE_ANON_KEY": "supabaseAnonKey"},
    "n8n": {"N8N_WEBHOOK_URL": "n8nWebhookUrl", "N8N_INSTANCE_ID": "n8nInstanceId"},
    "google": {"GOOGLE_CLIENT_ID": "googleClientId", "GOOGLE_API_KEY": "googleApiKey"},
    "base44": {"BASE44_APP_ID": "base44AppId"},
    "sentry": {"SENTRY_DSN": "sentryDsn"},
    "database": {"DATABASE_URL": "databaseUrl"},
    "backup-scratch": {"SCRATCH_DATABASE_URL": "backupScratchDatabaseUrl"},
}
# The integrations the app container reads; `backup-scratch` is for the backup verify job only.
APP_INTEGRATIONS = ("supabase", "n8n", "google", "base44", "sentry", "database")
PLATFORM_SECRET_KEYS = ("alarmPagerUrl",)
SECRET_KEYS: tuple[str, ...] = (
    *(key for keys in INTEGRATION_SECRETS.values() for key in keys.values()),
    *PLATFORM_SECRET_KEYS,
)
# Every secret carries a plain `<key>RotatedOn` date (set by scripts/rotate-secret); those of the
# Secrets Manager secrets also reach their `rotated-on` tag, read by the rotation-age policy.
ROTATED_ON_KEYS: tuple[str, ...] = tuple(f"{key}RotatedOn" for key in SECRET_KEYS)

# Fargate's valid task sizes: CPU units -> allowed memory (MiB).
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html
FARGATE_SIZES: Mapping[int, frozenset[int]] = {
    256: frozenset({512, 1024, 2048}),
    512: frozenset(range(1024, 4097, 1024)),
    1024: frozenset(range(2048, 8193, 1024)),
    2048: frozenset(range(4096, 16385, 1024)),
    4096: frozenset(range(8192, 30721, 1024)),
    8192: frozenset(range(16384, 61441, 4096)),
    16384: frozenset(range(32768, 122881, 8192)),
}
# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557}
    | {2922, 3288, 3653}
)
FARGATE_MAX_STOP_TIMEOUT_SECONDS = 120

EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
TAG_VALUE = re.compile(r"^[\w .:/=+@-]{1,256}$")
HTTPS_ORIGIN = re.compile(r"^https://[a-z0-9.-]+(:\d+)?$")
AWS_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
SCHEDULE_EXPRESSION = re.compile(r"^(cron|rate)\(.+\)$")
OBJECT_LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
# AWS Backup refuses a vault lock grace period shorter than this.
MIN_VAULT_LOCK_COOLING_OFF_DAYS = 3


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
class NetworkSettings:
    vpc_cidr: str
    availability_zone_count: int
    nat_mode: NatMode
    vpc_endpoints: bool
    database_egress_cidrs: tuple[str, ...]
    flow_log_retention_days: int


@dataclass(frozen=True)
class ImageSettings:
    build_on_preview: bool
    untagged_image_expiry_days: int


@dataclass(frozen=True)
class ServiceSettings:
    task_cpu: int
    task_memory: int
    min_tasks: int
    max_tasks: int
    cpu_target_percent: int
    requests_per_target: int
    health_check_grace_seconds: int
    container_stop_timeout_seconds: int
    app_shutdown_grace_seconds: int
    app_keepalive_seconds: int
    log_level: str
    log_retention_days: int
    allowed_origins: tuple[str, ...]


@dataclass(frozen=True)
class LoadBalancerSettings:
    idle_timeout_seconds: int
    deregistration_delay_seconds: int
    deletion_protection: bool
    access_logs: bool
    access_log_expiry_days: int


@dataclass(frozen=True)
class AlarmSettings:
    emails: tuple[str, ...]
    thresholds: AlarmThresholds


@dataclass(frozen=True)
class EdgeSettings:
    zone_name: str
    site_domain: str
    api_rate_limit_requests: int
    api_rate_limit_period_seconds: int
    api_rate_limit_block_seconds: int
    connect_origins: tuple[str, ...]


@dataclass(frozen=True)
class BackupSettings:
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"]
    object_lock_days: int
    cold_storage_after_days: int
    expire_after_days: int
    retention_days: int
    copy_region: str | None
    vault_lock_cooling_off_days: int | None
    restore_testing_schedule: str | None
    dump_schedule: str
    verify_schedule: str
    plan_schedule: str


@dataclass(frozen=True)
class Settings:
    """Everything the program reads from stack config, validated."""

    project: str
    stack: str
    environment: str
    owner: str
    aws_region: str
    network: NetworkSettings
    image: ImageSettings
    service: ServiceSettings
    load_balancer: LoadBalancerSettings
    alarms: AlarmSettings
    edge: EdgeSettings
    backup: BackupSettings
    protect_stateful: bool
    """Whether keys, secrets, buckets and vaults are protected from deletion and replacement."""
    secret_recovery_window_days: int
    secrets: Mapping[str, pulumi.Output[str]]
    rotated_on: Mapping[str, datetime.date]
    """Last rotation date by secret config key (from `<key>RotatedOn`)."""

    @property
    def prefix(self) -> str:
        """Prefix for physical names that must be unique per account and region."""
        return f"miko-{self.stack}"

    @property
    def tags(self) -> dict[str, str]:
        """Tags every taggable AWS resource carries, through the providers' default tags."""
        return {
            "project": self.project,
            "environment": self.environment,
            "owner": self.owner,
            "managed-by": "pulumi",
        }


T = TypeVar("T")


class _Reader:
    """Typed getters over `pulumi.Config` that record problems instead of raising."""

    def __init__(self, config: pulumi.Config) -> None:
        self.config = config
        self.problems: list[str] = []

    def _raw(self, key: str) -> str | None:
        value = self.config.get(key)
        if value is None:
            self.problems.append(f"{key}: missing (no value in the stack file or Pulumi.yaml)")
        return value

    def _parse(self, key: str, parse: Callable[[str], T], fallback: T, expected: str) -> T:
        raw = self._raw(key)
        if raw is None:
            return fallback
        try:
            return parse(raw)
        except (ValueError, TypeError):
            self.problems.append(f"{key}: expected {expected}, got {raw!r}")
            return fallback

    def string(self, key: str, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
        value = self._parse(key, str, "", "a string")
        if value and pattern is not None and not pattern.fullmatch(value):
            self.problems.append(f"{key}: {value!r} is not {what}")
        return value

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        value = self._parse(key, str, options[0], "a string")
        if value not in options:
            self.problems.append(f"{key}: {value!r} is not one of {', '.join(options)}")
        return value

    def integer(self, key: str, low: int, high: int) -> int:
        value = self._parse(key, _strict_int, low, "an integer")
        if not low <= value <= high:
            self.problems.append(f"{key}: {value} is outside {low}..{high}")
        return value

    def number(self, key: str, low: float, high: float) -> float:
        value = self._parse(key, float, low, "a number")
        if not low <= value <= high:
            self.problems.append(f"{key}: {value} is outside {low}..{high}")
        return value

    def boolean(self, key: str) -> bool:
        return self._parse(key, _strict_bool, False, "true or false")

    def strings(self, key: str) -> tuple[str, ...]:
        return self._parse(key, _string_list, (), "a list of strings")

    def date(self, key: str) -> datetime.date:
        return self._parse(key, datetime.date.fromisoformat, datetime.date.min, "an ISO date")

    def retention(self, key: str) -> int:
        value = self.integer(key, 1, 3653)
        if value not in LOG_RETENTION_DAYS:
            allowed = ", ".join(str(days) for days in sorted(LOG_RETENTION_DAYS))
            self.problems.append(f"{key}: {value} days is not a CloudWatch retention ({allowed})")
        return value

    def secret(self, key: str) -> pulumi.Output[str]:
        value = self.config.get_secret(key)
        if value is None:
            self.problems.append(
                f"{key}: secret missing (pulumi config set --secret {key} --stack <stack>)"
            )
            return pulumi.Output.secret("")
        if not pulumi.runtime.is_config_secret(self.config.full_key(key)):
            self.problems.append(
                f"{key}: set as plaintext; remove it and set it with "
                f"`pulumi config set --secret {key}`"
            )
        return value


def _strict_int(raw: str) -> int:
    if not re.fullmatch(r"-?\d+", raw.strip()):
        raise ValueError(raw)
    return int(raw)


def _strict_bool(raw: str) -> bool:
    if raw not in ("true", "false"):
        raise ValueError(raw)
    return raw == "true"


def _string_list(raw: str) -> tuple[str, ...]:
    value: Any = json.loads(raw)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError(raw)
    return tuple(cast("list[str]", value))


def _cidr_problems(key: str, cidrs: tuple[str, ...]) -> list[str]:
    problems = []
    for cidr in cidrs:
        try:
            ipaddress.IPv4Network(cidr, strict=True)
        except ValueError as error:
            problems.append(f"{key}: {cidr!r} is not an IPv4 CIDR block ({error})")
    return problems


def _origins(read: _Reader, key: str) -> tuple[str, ...]:
    origins = read.strings(key)
    read.problems += [
        f"{key}: {origin!r} must be an https origin (https://host[:port], no path)"
        for origin in origins
        if not HTTPS_ORIGIN.fullmatch(origin)
    ]
    return origins


def _read_network(read: _Reader) -> NetworkSettings:
    vpc_cidr = read.string("vpcCidr")
    problems = _cidr_problems("vpcCidr", (vpc_cidr,)) if vpc_cidr else []
    if not problems and vpc_cidr and not 16 <= ipaddress.IPv4Network(vpc_cidr).prefixlen <= 20:
        problems.append(f"vpcCidr: {vpc_cidr} must be a /16../20 block (subnets are /+4)")
    egress = read.strings("databaseEgressCidrs")
    problems += _cidr_problems("databaseEgressCidrs", egress)
    nat_mode = cast("NatMode", read.choice("natMode", NAT_MODES))
    endpoints = read.boolean("vpcEndpoints")
    if nat_mode == "none" and not endpoints:
        problems.append(
            "natMode: 'none' needs vpcEndpoints: true (tasks in private subnets could not "
            "pull images, read secrets or write logs)"
        )
    read.problems += problems
    return NetworkSettings(
        vpc_cidr=vpc_cidr,
        availability_zone_count=read.integer("availabilityZoneCount", 2, 4),
        nat_mode=nat_mode,
        vpc_endpoints=endpoints,
        database_egress_cidrs=egress,
        flow_log_retention_days=read.retention("flowLogRetentionDays"),
    )


def _read_service(read: _Reader, retention_floor: int) -> ServiceSettings:
    cpu = read.integer("taskCpu", 256, 16384)
    memory = read.integer("taskMemory", 512, 122880)
    if memory not in FARGATE_SIZES.get(cpu, frozenset()):
        read.problems.append(
            f"taskCpu/taskMemory: {cpu} CPU units with {memory} MiB is not a Fargate size "
            "(see FARGATE_SIZES; e.g. 256/512, 512/1024, 1024/2048)"
        )
    min_tasks = read.integer("minTasks", 1, 100)
    max_tasks = read.integer("maxTasks", 1, 100)
    floor = read.integer("minTasksFloor", 1, 100)
    if min_tasks < floor:
        read.problems.append(f"minTasks: {min_tasks} is below this stack's floor {floor}")
    if max_tasks < min_tasks:
        read.problems.append(f"maxTasks: {max_tasks} is below minTasks {min_tasks}")
    retention = read.retention("logRetentionDays")
    if retention < retention_floor:
        read.problems.append(
            f"logRetentionDays: {retention} is below logRetentionFloorDays {retention_floor}"
        )
    origins = _origins(read, "allowedOrigins")
    return ServiceSettings(
        task_cpu=cpu,
        task_memory=memory,
        min_tasks=min_tasks,
        max_tasks=max_tasks,
        cpu_target_percent=read.integer("cpuTargetPercent", 10, 90),
        requests_per_target=read.integer("requestsPerTarget", 10, 100_000),
        health_check_grace_seconds=read.integer("healthCheckGraceSeconds", 0, 600),
        container_stop_timeout_seconds=read.integer(
            "containerStopTimeoutSeconds", 2, FARGATE_MAX_STOP_TIMEOUT_SECONDS
        ),
        app_shutdown_grace_seconds=read.integer("appShutdownGraceSeconds", 1, 600),
        app_keepalive_seconds=read.integer("appKeepAliveSeconds", 1, 4000),
        log_level=read.choice("logLevel", LOG_LEVELS),
        log_retention_days=retention,
        allowed_origins=origins,
    )


def _read_load_balancer(read: _Reader) -> LoadBalancerSettings:
    return LoadBalancerSettings(
        idle_timeout_seconds=read.integer("albIdleTimeoutSeconds", 1, 4000),
        deregistration_delay_seconds=read.integer("deregistrationDelaySeconds", 0, 3600),
        deletion_protection=read.boolean("albDeletionProtection"),
        access_logs=read.boolean("albAccessLogs"),
        access_log_expiry_days=read.integer("albAccessLogExpiryDays", 1, 3650),
    )


def _read_alarms(read: _Reader) -> AlarmSettings | None:
    emails = read.strings("alarmEmails")
    read.problems += [
        f"alarmEmails: {email!r} is not an email address"
        for email in emails
        if not EMAIL.fullmatch(email)
    ]
    if not emails:
        read.problems.append("alarmEmails: at least one address must receive alarms")
    try:
        thresholds = AlarmThresholds(
            http_5xx_critical_percent=read.number("http5xxCriticalPercent", 0.01, 100),
            http_5xx_warning_percent=read.number("http5xxWarningPercent", 0.01, 100),
            latency_p95_critical_seconds=read.number("latencyP95CriticalSeconds", 0.01, 60),
            latency_p95_warning_seconds=read.number("latencyP95WarningSeconds", 0.01, 60),
            cpu_high_percent=read.integer("ecsCpuHighPercent", 1, 100),
            memory_high_percent=read.integer("ecsMemoryHighPercent", 1, 100),
            database_failures_per_period=read.integer("databaseFailuresPerPeriod", 1, 1000),
            booking_failures_per_period=read.integer("bookingFailuresPerPeriod", 1, 1000),
            evaluation_periods=read.integer("alarmEvaluationPeriods", 1, 60),
            availability_evaluation_periods=read.integer("availabilityEvaluationPeriods", 1, 60),
        )
        return AlarmSettings(emails=emails, thresholds=thresholds)
    except ValueError as error:
        read.problems.append(f"alarm thresholds: {error}")
        return None


def _read_edge(read: _Reader) -> EdgeSettings:
    zone_name = read.string("cloudflareZoneName", HOSTNAME, "a lower-case DNS name")
    site_domain = read.string("siteDomain", HOSTNAME, "a lower-case DNS name")
    if zone_name and site_domain and not f".{site_domain}".endswith(f".{zone_name}"):
        read.problems.append(f"siteDomain: {site_domain!r} is not inside zone {zone_name!r}")
    return EdgeSettings(
        zone_name=zone_name,
        site_domain=site_domain,
        api_rate_limit_requests=read.integer("apiRateLimitRequests", 1, 1_000_000),
        api_rate_limit_period_seconds=read.integer("apiRateLimitPeriodSeconds", 10, 3600),
        api_rate_limit_block_seconds=read.integer("apiRateLimitBlockSeconds", 10, 86400),
        connect_origins=_origins(read, "connectOrigins"),
    )


def _schedule(read: _Reader, key: str) -> str:
    return read.string(key, SCHEDULE_EXPRESSION, "a cron(...) or rate(...) expression")


def _read_backup(read: _Reader, aws_region: str) -> BackupSettings:
    lock_days = read.integer("backupObjectLockDays", 1, 3650)
    cold_after = read.integer("backupColdStorageAfterDays", 1, 3650)
    expire_after = read.integer("backupExpireAfterDays", 1, 3650)
    retention = read.integer("backupRetentionDays", 1, 36500)
    floor = read.integer("backupRetentionFloorDays", 1, 36500)
    copy_region = read.string("backupCopyRegion")
    cooling_off = read.integer("backupVaultLockCoolingOffDays", 0, 36500)
    if expire_after < lock_days:
        read.problems.append(
            f"backupExpireAfterDays: {expire_after} is below backupObjectLockDays {lock_days} "
            "(a dump cannot expire while it is locked)"
        )
    if cold_after >= expire_after:
        read.problems.append(
            f"backupColdStorageAfterDays: {cold_after} must be below "
            f"backupExpireAfterDays {expire_after}"
        )
    if retention < floor:
        read.problems.append(
            f"backupRetentionDays: {retention} is below backupRetentionFloorDays {floor}"
        )
    if copy_region and (not AWS_REGION.fullmatch(copy_region) or copy_region == aws_region):
        read.problems.append(
            f"backupCopyRegion: {copy_region!r} must be another AWS region than {aws_region!r} "
            "(or empty for no copy)"
        )
    if 0 < cooling_off < MIN_VAULT_LOCK_COOLING_OFF_DAYS:
        read.problems.append(
            f"backupVaultLockCoolingOffDays: {cooling_off} is below AWS's minimum of "
            f"{MIN_VAULT_LOCK_COOLING_OFF_DAYS} (0 for no vault lock)"
        )
    restore_testing = read.boolean("backupRestoreTesting")
    restore_testing_schedule = _schedule(read, "backupRestoreTestingSchedule")
    return BackupSettings(
        object_lock_mode=cast(
            "Literal['GOVERNANCE', 'COMPLIANCE']",
            read.choice("backupObjectLockMode", OBJECT_LOCK_MODES),
        ),
        object_lock_days=lock_days,
        cold_storage_after_days=cold_after,
        expire_after_days=expire_after,
        retention_days=retention,
        copy_region=copy_region or None,
        vault_lock_cooling_off_days=cooling_off or None,
        restore_testing_schedule=restore_testing_schedule if restore_testing else None,
        dump_schedule=_schedule(read, "backupDumpSchedule"),
        verify_schedule=_schedule(read, "backupVerifySchedule"),
        plan_schedule=_schedule(read, "backupPlanSchedule"),
    )


def _timing_chain_problems(service: ServiceSettings, lb: LoadBalancerSettings) -> list[str]:
    """Connection and shutdown timings must nest, or requests are cut off mid-flight.

    The ALB must give up an idle connection before the app does (else the ALB reuses a socket
    the app just closed: sporadic 502s); the app must finish draining before ECS's stop timeout
    sends SIGKILL.
    """
    problems = []
    if lb.idle_timeout_seconds >= service.app_keepalive_seconds:
        problems.append(
            f"albIdleTimeoutSeconds: {lb.idle_timeout_seconds} must be below "
            f"appKeepAliveSeconds {service.app_keepalive_seconds}"
        )
    if service.app_shutdown_grace_seconds >= service.container_stop_timeout_seconds:
        problems.append(
            f"appShutdownGraceSeconds: {service.app_shutdown_grace_seconds} must be below "
            f"containerStopTimeoutSeconds {service.container_stop_timeout_seconds}"
        )
    return problems


def deploy_warnings(network: NetworkSettings, edge: EdgeSettings) -> list[str]:
    """Valid config that would still break the deployed app: shown in every preview."""
    warnings = []
    if not edge.connect_origins:
        warnings.append(
            "connectOrigins is empty: the edge's Content-Security-Policy lets the browser call "
            "only this site and Google, so the app's calls to Supabase and n8n will be blocked; "
            "list their origins before deploying"
        )
    if not network.database_egress_cidrs:
        warnings.append(
            "databaseEgressCidrs is empty: tasks cannot reach PostgreSQL on port 5432 (the app's "
            "DATABASE_URL check, the backup jobs); list the database's ranges before deploying"
        )
    return warnings


def load_settings(config: pulumi.Config | None = None) -> Settings:
    """Read and validate the current stack's config; raise InvalidConfigError listing all."""
    config = config or pulumi.Config()
    read = _Reader(config)
    environment = read.choice("environment", APP_ENVIRONMENTS)
    owner = read.string("owner", TAG_VALUE, "a tag value (letters, digits, ' .:/=+@-')")
    region = read.string("awsRegion", AWS_REGION, "an AWS region name")
    retention_floor = read.integer("logRetentionFloorDays", 1, 3653)
    network = _read_network(read)
    if network.flow_log_retention_days < retention_floor:
        read.problems.append(
            f"flowLogRetentionDays: {network.flow_log_retention_days} is below "
            f"logRetentionFloorDays {retention_floor}"
        )
    image = ImageSettings(
        build_on_preview=read.boolean("imageBuildOnPreview"),
        untagged_image_expiry_days=read.integer("untaggedImageExpiryDays", 1, 365),
    )
    service = _read_service(read, retention_floor)
    load_balancer = _read_load_balancer(read)
    read.problems += _timing_chain_problems(service, load_balancer)
    alarms = _read_alarms(read)
    edge = _read_edge(read)
    backup = _read_backup(read, region)
    protect_stateful = read.boolean("protectStatefulResources")
    recovery_window = read.integer("secretRecoveryWindowDays", 7, 30)
    secrets = {key: read.secret(key) for key in SECRET_KEYS}
    rotated_on = {key.removesuffix("RotatedOn"): read.date(key) for key in ROTATED_ON_KEYS}
    if read.problems or alarms is None:
        raise InvalidConfigError(pulumi.get_stack(), read.problems)
    for warning in deploy_warnings(network, edge):
        pulumi.log.warn(warning)
    return Settings(
        project=PROJECT,
        stack=pulumi.get_stack(),
        environment=environment,
        owner=owner,
        aws_region=region,
        network=network,
        image=image,
        service=service,
        load_balancer=load_balancer,
        alarms=alarms,
        edge=edge,
        backup=backup,
        protect_stateful=protect_stateful,
        secret_recovery_window_days=recovery_window,
        secrets=secrets,
        rotated_on=rotated_on,
    )
