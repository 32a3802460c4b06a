"""POST /api/metrics: the browser MetricsCollector's flush, folded into Prometheus and EMF.

Only the metric names in METRIC_SPECS are accepted, each with its own tag keys; every tag value
goes through a policy that either refuses it or maps it onto a small fixed set, so a hostile
client cannot create new time series. Unknown names, unknown tag keys and refused values fail
the whole flush with 422.

Each accepted metric becomes one CloudWatch Embedded Metric Format line on stdout (namespace
`MiKO/Client`, dimension sets `[Environment]` and `[Environment, <tags>]`), so alarms can be
built on them without an agent: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
Event metrics (error_count, booking_completed, booking_failed, user_action) carry one value
named after the metric (unit Count); timings (page_load_time, api_response_time) carry
`<name>_count` (Count), `<name>_sum` and `<name>_max` (Milliseconds).
"""

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator
from starlette.types import Scope

from app.contract import BOOKING_FAILED_METRIC, CLIENT_METRICS_NAMESPACE, ENVIRONMENT_DIMENSION
from app.logging_setup import write_line

EMF_NAMESPACE = CLIENT_METRICS_NAMESPACE
MAX_METRICS_PER_FLUSH = 100
MAX_TAGS = 8
OTHER = "other"
MISSING = "none"

TagValue = Annotated[str, Field(max_length=128)] | int | float | bool
TagPolicy = Callable[[str], str | None]
"""Maps a raw tag value onto its bounded form; None means the value is refused."""


def slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")[:40]


def one_of(*allowed: str) -> TagPolicy:
    return lambda value: value if value in allowed else None


def bucket(*known: str) -> TagPolicy:
    """Known values (compared as slugs) keep their name; anything else becomes `other`."""
    known_set = frozenset(known)
    return lambda value: slug(value) if slug(value) in known_set else OTHER


def status_class(value: str) -> str | None:
    return f"{value[0]}xx" if re.fullmatch(r"[1-5][0-9][0-9]", value) else "error"


def endpoint_group(value: str) -> str | None:
    lowered = value.lower()
    for marker, group in (
        ("supabase", "supabase"),
        ("/rest/v1", "supabase"),
        ("n8n", "n8n"),
        ("webhook", "n8n"),
        ("google", "google"),
        ("base44", "base44"),
    ):
        if marker in lowered:
            return group
    return OTHER


PROCEDURES = (
    "breast_augmentation",
    "breast_lift",
    "breast_reduction",
    "tummy_tuck",
    "liposuction",
    "mommy_makeover",
    "bbl",
    "rhinoplasty",
    "facelift",
    "blepharoplasty",
    "botox",
    "fillers",
    "consultation",
)
CONSULTATION_TYPES = ("in_person", "virtual", "phone")
ERROR_TYPES = ("network", "api", "validation", "render", "booking", "chat", "auth", "timeout")
FAILURE_REASONS = ("validation", "unavailable", "network", "server", "timeout", "cancelled")
USER_ACTIONS = (
    "click",
    "scroll",
    "form_start",
    "form_submit",
    "chat_open",
    "chat_message",
    "booking_start",
    "call",
    "navigation",
)


@dataclass(frozen=True)
class MetricSpec:
    kind: Literal["event", "timing"]
    tags: Mapping[str, TagPolicy]
    dimensions: tuple[str, ...] = ()
    dropped: frozenset[str] = frozenset()
    """Tag keys the browser sends that are accepted and discarded (free-form context)."""


METRIC_SPECS: dict[str, MetricSpec] = {
    "page_load_time": MetricSpec("timing", {"unit": one_of("ms")}),
    "api_response_time": MetricSpec(
        "timing",
        {"endpoint": endpoint_group, "status": status_class, "unit": one_of("ms")},
        ("endpoint", "status"),
    ),
    "error_count": MetricSpec(
        "event",
        {"errorType": bucket(*ERROR_TYPES)},
        ("errorType",),
        dropped=frozenset({"component", "action"}),
    ),
    "booking_completed": MetricSpec(
        "event",
        {"procedure": bucket(*PROCEDURES), "consultationType": bucket(*CONSULTATION_TYPES)},
        ("procedure", "consultationType"),
    ),
    BOOKING_FAILED_METRIC: MetricSpec(
        "event",
        {
            "procedure": bucket(*PROCEDURES),
            "consultationType": bucket(*CONSULTATION_TYPES),
            "reason": bucket(*FAILURE_REASONS),
        },
        ("procedure", "consultationType", "reason"),
    ),
    "user_action": MetricSpec("event", {"action": bucket(*USER_ACTIONS)}, ("action",)),
}

MetricName = Literal[
    "page_load_time",
    "api_response_time",
    "error_count",
    "booking_completed",
    "booking_failed",  # contract.BOOKING_FAILED_METRIC (a Literal spells its values out)
    "user_action",
]

