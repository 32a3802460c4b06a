"""The service's settings: one typed object read from the environment, behind one cached getter."""

import json
import math
import pathlib
from functools import lru_cache
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app import __version__
from app.contract import (
    APP_PORT,
    BROWSER_VISIBLE_VARIABLES,
    CONTAINER_STOP_TIMEOUT_RANGE_SECONDS,
    DATABASE_CHECK_INTERVAL_SECONDS,
    LOAD_BALANCER_IDLE_TIMEOUT_RANGE_SECONDS,
    LOGS_INGEST_PATH,
    METRICS_INGEST_PATH,
    OTLP_HTTP_PORT,
    Env,
    browser_key_problem,
    keepalive_problem,
    shutdown_problem,
)
from app.security_headers import origin_of, security_headers

STATIC_DIR_DEFAULT = pathlib.Path(__file__).resolve().parent / "static"
GOOGLE_HEALTH_URL_DEFAULT = "https://www.googleapis.com/discovery/v1/apis/calendar/v3/rest"
DB_CHECK_INTERVAL_DEFAULT_SECONDS = DATABASE_CHECK_INTERVAL_SECONDS
DB_CHECK_INTERVAL_RANGE_SECONDS = (5, 3600)

AppEnv = Literal["development", "staging", "production"]
"""The values of contract.APP_ENVIRONMENTS (a Literal must spell them out for the type checker)."""

REQUIRED_OUTSIDE_DEVELOPMENT = (
    *BROWSER_VISIBLE_VARIABLES,  # every integration the SPA calls
    Env.ALLOWED_ORIGINS,
    Env.LOAD_BALANCER_IDLE_TIMEOUT_SECONDS,
    Env.CONTAINER_STOP_TIMEOUT_SECONDS,
)
"""Variables (names from app.contract) that staging and production refuse to start without."""


