"""The app's container definition and its plain environment, built as JSON for the task.

Pure functions over plain values, called inside `Output.apply` and tested without Pulumi. The
environment is the only place the infrastructure tells the app its port, proxies and timeouts.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.contract import APP_PORT, HEALTH_PATH, OTLP_HTTP_PORT, Env
from components.containers import hardened_container, serialise
from components.trace_collector import COLLECTOR_NAME, collector_container
from config.secrets import VARIABLE_OF_SECRET_KEY
from config.sections import FrontendSettings, ServiceSettings, TimingSettings, TracingSettings

CONTAINER_NAME = "app"
HEALTH_COMMAND = (
    "import os, urllib.request as r; "
    f"r.urlopen('http://127.0.0.1:%s{HEALTH_PATH}' % os.environ.get('{Env.PORT}', '{APP_PORT}'), "
    "timeout=4)"
)
# One worker per task: the service scales out by tasks.
WORKERS_PER_TASK = 1
# Cloudflare, then the load balancer, append to X-Forwarded-For.
PROXY_HOPS = 2


def container_definitions(
    *,
    image: str,
    environment: Mapping[str, str],
    secrets: Sequence[Mapping[str, str]],
    log_group: str,
    region: str,
    stop_timeout_seconds: int,
    tracing: TracingSettings | None = None,
    task_size: tuple[int, int] | None = None,
) -> str:
    """The app container: the hardened baseline, its port and its liveness check; with tracing
    enabled, the collector sidecar too, its CPU and memory taken out of `task_size` (task CPU
    units, task MiB): the app gets the rest and starts once the collector has started."""
    container = hardened_container(
        name=CONTAINER_NAME,
        image=image,
        environment=environment,
        secrets=secrets,
        log_group=log_group,
        region=region,
        stop_timeout_seconds=stop_timeout_seconds,
    )
    container["portMappings"] = [
        {"containerPort": APP_PORT, "hostPort": APP_PORT, "protocol": "tcp"}
    ]
    container["healthCheck"] = {
        "command": ["CMD", "python", "-c", HEALTH_COMMAND],
        "interval": 30,
        "timeout": 5,
        "retries": 3,
        "startPeriod": 15,
    }
    if tracing is None or not tracing.enabled:
        return serialise([container])
    collector = collector_container(
        tracing=tracing,
        log_group=log_group,
        region=region,
        stop_timeout_seconds=stop_timeout_seconds,
    )
    container["dependsOn"] = [{"containerName": COLLECTOR_NAME, "condition": "START"}]
    if task_size is not None:
        task_cpu, task_memory = task_size
        container["cpu"] = task_cpu - tracing.collector_cpu
        container["memoryReservation"] = task_memory - tracing.collector_memory_mib
    return serialise([container, collector])


def tracing_environment(tracing: TracingSettings | None, log_group: str) -> dict[str, str]:
    """How the app traces: off (rate 0) unless the stack runs the collector sidecar."""
    if tracing is None or not tracing.enabled:
        return {Env.TRACING_SAMPLE_RATE: "0"}
    return {
        Env.TRACING_SAMPLE_RATE: repr(tracing.sample_rate),
        Env.OTEL_EXPORTER_OTLP_ENDPOINT: f"http://127.0.0.1:{OTLP_HTTP_PORT}",
        # X-Ray finds a trace's log lines in the groups its segments name.
        Env.OTEL_RESOURCE_ATTRIBUTES: f"aws.log.group.names={log_group}",
    }


@dataclass(frozen=True)
class Release:
    """What the task runs, as the app reports it in /health."""

    version: str
    image: str
    """The image by digest."""


def browser_environment(frontend: FrontendSettings) -> dict[str, str]:
    """The SPA's runtime configuration as the app reads it: which container variables (never
    their values) and which plain values reach the browser, and the CSP mode."""
    routed = {
        browser_key: VARIABLE_OF_SECRET_KEY[secret_key]
        for browser_key, secret_key in frontend.browser_secrets.items()
    }
    return {
        Env.BROWSER_CONFIG_FROM: json.dumps(routed, sort_keys=True),
        Env.BROWSER_CONFIG_VALUES: json.dumps(frontend.browser_values, sort_keys=True),
        Env.CSP_MODE: frontend.csp_mode,
    }


def app_environment(
    environment: str,
    release: Release,
    *,
    settings: ServiceSettings,
    timings: TimingSettings,
    frontend: FrontendSettings,
    asset_archive_bucket: str,
    tracing: TracingSettings | None = None,
    log_group: str = "",
) -> dict[str, str]:
    """The app container's plain environment: the only place it is assembled.

    The app receives the load balancer's idle timeout and the container's stop timeout, so it
    checks its own keep-alive and shutdown grace against the values of the stack it runs in.
    """
    return {
        **browser_environment(frontend),
        **tracing_environment(tracing, log_group),
        Env.RELEASE_IMAGE: release.image,
        Env.ASSET_ARCHIVE_BUCKET: asset_archive_bucket,
        Env.APP_ENV: environment,
        Env.APP_VERSION: release.version,
        Env.ALLOWED_ORIGINS: ",".join(settings.allowed_origins),
        Env.HOST: "0.0.0.0",  # noqa: S104 - inside the task's network namespace
        Env.PORT: str(APP_PORT),
        Env.LOG_LEVEL: settings.log_level,
        Env.KEEPALIVE_TIMEOUT_SECONDS: str(timings.app_keep_alive_seconds),
        Env.SHUTDOWN_GRACE_SECONDS: str(timings.app_shutdown_grace_seconds),
        Env.LOAD_BALANCER_IDLE_TIMEOUT_SECONDS: str(timings.alb_idle_timeout_seconds),
        Env.CONTAINER_STOP_TIMEOUT_SECONDS: str(timings.container_stop_timeout_seconds),
        Env.WEB_CONCURRENCY: str(WORKERS_PER_TASK),
        Env.TRUSTED_PROXY_HOPS: str(PROXY_HOPS),
    }
