"""The ADOT collector sidecar of the app's task: OTLP/HTTP on the task's loopback in, X-Ray out.

Pure functions over plain values (tested without Pulumi). The app (app/tracing.py) exports its
sampled spans to 127.0.0.1:4318; the collector batches them and sends them with X-Ray's
PutTraceSegments under the task role. Its configuration travels in the AOT_CONFIG_CONTENT
variable, which the ADOT collector reads instead of its config file when set (its
pkg/config/config_factory.go; ECS task definitions usually fill it from SSM with `valueFrom`,
here it is plain and holds no secret); it is written as JSON, which is YAML too.

The container is not essential (a collector that dies costs traces, never the service), runs
read-only as the image's own non-root user with every capability dropped, writes its own log
stream (`otel-collector/...`) of the app's log group, and has a hard memory limit, so it can never
take the app's memory; the app container `dependsOn` it having started, so ECS stops the app
first and the app's last spans still reach it.
"""

import json
from typing import Any

from app.contract import OTLP_HTTP_PORT
from components.containers import hardened_container
from config.sections import TracingSettings

COLLECTOR_NAME = "otel-collector"
COLLECTOR_RELEASE = "v0.48.0"
COLLECTOR_IMAGE = (
    "public.ecr.aws/aws-observability/aws-otel-collector"
    "@sha256:9b28046359054b414f4ba76056ba4e8cffda2d53fbcee06171d7eeecd71326c3"
)
"""COLLECTOR_RELEASE by digest. The digest is the one public deployment code records for that tag;
ECR Public cannot be reached from where this was written: confirm it before a first deploy with
`crane digest public.ecr.aws/aws-observability/aws-otel-collector:v0.48.0` (or `docker buildx
imagetools inspect`), and move both together."""
COLLECTOR_USER = "4317:4317"
"""The image's `aoc` user (aws-otel-collector's Dockerfile: USER_UID=4317)."""
HEALTH_CHECK_PORT = 13133
"""The health_check extension; the image's /healthcheck binary asks 127.0.0.1 on this port."""
CONFIG_VARIABLE = "AOT_CONFIG_CONTENT"
MEMORY_LIMIT_SHARE = 0.8
"""Share of the container's hard limit at which the collector starts refusing data."""

XRAY_WRITE_ACTIONS = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")
"""What the awsxray exporter calls. X-Ray has no resource-level permissions for them. Sampling is
decided in the app (TraceIdRatioBased), so no GetSamplingRules/GetSamplingTargets: the
collector runs no X-Ray remote-sampling proxy."""


def collector_config(*, region: str, memory_mib: int) -> dict[str, Any]:
    """The collector's pipeline: loopback OTLP/HTTP receiver -> memory limiter -> batch -> X-Ray."""
    limit = int(memory_mib * MEMORY_LIMIT_SHARE)
    return {
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{HEALTH_CHECK_PORT}"}},
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{OTLP_HTTP_PORT}"}}}},
        "processors": {
            "memory_limiter": {
                "check_interval": "1s",
                "limit_mib": limit,
                "spike_limit_mib": max(8, limit // 4),
            },
            "batch/traces": {"timeout": "1s", "send_batch_size": 50},
        },
        "exporters": {"awsxray": {"region": region, "index_all_attributes": False}},
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "batch/traces"],
                    "exporters": ["awsxray"],
                }
            },
        },
    }


def collector_container(
    *, tracing: TracingSettings, log_group: str, region: str, stop_timeout_seconds: int
) -> dict[str, Any]:
    """The sidecar's container definition: the hardened baseline, adapted to the ADOT image."""
    config = collector_config(region=region, memory_mib=tracing.collector_memory_mib)
    container = hardened_container(
        name=COLLECTOR_NAME,
        image=COLLECTOR_IMAGE,
        environment={CONFIG_VARIABLE: json.dumps(config, sort_keys=True, separators=(",", ":"))},
        secrets=[],
        log_group=log_group,
        region=region,
        stop_timeout_seconds=stop_timeout_seconds,
    )
    container.update(
        essential=False,
        user=COLLECTOR_USER,
        mountPoints=[],  # writes nothing: no writable path at all
        cpu=tracing.collector_cpu,
        memory=tracing.collector_memory_mib,
        healthCheck={
            "command": ["CMD", "/healthcheck"],
            "interval": 30,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 10,
        },
    )
    return container


def tracing_statements(tracing: TracingSettings) -> list[dict[str, Any]]:
    """The task role's X-Ray grant when tracing is on; nothing otherwise."""
    if not tracing.enabled:
        return []
    return [{"Effect": "Allow", "Action": sorted(XRAY_WRITE_ACTIONS), "Resource": "*"}]