Finite = Annotated[float, Field(allow_inf_nan=False, ge=-1e9, le=1e9)]


class ClientMetric(BaseModel):
    """One aggregate from `MetricsCollector.getMetrics()`."""

    model_config = ConfigDict(extra="forbid")

    name: MetricName
    tags: dict[Annotated[str, Field(max_length=40)], TagValue] = Field(
        default_factory=dict, max_length=MAX_TAGS
    )
    count: int = Field(ge=1, le=1_000_000)
    sum: Finite
    avg: Finite
    min: Finite
    max: Finite
    recordedAt: datetime | None = None

    @model_validator(mode="after")
    def bounded_tags(self) -> "ClientMetric":
        self.tags = dict(bounded_tags(self.name, self.tags))
        return self


class ClientMetricsFlush(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timestamp: datetime
    environment: str = Field(default="unknown", max_length=32)
    metrics: list[ClientMetric] = Field(min_length=1, max_length=MAX_METRICS_PER_FLUSH)


def bounded_tags(name: str, tags: Mapping[str, Any]) -> dict[str, str]:
    spec = METRIC_SPECS[name]
    unknown = sorted(set(tags) - set(spec.tags) - spec.dropped)
    if unknown:
        allowed = ", ".join(sorted({*spec.tags, *spec.dropped})) or "none"
        raise ValueError(f"metric {name!r} does not take tag(s) {unknown}; allowed: {allowed}")
    bounded = {}
    for key, raw in tags.items():
        if key in spec.dropped:
            continue
        value = spec.tags[key](str(raw).lower() if isinstance(raw, bool) else str(raw))
        if value is None:
            raise ValueError(f"metric {name!r}: value of tag {key!r} is not one that is accepted")
        bounded[key] = value
    return bounded


def _counter(name: str, suffix: str, help_text: str, labels: tuple[str, ...]) -> Counter:
    return Counter(f"miko_client_{name}_{suffix}", help_text, ["environment", *labels])


PROMETHEUS_COUNTS = {
    name: _counter(name, "observations", f"Client-reported {name} observations.", spec.dimensions)
    for name, spec in METRIC_SPECS.items()
}
PROMETHEUS_MILLISECONDS = {
    name: _counter(name, "milliseconds", f"Sum of client-reported {name}.", spec.dimensions)
    for name, spec in METRIC_SPECS.items()
    if spec.kind == "timing"
}

_flush = TypeAdapter(ClientMetricsFlush)


def dimension_values(metric: ClientMetric) -> dict[str, str]:
    return {key: str(metric.tags.get(key, MISSING)) for key in METRIC_SPECS[metric.name].dimensions}


def emf_values(metric: ClientMetric) -> list[tuple[str, str, float]]:
    if METRIC_SPECS[metric.name].kind == "event":
        return [(metric.name, "Count", metric.count)]
    return [
        (f"{metric.name}_count", "Count", metric.count),
        (f"{metric.name}_sum", "Milliseconds", metric.sum),
        (f"{metric.name}_max", "Milliseconds", metric.max),
    ]


def emf_line(
    metric: ClientMetric, environment: str, request_id: str | None, now_ms: int
) -> dict[str, Any]:
    dimensions = dimension_values(metric)
    values = emf_values(metric)
    dimension_sets = [[ENVIRONMENT_DIMENSION]]
    if dimensions:
        dimension_sets.append([ENVIRONMENT_DIMENSION, *dimensions])
    return {
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": EMF_NAMESPACE,
                    "Dimensions": dimension_sets,
                    "Metrics": [{"Name": name, "Unit": unit} for name, unit, _ in values],
                }
            ],
        },
        "event": "client_metric",
        "request_id": request_id,
        ENVIRONMENT_DIMENSION: environment,
        **dimensions,
        **{name: value for name, _, value in values},
    }


def fold_into_prometheus(metric: ClientMetric, environment: str) -> None:
    labels = (environment, *dimension_values(metric).values())
    PROMETHEUS_COUNTS[metric.name].labels(*labels).inc(metric.count)
    milliseconds = PROMETHEUS_MILLISECONDS.get(metric.name)
    if milliseconds is not None:
        milliseconds.labels(*labels).inc(max(metric.sum, 0.0))


def ingest_metrics(document: Any, scope: Scope, environment: str) -> int:
    """The Environment dimension is the server's APP_ENV: a client cannot pick a new one."""
    flush = _flush.validate_python(document)
    request_id = scope.get("state", {}).get("request_id")
    now_ms = int(time.time() * 1000)
    for metric in flush.metrics:
        fold_into_prometheus(metric, environment)
        write_line(emf_line(metric, environment, request_id, now_ms))
    return len(flush.metrics)
