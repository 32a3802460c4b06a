"""The contract between the service and the infrastructure that runs it: each shared fact once.

Plain Python, standard library only: the image ships it (it lives in `app/`), and the Pulumi
program, the policy pack and the tests import it too. Whatever the app and the infrastructure must
agree on is named here, and nowhere else:

- the port, the public health paths and the internal paths the load balancer must never route;
- the names of the environment variables the service component sets and the app reads;
- the CloudWatch Embedded Metric Format namespaces, metric names and dimensions the app writes;
- the JSON log fields that the CloudWatch metric filters match;
- the relations between timeouts that keep connections and shutdowns nested.

The infrastructure's own limits (the load balancer's idle timeout, the container's stop timeout)
reach the app as environment variables: the app checks its timings against the values of the
stack it runs in, never against copies of the defaults.
"""

import re
from dataclasses import dataclass
from typing import Final

# --- network and paths ---------------------------------------------------------------------

APP_PORT: Final = 8080
"""The port the container listens on, and the target group's port."""
DATABASE_PORT: Final = 5432

HEALTH_PATH: Final = "/health"
"""Liveness: the load balancer's target check, the container check and the external check."""
HEALTH_DATABASE_PATH: Final = "/health/db"
HEALTH_APIS_PATH: Final = "/health/apis"
HEALTH_PATHS: Final = (HEALTH_PATH, HEALTH_DATABASE_PATH, HEALTH_APIS_PATH)
OPENAPI_PATH: Final = "/openapi.json"
LOGS_INGEST_PATH: Final = "/api/logs"
METRICS_INGEST_PATH: Final = "/api/metrics"
API_PREFIX: Final = "/api"

METRICS_PATH: Final = "/metrics"
"""Prometheus exposition: internal, answered 404 by the load balancer."""
INTERNAL_PATHS: Final = (METRICS_PATH,)

# --- the browser: the single-page app's runtime configuration, assets and reports ----------

RUNTIME_CONFIG_PATH: Final = "/_platform/runtime-config.js"
"""A script the service writes from its environment and adds to every HTML page before the app's
own scripts: it sets `globalThis.__MIKO_ENV__`, which the SPA's `import.meta.env.VITE_*` reads
resolve to once built with the platform's Vite settings (app/frontend/platform.vite.config.mjs).
Never cached, at the edge or in the browser, so a rotated value reaches the next page load."""
RUNTIME_CONFIG_GLOBAL: Final = "__MIKO_ENV__"
ASSETS_PREFIX: Final = "/assets/"
"""Where Vite writes the build's fingerprinted files (`build.assetsDir`)."""
CSP_REPORTS_PATH: Final = "/api/csp-reports"
"""Where browsers send Content-Security-Policy violation reports (report-uri and report-to)."""
CSP_REPORT_GROUP: Final = "csp-endpoint"
"""The Reporting-Endpoints name the CSP's report-to directive refers to."""
CSP_MODES: Final = ("enforce", "report-only")
ASSET_ARCHIVE_REFRESH_LIMIT_SECONDS: Final = 24 * 3600
"""Longest interval at which a running task re-publishes its release's files to the asset
archive: the bucket's lifecycle adds this much to the retention window, so a running release's
files never expire."""
MIN_ASSET_RETENTION_HOURS: Final = 24
"""Shortest time a replaced release's files stay loadable (skew protection)."""


# --- environment variables the service component sets --------------------------------------


