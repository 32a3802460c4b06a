"""POST /api/metrics: the browser MetricsCollector's flush, folded into Prometheus and EMF.

Only the metric names in METRIC_SPECS are accepted, each with its own tag keys; every tag value
goes through a policy that either refuses it or maps it onto a small fixed set, so a hostile
client cannot create new time series. Unknown names, unknown tag keys and refused values fail
the whole flush with 422, and nothing of a refused flush is counted or written.

The validators are pydantic models generated from METRIC_SPECS (one per metric name, told apart
by `name`), so the OpenAPI document lists, per metric, the tag keys it takes and the values each
key keeps (an `enum`; a closed key such as `unit` takes nothing else, a bucketed key counts any
other value as `other`).

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
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from prometheus_client import Counter
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    StrictBool,
    StrictFloat,
    StrictInt,
    Tag,
    TypeAdapter,
    create_model,
)
from starlette.types import Scope

from app.contract import BOOKING_FAILED_METRIC, CLIENT_METRICS_NAMESPACE, ENVIRONMENT_DIMENSION
from app.ingest.endpoint import DateTime, Integer, document_names
from app.logging_setup import compact_json, write_text

EMF_NAMESPACE = CLIENT_METRICS_NAMESPACE
MAX_METRICS_PER_FLUSH = 100
OTHER = "other"
MISSING = "none"

TagValue = Annotated[str, Field(max_length=128)] | StrictInt | StrictFloat | StrictBool
"""What the collector sends as a tag value: a short string, a number or a boolean."""


def slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")[:40]


@dataclass(frozen=True)
class TagPolicy:
    """How one tag key's value is validated (`annotation`, documented) and bounded (`fold`)."""

    annotation: Any
    fold: Callable[[str], str]
    description: str


def one_of(*allowed: str) -> TagPolicy:
    """A closed set: any other value is refused (422)."""
    return TagPolicy(
        Literal[allowed],
        lambda value: value,
        "Only the listed values; any other is refused.",
    )


def bucket(*known: str) -> TagPolicy:
    """Known values (compared as slugs) keep their name; anything else becomes `other`."""
    known_set = frozenset(known)
    return TagPolicy(
        Literal[known] | TagValue,
        lambda value: slug(value) if slug(value) in known_set else OTHER,
        "Kept when it is one of the listed values (compared lower-cased, with runs of other "
        f"characters as `_`); any other string, number or boolean is counted as `{OTHER}`.",
    )


def status_class(value: str) -> str:
    return f"{value[0]}xx" if re.fullmatch(r"[1-5][0-9][0-9]", value) else "error"


def endpoint_group(value: str) -> str:
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


STATUS = TagPolicy(
    TagValue,
    status_class,
    "The HTTP status: 100-599 is counted as its class (`2xx`, ...), anything else as `error`.",
)
ENDPOINT = TagPolicy(
    TagValue,
    endpoint_group,
    "The API called (a URL or path), counted as `supabase`, `n8n`, `google`, `base44` or "
    f"`{OTHER}`.",
)
CONTEXT = TagPolicy(TagValue, lambda value: value, "Free-form context: accepted and not kept.")

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
        {"endpoint": ENDPOINT, "status": STATUS, "unit": one_of("ms")},
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

Finite = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=-1e9, le=1e9)]
"""A JSON number (an integer too) within ±1e9: no boolean, no numeric string, no Infinity."""


class MetricValues(BaseModel):
    """One aggregate from `MetricsCollector.getMetrics()`; one subclass per metric name."""

    model_config = ConfigDict(extra="forbid")

    name: str
    tags: BaseModel
    count: Integer = Field(ge=1, le=1_000_000)
    sum: Finite
    avg: Finite
    min: Finite
    max: Finite
    recordedAt: DateTime | None = None

    def bounded_tags(self) -> dict[str, str]:
        """The tags as they are counted: dropped keys left out, every value folded."""
        return bounded_tags(self.name, self.tags.model_dump(exclude_none=True))


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def tags_model(name: str, spec: MetricSpec) -> type[BaseModel]:
    """The `tags` object of one metric: its keys only (absent or null means not given)."""
    policies = {**spec.tags, **dict.fromkeys(sorted(spec.dropped), CONTEXT)}
    fields: dict[str, Any] = {
        key: (policy.annotation | None, Field(default=None, description=policy.description))
        for key, policy in policies.items()
    }
    config = ConfigDict(
        extra="forbid",
        json_schema_extra={"propertyNames": {"enum": list(policies)}, "maxProperties": len(fields)},
    )
    model: type[BaseModel] = create_model(f"{camel(name)}Tags", __config__=config, **fields)
    return model