class Settings(BaseSettings):
    """Everything the service reads from its environment (variable name = field name, upper case).

    `APP_ENV=development` (the default) needs nothing: unconfigured integrations report
    `unconfigured`. `staging` and `production` are strict: start-up fails with one message naming
    every missing variable among SUPABASE_URL, SUPABASE_ANON_KEY, N8N_WEBHOOK_URL, N8N_INSTANCE_ID,
    GOOGLE_CLIENT_ID, GOOGLE_API_KEY, BASE44_APP_ID, ALLOWED_ORIGINS,
    LOAD_BALANCER_IDLE_TIMEOUT_SECONDS and CONTAINER_STOP_TIMEOUT_SECONDS. DATABASE_URL stays
    optional everywhere: the Supabase REST check already covers database reachability, and a
    direct Postgres `SELECT 1` is added when DATABASE_URL is set. SENTRY_DSN is optional.

    Strict environments also refuse unsafe values: `*` or non-https CORS origins, a keep-alive
    timeout not above LOAD_BALANCER_IDLE_TIMEOUT_SECONDS, and a shutdown grace period not below
    CONTAINER_STOP_TIMEOUT_SECONDS. Those two are the limits of the stack the app runs in, set by
    the infrastructure (app/contract.py states the relations); development checks them too when
    they are given.

    TRUSTED_PROXY_HOPS is how many proxies in front of the service append to X-Forwarded-For:
    0 trusts no header (the socket peer is the client), 1 is the load balancer alone, 2 is
    Cloudflare then the load balancer. Its default is 0 in development and 1 elsewhere.

    HEALTH_DB_CHECK_INTERVAL_SECONDS is how often the service runs the database check by itself,
    so a failure is logged for the CloudWatch alarm even when nobody calls /health/db: 0 turns it
    off, otherwise 5 to 3600. Its default is 0 in development and 60 elsewhere.
    """

    model_config = SettingsConfigDict(
        env_file=None, case_sensitive=False, extra="ignore", hide_input_in_errors=True
    )

    app_env: AppEnv = "development"
    app_version: str = Field(default=__version__, max_length=64)
    host: str = "127.0.0.1"
    port: int = Field(default=APP_PORT, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    web_concurrency: int = Field(default=1, ge=1, le=32)
    static_dir: pathlib.Path = STATIC_DIR_DEFAULT

    supabase_url: str | None = None
    supabase_anon_key: SecretStr | None = None
    database_url: SecretStr | None = None
    n8n_webhook_url: str | None = None
    n8n_instance_id: str | None = None
    google_client_id: str | None = None
    google_api_key: SecretStr | None = None
    google_health_url: str = GOOGLE_HEALTH_URL_DEFAULT
    base44_app_id: str | None = None
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    browser_config_from: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    browser_config_values: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    csp_mode: Literal["enforce", "report-only"] = "enforce"
    release_image: str | None = Field(default=None, max_length=512)
    release_commit: str | None = Field(default=None, max_length=64)
    asset_archive_bucket: str | None = Field(default=None, max_length=63)

    sentry_dsn: SecretStr | None = None
    sentry_traces_sample_rate: float = Field(default=0.0, ge=0.0, le=1.0)

    rate_limit: int = Field(default=100, ge=1)
    rate_limit_window_seconds: int = Field(default=60, ge=1)
    trusted_proxy_hops: int | None = Field(default=None, ge=0, le=5)
    max_body_bytes: int = Field(default=262_144, ge=1024, le=10_485_760)
    keepalive_timeout_seconds: int = Field(default=75, ge=1)
    shutdown_grace_seconds: int = Field(default=20, ge=1)
    load_balancer_idle_timeout_seconds: int | None = Field(
        default=None,
        ge=LOAD_BALANCER_IDLE_TIMEOUT_RANGE_SECONDS[0],
        le=LOAD_BALANCER_IDLE_TIMEOUT_RANGE_SECONDS[1],
    )
    container_stop_timeout_seconds: int | None = Field(
        default=None,
        ge=CONTAINER_STOP_TIMEOUT_RANGE_SECONDS[0],
        le=CONTAINER_STOP_TIMEOUT_RANGE_SECONDS[1],
    )
    health_check_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    health_budget_seconds: float = Field(default=5.0, gt=0, le=60)
    health_db_check_interval_seconds: int | None = None
    tracing_sample_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """Share of new traces sampled (app/tracing.py); 0, the default, turns tracing off."""
    otel_exporter_otlp_endpoint: str = f"http://127.0.0.1:{OTLP_HTTP_PORT}"
    otel_resource_attributes: str = Field(default="", max_length=1024)
    """`key=value,...` added to every span's resource (the OpenTelemetry variable's format)."""
    metrics_flush_interval_seconds: int = Field(default=60, ge=1, le=60)
    """How often each worker writes its CloudWatch EMF line (app/emf.py); windows are aligned
    to it. Not set by the stacks: 60 s matches CloudWatch's standard resolution."""

    @field_validator(
        "supabase_url",
        "n8n_webhook_url",
        "n8n_instance_id",
        "google_client_id",
        "base44_app_id",
        "supabase_anon_key",
        "database_url",
        "google_api_key",
        "sentry_dsn",
        mode="before",
    )
    @classmethod
    def blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "supabase_url", "n8n_webhook_url", "google_health_url", "otel_exporter_otlp_endpoint"
    )
    @classmethod
    def absolute_http_url(cls, value: str | None) -> str | None:
        if value is not None:
            origin_of(value)
        return value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("allowed_origins")
    @classmethod
    def origins_are_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and origin_of(origin) != origin.lower().rstrip("/"):
                raise ValueError(f"not a bare origin (scheme://host[:port]): {origin!r}")
        return [origin.rstrip("/") for origin in origins]

    @field_validator("browser_config_from", "browser_config_values", mode="before")
    @classmethod
    def json_object(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError:
                raise ValueError("not a JSON object of browser key to string") from None
        return value

    @field_validator("browser_config_from", "browser_config_values")
    @classmethod
    def browser_keys(cls, config: dict[str, str]) -> dict[str, str]:
        for key in config:
            problem = browser_key_problem(key)
            if problem:
                raise ValueError(problem)
        return config

    @field_validator("browser_config_from")
    @classmethod
    def browser_visible_only(cls, sources: dict[str, str]) -> dict[str, str]:
        # The program refuses such a config first; the app refuses it again, so no mistake in
        # either can hand a database URL or the server's Sentry DSN to every visitor.
        for key, variable in sources.items():
            if variable not in BROWSER_VISIBLE_VARIABLES:
                visible = ", ".join(BROWSER_VISIBLE_VARIABLES)
                raise ValueError(
                    f"{key} may not come from {variable}: only {visible} are made for the browser"
                )
        return sources

    @field_validator("health_db_check_interval_seconds")
    @classmethod
    def off_or_in_range(cls, value: int | None) -> int | None:
        low, high = DB_CHECK_INTERVAL_RANGE_SECONDS
        if value is not None and value != 0 and not low <= value <= high:
            raise ValueError(f"must be 0 (off) or between {low} and {high} seconds, not {value}")
        return value

    @model_validator(mode="after")
    def strict_outside_development(self) -> Self:
        if self.trusted_proxy_hops is None:
            self.trusted_proxy_hops = 0 if self.app_env == "development" else 1
        if self.health_db_check_interval_seconds is None:
            self.health_db_check_interval_seconds = (
                0 if self.app_env == "development" else DB_CHECK_INTERVAL_DEFAULT_SECONDS
            )
        problems = self._timing_problems()
        if self.app_env != "development":
            missing = [name for name in REQUIRED_OUTSIDE_DEVELOPMENT if not self._value_of(name)]
            if missing:
                raise ValueError(
                    f"{Env.APP_ENV}={self.app_env} needs these variables set: {', '.join(missing)}"
                )
            problems = self._unsafe_origins() + problems
        if problems:
            raise ValueError(f"{Env.APP_ENV}={self.app_env} refuses: {'; '.join(problems)}")
        return self

    def _value_of(self, variable: str) -> object:
        return getattr(self, variable.lower())

    def _unsafe_origins(self) -> list[str]:
        return [
            f"{Env.ALLOWED_ORIGINS} entry {origin!r} (use https origins, not '*')"
            for origin in self.allowed_origins
            if not origin.startswith("https://")
        ]

    def _timing_problems(self) -> list[str]:
        """The app's timings against the stack's limits, each as far as the limit is known."""
        relations = (
            (
                keepalive_problem,
                (Env.KEEPALIVE_TIMEOUT_SECONDS, self.keepalive_timeout_seconds),
                (Env.LOAD_BALANCER_IDLE_TIMEOUT_SECONDS, self.load_balancer_idle_timeout_seconds),
            ),
            (
                shutdown_problem,
                (Env.SHUTDOWN_GRACE_SECONDS, self.shutdown_grace_seconds),
                (Env.CONTAINER_STOP_TIMEOUT_SECONDS, self.container_stop_timeout_seconds),
            ),
        )
        problems = []
        for check, (name, value), (limit_name, limit) in relations:
            problem = None if limit is None else check(value, limit)
            if problem is not None:
                problems.append(f"{name}={value} / {limit_name}={limit}: {problem}")
        return problems

    @property
    def proxy_hops(self) -> int:
        return self.trusted_proxy_hops or 0

    @property
    def db_check_interval_seconds(self) -> int:
        return self.health_db_check_interval_seconds or 0

    @property
    def per_worker_rate_limit(self) -> int:
        """Each worker process counts on its own, so each gets an equal share of the limit.

        A client can then never exceed RATE_LIMIT in total, and may be refused a little earlier
        when its requests land unevenly on the workers. Cloudflare rate-limits /api/* as well.
        """
        return max(1, math.floor(self.rate_limit / self.web_concurrency))

    def browser_config(self) -> dict[str, str]:
        """What the SPA's `import.meta.env.VITE_*` reads see: served at RUNTIME_CONFIG_PATH.

        The routed variables (BROWSER_CONFIG_FROM) that are set, the plain values, and the keys
        the service fills itself. Sorted, so the script and the CSP are stable.
        """
        config = dict(self.browser_config_values)
        for key, variable in self.browser_config_from.items():
            value = self._value_of(variable)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if value:
                config[key] = str(value)
        config.update(
            {
                "VITE_APP_VERSION": self.app_version,
                "VITE_APP_ENV": self.app_env,
                "VITE_LOG_ENDPOINT": LOGS_INGEST_PATH,
                "VITE_METRICS_ENDPOINT": METRICS_INGEST_PATH,
            }
        )
        return dict(sorted(config.items()))

    def security_headers(self) -> dict[str, str]:
        """The response headers: the same function and inputs the edge's header rule uses."""
        return security_headers(self.browser_config().values(), self.csp_mode)


def describe_error(error: ValidationError) -> str:
    """One line per problem, naming the variable; never the value, which may be a secret."""
    lines = []
    for problem in error.errors(include_input=False, include_url=False):
        name = "_".join(str(part) for part in problem["loc"]).upper()
        message = str(problem["msg"]).removeprefix("Value error, ")
        lines.append(f"{name}: {message}" if name else message)
    return "invalid configuration:\n  " + "\n  ".join(lines)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