class Env:
    """Names of the container environment variables (plain values; secrets are below)."""

    APP_ENV: Final = "APP_ENV"
    APP_VERSION: Final = "APP_VERSION"
    HOST: Final = "HOST"
    PORT: Final = "PORT"
    LOG_LEVEL: Final = "LOG_LEVEL"
    ALLOWED_ORIGINS: Final = "ALLOWED_ORIGINS"
    WEB_CONCURRENCY: Final = "WEB_CONCURRENCY"
    TRUSTED_PROXY_HOPS: Final = "TRUSTED_PROXY_HOPS"
    KEEPALIVE_TIMEOUT_SECONDS: Final = "KEEPALIVE_TIMEOUT_SECONDS"
    SHUTDOWN_GRACE_SECONDS: Final = "SHUTDOWN_GRACE_SECONDS"
    LOAD_BALANCER_IDLE_TIMEOUT_SECONDS: Final = "LOAD_BALANCER_IDLE_TIMEOUT_SECONDS"
    """The load balancer's idle timeout, so the app can keep its keep-alive above it."""
    CONTAINER_STOP_TIMEOUT_SECONDS: Final = "CONTAINER_STOP_TIMEOUT_SECONDS"
    """ECS's SIGTERM-to-SIGKILL time, so the app can keep its shutdown grace below it."""
    HEALTH_DB_CHECK_INTERVAL_SECONDS: Final = "HEALTH_DB_CHECK_INTERVAL_SECONDS"
    BACKUP_BUCKET: Final = "BACKUP_BUCKET"
    BACKUP_KMS_KEY_ID: Final = "BACKUP_KMS_KEY_ID"
    BACKUP_PREFIX: Final = "BACKUP_PREFIX"
    BROWSER_CONFIG_FROM: Final = "BROWSER_CONFIG_FROM"
    """JSON object: browser key (VITE_*) -> container variable whose value the browser gets.
    Only variables of BROWSER_VISIBLE_VARIABLES may be named."""
    BROWSER_CONFIG_VALUES: Final = "BROWSER_CONFIG_VALUES"
    """JSON object: browser key (VITE_*) -> plain value (feature flags, public identifiers)."""
    CSP_MODE: Final = "CSP_MODE"
    """`enforce` or `report-only` (CSP_MODES)."""
    RELEASE_IMAGE: Final = "RELEASE_IMAGE"
    """The image the task runs, by digest: reported by /health."""
    RELEASE_COMMIT: Final = "RELEASE_COMMIT"
    """The git commit the image was built from (a build argument of the image)."""
    ASSET_ARCHIVE_BUCKET: Final = "ASSET_ARCHIVE_BUCKET"
    """S3 bucket holding earlier releases' fingerprinted assets (skew protection); unset: none."""
    TRACING_SAMPLE_RATE: Final = "TRACING_SAMPLE_RATE"
    """Share (0 to 1) of new traces the app samples (app/tracing.py); 0: tracing off entirely."""
    OTEL_EXPORTER_OTLP_ENDPOINT: Final = "OTEL_EXPORTER_OTLP_ENDPOINT"
    """Base URL of the collector's OTLP/HTTP receiver (the task's sidecar): `/v1/traces` is
    appended."""
    OTEL_RESOURCE_ATTRIBUTES: Final = "OTEL_RESOURCE_ATTRIBUTES"
    """`key=value,...` the OpenTelemetry SDK adds to every span's resource (the log group, so
    X-Ray finds a trace's log lines)."""


class SecretEnv:
    """Names of the variables ECS injects from Secrets Manager (`valueFrom`), never plain."""

    SUPABASE_URL: Final = "SUPABASE_URL"
    SUPABASE_ANON_KEY: Final = "SUPABASE_ANON_KEY"
    N8N_WEBHOOK_URL: Final = "N8N_WEBHOOK_URL"
    N8N_INSTANCE_ID: Final = "N8N_INSTANCE_ID"
    GOOGLE_CLIENT_ID: Final = "GOOGLE_CLIENT_ID"
    GOOGLE_API_KEY: Final = "GOOGLE_API_KEY"
    BASE44_APP_ID: Final = "BASE44_APP_ID"
    SENTRY_DSN: Final = "SENTRY_DSN"
    DATABASE_URL: Final = "DATABASE_URL"
    SCRATCH_DATABASE_URL: Final = "SCRATCH_DATABASE_URL"


BROWSER_VISIBLE_VARIABLES: Final = (
    SecretEnv.SUPABASE_URL,
    SecretEnv.SUPABASE_ANON_KEY,
    SecretEnv.N8N_WEBHOOK_URL,
    SecretEnv.N8N_INSTANCE_ID,
    SecretEnv.GOOGLE_CLIENT_ID,
    SecretEnv.GOOGLE_API_KEY,
    SecretEnv.BASE44_APP_ID,
)
"""The secret variables made for a browser: every page load hands them to anyone, so they are
secret only so that they rotate through one flow. Database URLs, the server's Sentry DSN and the
pager URL are not here, and neither the program nor the app routes them to the browser."""
PLATFORM_BROWSER_KEYS: Final = (
    "VITE_APP_VERSION",
    "VITE_APP_ENV",
    "VITE_LOG_ENDPOINT",
    "VITE_METRICS_ENDPOINT",
)
"""Browser keys the service fills itself (release, environment, its ingestion paths)."""
BROWSER_KEY_PATTERN: Final = r"^VITE_[A-Z0-9_]{1,64}$"