def metric_model(name: str, spec: MetricSpec) -> type[MetricValues]:
    tags = tags_model(name, spec)
    constant: Any = Literal[name]
    model: type[MetricValues] = create_model(
        f"{camel(name)}Metric",
        __base__=MetricValues,
        name=(constant, ...),
        tags=(tags, Field(default_factory=tags)),
    )
    return model


METRIC_MODELS = {name: metric_model(name, spec) for name, spec in METRIC_SPECS.items()}
UNKNOWN_METRIC = "name must be one of: " + ", ".join(METRIC_SPECS)


def metric_name_of(value: Any) -> str | None:
    name = value.get("name") if isinstance(value, dict) else getattr(value, "name", None)
    return name if isinstance(name, str) and name in METRIC_MODELS else None


if TYPE_CHECKING:
    ClientMetric = MetricValues
else:
    ClientMetric = Annotated[
        Union[tuple(Annotated[model, Tag(name)] for name, model in METRIC_MODELS.items())],  # noqa: UP007
        Discriminator(
            metric_name_of, custom_error_type="metric_name", custom_error_message=UNKNOWN_METRIC
        ),
    ]


class ClientMetricsFlush(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timestamp: DateTime
    environment: str = Field(default="unknown", max_length=32)
    metrics: list[ClientMetric] = Field(min_length=1, max_length=MAX_METRICS_PER_FLUSH)


document_names(ClientMetricsFlush)


def bounded_tags(name: str, tags: Mapping[str, Any]) -> dict[str, str]:
    """Tags of a metric as counted. Keys must be the metric's (the models check that first)."""
    spec = METRIC_SPECS[name]
    if set(tags) - set(spec.tags) - spec.dropped:
        allowed = ", ".join(sorted({*spec.tags, *spec.dropped})) or "none"
        raise ValueError(f"metric {name!r} takes only the tags: {allowed}")
    bounded = {}
    for key, raw in tags.items():
        if key in spec.dropped:
            continue
        bounded[key] = spec.tags[key].fold(tag_text(raw))
    return bounded


def tag_text(raw: Any) -> str:
    """A tag value as text: `true`/`false` as JSON spells them, `503.0` as `503`."""
    if isinstance(raw, bool):
        return str(raw).lower()
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


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


def dimension_values(metric: MetricValues) -> dict[str, str]:
    tags = metric.bounded_tags()
    return {key: tags.get(key, MISSING) for key in METRIC_SPECS[metric.name].dimensions}


def emf_values(metric: MetricValues) -> list[tuple[str, str, float]]:
    if METRIC_SPECS[metric.name].kind == "event":
        return [(metric.name, "Count", metric.count)]
    return [
        (f"{metric.name}_count", "Count", metric.count),
        (f"{metric.name}_sum", "Milliseconds", metric.sum),
        (f"{metric.name}_max", "Milliseconds", metric.max),
    ]


def emf_line(
    metric: MetricValues, environment: str, request_id: str | None, now_ms: int
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


@dataclass(frozen=True)
class Observation:
    """One metric of a flush, ready to count and write."""

    name: str
    labels: tuple[str, ...]
    count: int
    milliseconds: float
    line: str


def observation(
    metric: MetricValues, environment: str, request_id: str | None, now_ms: int
) -> Observation:
    labels = (environment, *dimension_values(metric).values())
    line = compact_json(emf_line(metric, environment, request_id, now_ms)) + "\n"
    return Observation(metric.name, labels, metric.count, max(float(metric.sum), 0.0), line)


def fold_into_prometheus(seen: Observation) -> None:
    PROMETHEUS_COUNTS[seen.name].labels(*seen.labels).inc(seen.count)
    milliseconds = PROMETHEUS_MILLISECONDS.get(seen.name)
    if milliseconds is not None:
        milliseconds.labels(*seen.labels).inc(seen.milliseconds)


def ingest_metrics(document: Any, scope: Scope, environment: str) -> int:
    """The Environment dimension is the server's APP_ENV: a client cannot pick a new one.

    Every metric is validated and rendered before the first is counted or written.
    """
    flush = _flush.validate_python(document)
    request_id = scope.get("state", {}).get("request_id")
    now_ms = int(time.time() * 1000)
    observations = [
        observation(metric, environment, request_id, now_ms) for metric in flush.metrics
    ]
    for seen in observations:
        fold_into_prometheus(seen)
        write_text(seen.line)
    return len(observations)