def browser_key_problem(key: str) -> str | None:
    """Why `key` cannot be a key of the SPA's runtime configuration, or None."""
    if not re.fullmatch(BROWSER_KEY_PATTERN, key):
        return f"{key!r} is not a browser key (VITE_ and A-Z, 0-9, _)"
    if key in PLATFORM_BROWSER_KEYS:
        return f"{key} is set by the service itself"
    return None


APP_ENVIRONMENTS: Final = ("development", "staging", "production")
"""APP_ENV values; the stacks deploy the last two."""
DEPLOYED_ENVIRONMENTS: Final = ("staging", "production")

OTLP_HTTP_PORT: Final = 4318
"""The collector sidecar's OTLP/HTTP receiver, on the task's loopback only."""
TRACE_ID_FIELD: Final = "trace_id"
"""The log field holding the current X-Ray trace id (`1-xxxxxxxx-<24 hex>`) inside a request."""

BACKUP_DUMP_PREFIX: Final = "dumps"
"""Folder of the dump bucket the backup jobs write to and the bucket's lifecycle applies to."""


# --- metrics the app writes as CloudWatch EMF, and the log fields that filters match ----------

CLIENT_METRICS_NAMESPACE: Final = "MiKO/Client"
"""Where the app writes the browsers' metrics (app/ingest/client_metrics.py)."""
ENVIRONMENT_DIMENSION: Final = "Environment"
"""The dimension every client metric carries, valued with APP_ENV."""
BOOKING_FAILED_METRIC: Final = "booking_failed"

APP_METRICS_NAMESPACE: Final = "MiKO/App"
"""Where metric filters on the app's log group publish (`<prefix>-<signal>`, no dimension), and
where the app's own EMF lines publish (app/emf.py: the names below, dimension Environment)."""

# The server-side series the app writes once a minute as one EMF line (app/emf.py). One EMF
# document gives each dimension key a single value, so a breakdown is part of the metric's name
# (`<series>_<part>`, each part from a closed tuple here) rather than a dimension: one line a
# minute, and a fixed number of metrics, EMF_METRIC_COUNT, whatever the traffic.
ROUTE_CLASSES: Final = ("page", "ingest", "health", "other")
"""Route classes of the latency histograms: `other` takes every route not classed here."""
STATUS_CLASSES: Final = ("2xx", "3xx", "4xx", "5xx")
"""Status classes of the request counts; a status outside 200-599 counts as `5xx`."""
CHECKED_DEPENDENCIES: Final = ("supabase", "postgres", "n8n", "google", "other")
"""Dependencies of app/health/checks.py; an unknown name counts as `other`."""
INGEST_OUTCOMES: Final = ("accepted", "rejected", "rate_limited")
"""What became of a request to an ingestion endpoint: 2xx, 429, any other status."""
EMF_REQUESTS: Final = "Requests"
EMF_LATENCY: Final = "Latency"
"""Milliseconds, as a histogram (EMF `Values`/`Counts`): CloudWatch computes percentiles."""
EMF_DEPENDENCY_CHECKS: Final = "DependencyChecks"
EMF_DEPENDENCY_FAILURES: Final = "DependencyFailures"
EMF_INGEST: Final = "Ingest"


def emf_metric(series: str, part: str = "") -> str:
    """The CloudWatch metric name of one part of a series, e.g. `Requests_5xx`."""
    return f"{series}_{part}" if part else series


EMF_METRIC_NAMES: Final = (
    *(emf_metric(EMF_REQUESTS, status) for status in STATUS_CLASSES),
    *(emf_metric(EMF_LATENCY, route) for route in ROUTE_CLASSES),
    EMF_DEPENDENCY_CHECKS,
    *(emf_metric(EMF_DEPENDENCY_FAILURES, name) for name in CHECKED_DEPENDENCIES),
    *(emf_metric(EMF_INGEST, outcome) for outcome in INGEST_OUTCOMES),
)
"""Every metric the app's EMF lines can create in a stack (one Environment value each)."""
EMF_METRIC_COUNT: Final = len(EMF_METRIC_NAMES)
BACKUP_METRICS_NAMESPACE: Final = "MiKO/Backup"


@dataclass(frozen=True)
class LogMatch:
    """A JSON log line the app prints and a metric filter counts: field -> accepted values."""

    fields: tuple[tuple[str, tuple[str | bool, ...]], ...]

    def filter_pattern(self) -> str:
        """The CloudWatch Logs filter pattern matching the line."""
        return "{ " + " && ".join(_term(name, values) for name, values in self.fields) + " }"

    def matches(self, line: dict[str, object]) -> bool:
        """Whether a parsed log line is one this filter counts (the app's side of the test)."""
        return all(line.get(name) in values for name, values in self.fields)


def _term(name: str, values: tuple[str | bool, ...]) -> str:
    def one(value: str | bool) -> str:
        if isinstance(value, bool):
            return f"($.{name} IS {'TRUE' if value else 'FALSE'})"
        return f'($.{name} = "{value}")'

    joined = " || ".join(one(value) for value in values)
    return joined if len(values) == 1 else f"({joined})"


HEALTH_CHECK_EVENT: Final = "health_check"
DATABASE_CHECK: Final = "database"
FAILED_CHECK_STATUSES: Final = ("unhealthy", "error")
DATABASE_CHECK_INTERVAL_SECONDS: Final = 60
"""How often each deployed task runs the database check by itself (app/health/periodic.py: one
worker per task, the next check an interval after the previous one ends). The default of
HEALTH_DB_CHECK_INTERVAL_SECONDS outside development; the database-health alarm's threshold is
derived from it (components/signals.py)."""
DATABASE_CHECK_FAILED = LogMatch(
    (
        ("event", (HEALTH_CHECK_EVENT,)),
        ("check", (DATABASE_CHECK,)),
        ("status", FAILED_CHECK_STATUSES),
    )
)
"""The line the app prints for each failed database check (app/health/checks.py)."""


CSP_VIOLATION_EVENT: Final = "csp_violation"
CSP_VIOLATION_REPORTED = LogMatch((("event", (CSP_VIOLATION_EVENT,)),))
"""The line the app prints for each CSP violation report (app/ingest/csp_reports.py)."""


def backup_succeeded(command: str) -> LogMatch:
    """The result line of a successful `python -m app backup <command>` (app/backup/cli.py)."""
    return LogMatch((("command", (command,)), ("ok", (True,))))


# --- timeouts that must nest -------------------------------------------------------------------

LOAD_BALANCER_IDLE_TIMEOUT_RANGE_SECONDS: Final = (1, 4000)
"""What an Application Load Balancer accepts as its idle timeout.
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html"""
CONTAINER_STOP_TIMEOUT_RANGE_SECONDS: Final = (2, 120)
"""What ECS on Fargate accepts as a container's stopTimeout.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html"""


CLOUDFLARE_ORIGIN_IDLE_TIMEOUT_SECONDS: Final = 900
"""How long Cloudflare keeps an idle connection to the origin open for reuse (its Proxy Idle
Timeout, and HTTP/2 Connection Idle; not configurable below Enterprise).
https://developers.cloudflare.com/fundamentals/reference/connection-limits/"""


def edge_idle_timeout_problem(load_balancer_idle_seconds: int) -> str | None:
    """The load balancer must keep an idle connection from the edge open longer than the edge does.

    Cloudflare reuses an idle origin connection for up to CLOUDFLARE_ORIGIN_IDLE_TIMEOUT_SECONDS;
    a load balancer that closes it first races the next request on it: occasional 520s.
    """
    if load_balancer_idle_seconds > CLOUDFLARE_ORIGIN_IDLE_TIMEOUT_SECONDS:
        return None
    return (
        f"the load balancer's idle timeout ({load_balancer_idle_seconds} s) must exceed "
        f"Cloudflare's origin keep-alive ({CLOUDFLARE_ORIGIN_IDLE_TIMEOUT_SECONDS} s, its Proxy "
        "Idle Timeout), or Cloudflare reuses connections the load balancer closed (520s)"
    )


def keepalive_problem(keepalive_seconds: int, load_balancer_idle_seconds: int) -> str | None:
    """The app must keep an idle connection open longer than the load balancer does.

    Otherwise the load balancer may reuse a connection the app has just closed: sporadic 502s.
    """
    if keepalive_seconds > load_balancer_idle_seconds:
        return None
    return (
        f"the app's keep-alive ({keepalive_seconds} s) must exceed the load balancer's idle "
        f"timeout ({load_balancer_idle_seconds} s)"
    )


def shutdown_problem(shutdown_grace_seconds: int, stop_timeout_seconds: int) -> str | None:
    """The app must finish draining before ECS's stop timeout sends SIGKILL."""
    if shutdown_grace_seconds < stop_timeout_seconds:
        return None
    return (
        f"the app's shutdown grace ({shutdown_grace_seconds} s) must be below the container "
        f"stop timeout ({stop_timeout_seconds} s)"
    )
