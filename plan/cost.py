"""The estimated monthly cost of a rendered stack, from a dated price table and usage assumptions.

Infracost's approach for Terraform, offline and for Pulumi: each resource kind maps to cost
components (`plan/prices.json`: a list price, its unit and the page it was read from); the
quantities the program fixes (task size and count, NAT gateways, endpoint zones, alarm metrics,
keys, secrets, log retention, bucket expiry, backup retention, canary schedules) are read from
the rendered resources; what only traffic decides (requests, GB through NAT, log volume, dump
size) comes from a committed usage file (`plan/usage.yaml`), printed with the estimate.

Every resource kind the program registers must be classified in the price table (priced, free,
or named as not priced), so a new kind cannot slip into a stack without a cost decision.
`estimate(rendering, prices, usage)` builds the estimate; `delta(before, after)` compares two.
"""

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plan.render import RenderedResource, Rendering

PRICES_FILE = Path(__file__).with_name("prices.json")
USAGE_FILE = Path(__file__).with_name("usage.yaml")
DAYS_PER_MONTH = 365 / 12
INCLUDED_EPHEMERAL_GB = 20
KMS_FREE_REQUESTS = 20_000
XRAY_FREE_TRACES = 100_000
LCU_NEW_CONNECTIONS_PER_S = 25
LCU_RULE_EVALUATIONS_PER_S = 1_000
FREE_RULES = 10
STANDARD_RESOLUTION_S = 60
TRACING_IMAGE_MARKS = ("otel", "xray", "x-ray")
TOP_LINES = 10


@dataclass(frozen=True)
class Price:
    key: str
    price: float
    unit: str
    label: str
    source: str
    region_basis: str
    note: str = ""


@dataclass(frozen=True)
class PriceTable:
    as_of: str
    currency: str
    region: str
    hours_per_month: float
    prices: Mapping[str, Price]
    free_tiers: Mapping[str, Mapping[str, str]]
    not_priced: Mapping[str, str]
    kinds: Mapping[str, Mapping[str, Any]]


def load_prices(path: Path = PRICES_FILE) -> PriceTable:
    document = json.loads(path.read_text())
    return PriceTable(
        as_of=document["as_of"],
        currency=document["currency"],
        region=document["region"],
        hours_per_month=float(document["hours_per_month"]),
        prices={key: Price(key=key, **row) for key, row in document["prices"].items()},
        free_tiers=document["free_tiers"],
        not_priced=document["not_priced"],
        kinds=document["kinds"],
    )


def load_usage(stack: str, path: Path = USAGE_FILE) -> dict[str, Any]:
    """The stack's usage assumptions (empty for a stack the file does not list)."""
    document = yaml.safe_load(path.read_text()) or {}
    return dict(document.get(stack) or {})


@dataclass(frozen=True)
class CostLine:
    component: str
    """What is charged (the price's label)."""
    price_key: str
    resource: str
    """The rendered resource(s) it is charged for (logical names)."""
    quantity: float
    unit: str
    unit_price: float
    source: str
    detail: str = ""
    """How the quantity was derived."""

    @property
    def monthly(self) -> float:
        return self.quantity * self.unit_price

    def to_json(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "price_key": self.price_key,
            "resource": self.resource,
            "quantity": round(self.quantity, 6),
            "unit": self.unit,
            "unit_price": self.unit_price,
            "monthly": round(self.monthly, 4),
            "source": self.source,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class CostEstimate:
    stack: str
    as_of: str
    currency: str
    region: str
    lines: tuple[CostLine, ...]
    assumptions: Mapping[str, Any]
    kind_counts: Mapping[str, int]
    """Rendered custom resources by type."""
    kind_labels: Mapping[str, str] = field(default_factory=dict)
    priced_kinds: frozenset[str] = frozenset()
    """Rendered types the price table prices (their count changes name a cost delta)."""
    unclassified: tuple[str, ...] = ()
    """Resource types the price table neither prices nor lists as free or not priced."""
    not_priced: tuple[str, ...] = ()
    free_tiers: tuple[str, ...] = ()

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)

    def by_component(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.component] = totals.get(line.component, 0.0) + line.monthly
        return totals

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "total_monthly": round(self.total, 2),
            "currency": self.currency,
            "prices_as_of": self.as_of,
            "region": self.region,
            "lines": [line.to_json() for line in self.lines],
            "assumptions": dict(self.assumptions),
            "not_priced": list(self.not_priced),
            "free_tiers": list(self.free_tiers),
            "unclassified_kinds": list(self.unclassified),
        }


# --- reading the rendering -------------------------------------------------------------------


def _number(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _per_name(table: Any, name: str) -> float:
    """`table[name]`, else `table["default"]`, for the usage maps keyed by logical name."""
    if isinstance(table, Mapping):
        return _number(table.get(name, table.get("default", 0)))
    return _number(table)


def _field_count(field_text: str, full: int) -> float:
    if field_text in ("*", "?"):
        return float(full)
    if "/" in field_text:
        return full / max(1, int(field_text.split("/")[1]))
    count = 0.0
    for part in field_text.split(","):
        if "-" in part and part.split("-")[0].isdigit():
            low, high = part.split("-")[:2]
            count += int(high) - int(low) + 1
        else:
            count += 1
    return count


def runs_per_month(expression: str, hours_per_month: float) -> float:
    """Runs a month of a `rate(...)` or `cron(...)` schedule expression (approximate for cron)."""
    rate = re.fullmatch(r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)", expression)
    if rate:
        minutes = {"minute": 1, "hour": 60, "day": 1440}[rate.group(2).rstrip("s")]
        return hours_per_month * 60 / (int(rate.group(1)) * minutes)
    cron = re.fullmatch(r"cron\((.+)\)", expression)
    if not cron:
        return 0.0
    fields: list[str] = [*cron.group(1).split(), "*", "*", "*", "*", "*"]
    minute, hour, day_of_month, day_of_week = fields[0], fields[1], fields[2], fields[4]
    per_day = _field_count(minute, 60) * _field_count(hour, 24)
    if day_of_week not in ("*", "?"):
        days = _field_count(day_of_week, 7) * DAYS_PER_MONTH / 7
    elif day_of_month not in ("*", "?"):
        days = _field_count(day_of_month, 31) * DAYS_PER_MONTH / 31
    else:
        days = DAYS_PER_MONTH
    return per_day * days


def _task_definitions(rendering: Rendering) -> dict[str, RenderedResource]:
    return {
        str(task.inputs.get("family", "")): task
        for task in rendering.of_type("aws:ecs/taskDefinition:TaskDefinition")
    }


def _family(task_definition_arn: str) -> str:
    return task_definition_arn.rsplit("/", 1)[-1].split(":", maxsplit=1)[0]


def _task_size(task: RenderedResource | None) -> tuple[float, float, float]:
    """(vCPU, memory GB, ephemeral GB) of a task definition."""
    if task is None:
        return 0.0, 0.0, float(INCLUDED_EPHEMERAL_GB)
    ephemeral = task.inputs.get("ephemeralStorage") or {}
    return (
        _number(task.inputs.get("cpu")) / 1024,
        _number(task.inputs.get("memory")) / 1024,
        _number(ephemeral.get("sizeInGib"), INCLUDED_EPHEMERAL_GB),
    )


def _containers(task: RenderedResource) -> list[dict[str, Any]]:
    definitions = task.inputs.get("containerDefinitions", "[]")
    parsed = json.loads(definitions) if isinstance(definitions, str) else definitions
    return [item for item in parsed if isinstance(item, dict)]


def _tracing_rendered(rendering: Rendering) -> bool:
    """A trace collector (ADOT / X-Ray daemon) runs beside the app."""
    for task in rendering.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        for container in _containers(task):
            text = f"{container.get('name', '')} {container.get('image', '')}".lower()
            if any(mark in text for mark in TRACING_IMAGE_MARKS):
                return True
    return False


def _names(resources: Iterable[RenderedResource]) -> str:
    return ", ".join(sorted(resource.name for resource in resources))


class _Lines:
    """Collects cost lines against the price table."""

    def __init__(self, prices: PriceTable) -> None:
        self.prices = prices
        self.lines: list[CostLine] = []

    def add(self, key: str, resource: str, quantity: float, detail: str = "") -> None:
        if quantity <= 0:
            return
        price = self.prices.prices[key]
        self.lines.append(
            CostLine(
                component=price.label,
                price_key=key,
                resource=resource,
                quantity=quantity,
                unit=price.unit,
                unit_price=price.price,
                source=price.source,
                detail=detail,
            )
        )


def _fargate(lines: _Lines, rendering: Rendering, usage: Mapping[str, Any], hours: float) -> None:
    tasks = _task_definitions(rendering)
    scaling = rendering.of_type("aws:appautoscaling/target:Target")
    for service in rendering.of_type("aws:ecs/service:Service"):
        name = str(service.inputs.get("name", service.name))
        minimum = [t for t in scaling if str(t.inputs.get("resourceId", "")).endswith(f"/{name}")]
        count = (
            _number(minimum[0].inputs.get("minCapacity"))
            if minimum
            else _number(service.inputs.get("desiredCount"), 1)
        )
        cpu, memory, ephemeral = _task_size(
            tasks.get(_family(str(service.inputs["taskDefinition"])))
        )
        shape = f"{count:g} tasks x {{}} x {hours:g} h" + (
            " (autoscaling minimum)" if minimum else ""
        )
        lines.add(
            "fargate_vcpu_hour", service.name, count * cpu * hours, shape.format(f"{cpu:g} vCPU")
        )
        lines.add(
            "fargate_gb_hour", service.name, count * memory * hours, shape.format(f"{memory:g} GB")
        )
        extra = max(0.0, ephemeral - INCLUDED_EPHEMERAL_GB)
        lines.add("fargate_ephemeral_gb_hour", service.name, count * extra * hours)
    for schedule in rendering.of_type("aws:scheduler/schedule:Schedule"):
        ecs = (schedule.inputs.get("target") or {}).get("ecsParameters")
        if not ecs:
            continue
        cpu, memory, _ = _task_size(tasks.get(_family(str(ecs.get("taskDefinitionArn", "")))))
        runs = runs_per_month(str(schedule.inputs.get("scheduleExpression", "")), hours)
        task_hours = (
            runs
            * _number(ecs.get("taskCount"), 1)
            * _per_name(usage.get("task_minutes"), schedule.name)
            / 60
        )
        detail = f"{runs:.1f} runs x {task_hours * 60 / max(runs, 1e-9):g} min x {{}}"
        lines.add(
            "fargate_vcpu_hour", schedule.name, task_hours * cpu, detail.format(f"{cpu:g} vCPU")
        )
        lines.add(
            "fargate_gb_hour", schedule.name, task_hours * memory, detail.format(f"{memory:g} GB")
        )


def _load_balancers(
    lines: _Lines, rendering: Rendering, usage: Mapping[str, Any], hours: float
) -> None:
    requests = _number(usage.get("requests_per_month"))
    per_second = requests / (hours * 3600)
    gb_per_hour = requests * _number(usage.get("kb_per_request")) / 1e6 / hours
    new_connections = per_second / max(1.0, _number(usage.get("requests_per_connection"), 1))
    rules = len(rendering.of_type("aws:lb/listenerRule:ListenerRule"))
    evaluations = per_second * max(0, rules - FREE_RULES)
    lcus = max(
        gb_per_hour,
        new_connections / LCU_NEW_CONNECTIONS_PER_S,
        evaluations / LCU_RULE_EVALUATIONS_PER_S,
    )
    for balancer in rendering.of_type("aws:lb/loadBalancer:LoadBalancer"):
        lines.add("alb_hour", balancer.name, hours)
        lines.add(
            "alb_lcu_hour",
            balancer.name,
            lcus * hours,
            f"{lcus:.3f} LCU/h: {gb_per_hour:.3f} GB/h, {new_connections:.3f} new connections/s",
        )
        if not balancer.inputs.get("internal"):
            zones = len(balancer.inputs.get("subnets") or []) or 1
            lines.add(
                "public_ipv4_hour", balancer.name, zones * hours, f"{zones} zones x {hours:g} h"
            )


def _network(lines: _Lines, rendering: Rendering, usage: Mapping[str, Any], hours: float) -> None:
    nats = rendering.of_type("aws:ec2/natGateway:NatGateway")
    if nats:
        lines.add("nat_gateway_hour", _names(nats), len(nats) * hours, f"{len(nats)} x {hours:g} h")
        lines.add("nat_gateway_gb", _names(nats), _number(usage.get("nat_gb_per_month")))
    eips = rendering.of_type("aws:ec2/eip:Eip")
    if eips:
        lines.add("public_ipv4_hour", _names(eips), len(eips) * hours, f"{len(eips)} x {hours:g} h")
    interface = [
        endpoint
        for endpoint in rendering.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if endpoint.inputs.get("vpcEndpointType") == "Interface"
    ]
    for endpoint in interface:
        zones = len(endpoint.inputs.get("subnetIds") or []) or 1
        lines.add(
            "vpc_interface_endpoint_hour",
            endpoint.name,
            zones * hours,
            f"{zones} zones x {hours:g} h",
        )
    if interface:
        lines.add(
            "vpc_interface_endpoint_gb",
            _names(interface),
            _number(usage.get("endpoint_gb_per_month")),
        )


def _keys_and_secrets(lines: _Lines, rendering: Rendering, usage: Mapping[str, Any]) -> None:
    keys = rendering.of_type("aws:kms/key:Key")
    if keys:
        lines.add("kms_key_month", _names(keys), len(keys))
        billable = max(0.0, _number(usage.get("kms_requests_per_month")) - KMS_FREE_REQUESTS)
        lines.add("kms_10k_requests", "all keys", billable / 10_000, "beyond 20,000 free")
    secrets = rendering.of_type("aws:secretsmanager/secret:Secret")
    if secrets:
        lines.add("secret_month", _names(secrets), len(secrets))
        calls = _number(usage.get("secrets_api_calls_per_month"))
        lines.add("secrets_10k_api_calls", "all secrets", calls / 10_000)


def _alarm_metrics(alarm: RenderedResource) -> tuple[int, bool]:
    """(metrics billed, high resolution) of an alarm: a metric-math alarm counts per metric."""
    queries = alarm.inputs.get("metricQueries") or []
    metrics = [
        query["metric"] for query in queries if isinstance(query, dict) and query.get("metric")
    ]
    periods = [_number(metric.get("period"), STANDARD_RESOLUTION_S) for metric in metrics]
    periods.append(_number(alarm.inputs.get("period"), STANDARD_RESOLUTION_S))
    return max(1, len(metrics)), min(periods) < STANDARD_RESOLUTION_S


def _emf_metric_count() -> int:
    """Metrics the service publishes as EMF: a fixed set, named in the app's contract.

    Imported when called: `plan.snapshot` imports the plan package before it puts another
    revision's program first on the import path (plan/placeholders.py says the same)."""
    try:
        from app.contract import EMF_METRIC_COUNT  # noqa: PLC0415
    except ImportError:
        return 0
    return int(EMF_METRIC_COUNT)


def _observability(
    lines: _Lines, rendering: Rendering, usage: Mapping[str, Any], hours: float
) -> list[str]:
    not_priced: list[str] = []
    alarms = rendering.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    standard = [alarm for alarm in alarms if not _alarm_metrics(alarm)[1]]
    if len(standard) < len(alarms):
        not_priced.append("high-resolution alarms: " + _names(set(alarms) - set(standard)))
    metrics = sum(_alarm_metrics(alarm)[0] for alarm in standard)
    if standard:
        lines.add(
            "alarm_metric_month",
            f"{len(standard)} alarms",
            metrics,
            f"{len(standard)} alarms reading {metrics} metrics",
        )
    composite = rendering.of_type("aws:cloudwatch/compositeAlarm:CompositeAlarm")
    lines.add("composite_alarm_month", _names(composite), len(composite))
    filters = rendering.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
    lines.add("custom_metric_month", _names(filters), len(filters), "one metric per filter")
    services = rendering.of_type("aws:ecs/service:Service")
    lines.add(
        "custom_metric_month",
        "app EMF metrics",
        _emf_metric_count() if services else 0,
        "the app's fixed EMF metric set (app.contract.EMF_METRIC_COUNT)",
    )
    dashboards = rendering.of_type("aws:cloudwatch/dashboard:Dashboard")
    lines.add("dashboard_month", _names(dashboards), len(dashboards))
    ingest = usage.get("log_ingest_gb_per_month")
    for group in rendering.of_type("aws:cloudwatch/logGroup:LogGroup"):
        gb = _per_name(ingest, group.name)
        retention = _number(group.inputs.get("retentionInDays"))
        lines.add("logs_ingest_gb", group.name, gb)
        if retention > 0:
            stored = gb * retention / DAYS_PER_MONTH
            lines.add(
                "logs_storage_gb_month",
                group.name,
                stored,
                f"{gb:g} GB/month kept {retention:g} days (steady state)",
            )
        else:
            not_priced.append(f"log group {group.name}: no retention, storage grows without end")
    for canary in rendering.of_type("aws:synthetics/canary:Canary"):
        expression = str((canary.inputs.get("schedule") or {}).get("expression", ""))
        runs = runs_per_month(expression, hours)
        lines.add("canary_run", canary.name, runs, f"{expression}: {runs:g} runs")
    for check in rendering.of_type("aws:route53/healthCheck:HealthCheck"):
        lines.add("route53_health_check_non_aws_month", check.name, 1)
    if _tracing_rendered(rendering):
        traces = _number(usage.get("requests_per_month")) * _number(usage.get("trace_sample_rate"))
        billable = max(0.0, traces - XRAY_FREE_TRACES)
        lines.add(
            "xray_million_traces",
            "tracing collector",
            billable / 1e6,
            f"{traces:,.0f} traces, beyond 100,000 free",
        )
    return not_priced


def _lifecycle(rendering: Rendering, bucket: RenderedResource) -> list[dict[str, Any]]:
    # The mocks give a resource the id `<logical name>-id` (plan/mocks.py).
    for config in rendering.of_type(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    ):
        if config.inputs.get("bucket") == f"{bucket.name}-id":
            return [rule for rule in config.inputs.get("rules") or [] if isinstance(rule, dict)]
    return []


def _dump_days(rules: Sequence[Mapping[str, Any]]) -> tuple[float, float] | None:
    """(days in Standard, days in a colder class) of the dumps a `dumps/` rule keeps."""
    for rule in rules:
        if (rule.get("filter") or {}).get("prefix") == "dumps/":
            expiry = _number((rule.get("expiration") or {}).get("days"))
            transitions = [_number(t.get("days")) for t in rule.get("transitions") or []]
            standard = min([expiry, *transitions]) if transitions else expiry
            return standard, expiry - standard
    return None


def _storage(lines: _Lines, rendering: Rendering, usage: Mapping[str, Any]) -> list[str]:
    not_priced: list[str] = []
    dump = _number(usage.get("dump_size_gb"))
    dump_expiry = 0.0
    for bucket in rendering.of_type("aws:s3/bucket:Bucket"):
        days = _dump_days(_lifecycle(rendering, bucket))
        if days is None:
            lines.add(
                "s3_standard_gb_month", bucket.name, _per_name(usage.get("bucket_gb"), bucket.name)
            )
            continue
        standard, colder = days
        dump_expiry = standard + colder
        lines.add(
            "s3_standard_gb_month",
            bucket.name,
            dump * standard,
            f"{standard:g} daily dumps x {dump:g} GB",
        )
        if colder:
            not_priced.append(
                f"{bucket.name}: {colder:g} daily dumps ({dump * colder:g} GB) after "
                f"{standard:g} days in a colder class. "
                + lines.prices.not_priced["s3_glacier_ir_gb_month"]
            )
    if any(
        rule.get("copyActions")
        for plan in rendering.of_type("aws:backup/plan:Plan")
        for rule in plan.inputs.get("rules") or []
    ):
        not_priced.append(lines.prices.not_priced["backup_cross_region_transfer"])
    for vault in rendering.of_type("aws:backup/vault:Vault"):
        retention = _vault_retention(rendering, vault)
        # An S3 backup is incremental: the vault holds every object the bucket had during the
        # retention window (the dumps the bucket keeps plus those deleted within the window).
        gb = dump * (dump_expiry + retention) if retention else 0.0
        lines.add(
            "backup_s3_gb_month",
            vault.name,
            gb,
            f"({dump_expiry:g} dumps kept + {retention:g} days retained) x {dump:g} GB",
        )
    for repository in rendering.of_type("aws:ecr/repository:Repository"):
        images = _number(usage.get("images_kept"))
        lines.add(
            "ecr_gb_month",
            repository.name,
            images * _number(usage.get("image_gb")),
            f"{images:g} images x {_number(usage.get('image_gb')):g} GB",
        )
    return not_priced


def _vault_retention(rendering: Rendering, vault: RenderedResource) -> float:
    for plan in rendering.of_type("aws:backup/plan:Plan"):
        for rule in plan.inputs.get("rules") or []:
            if rule.get("targetVaultName") == vault.name:
                return _number((rule.get("lifecycle") or {}).get("deleteAfter"))
            for copy in rule.get("copyActions") or []:
                if str(copy.get("destinationVaultArn", "")).endswith(f"/{vault.name}"):
                    return _number((copy.get("lifecycle") or {}).get("deleteAfter"))
    return 0.0


def _bucket_arn(bucket: RenderedResource) -> str:
    arn = bucket.outputs.get("arn")
    return str(arn) if arn else f"arn:aws:s3:::{bucket.outputs.get('bucket', bucket.name)}"


def _selector_fields(selector: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        str(field.get("field")): field
        for field in selector.get("fieldSelectors") or []
        if isinstance(field, Mapping)
    }


def _records_management_events(trail: RenderedResource) -> bool:
    """A trail with no selectors records every management event (CloudTrail's default)."""
    selectors = trail.inputs.get("advancedEventSelectors") or []
    if not selectors:
        basic = trail.inputs.get("eventSelectors") or []
        return not basic or any(s.get("includeManagementEvents", True) for s in basic)
    return any(
        "Management" in (_selector_fields(s).get("eventCategory") or {}).get("equals", [])
        for s in selectors
    )


def _recorded_buckets(rendering: Rendering, trail: RenderedResource) -> list[RenderedResource]:
    """The buckets whose object (data) events the trail's advanced selectors record."""
    prefixes: list[str] = []
    everything = False
    for selector in trail.inputs.get("advancedEventSelectors") or []:
        fields = _selector_fields(selector)
        if (fields.get("eventCategory") or {}).get("equals") != ["Data"]:
            continue
        if "AWS::S3::Object" not in (fields.get("resources.type") or {}).get("equals", []):
            continue
        arns = fields.get("resources.ARN")
        if arns is None:
            everything = True
        prefixes += [str(prefix) for prefix in (arns or {}).get("startsWiths") or []]
    return [
        bucket
        for bucket in rendering.of_type("aws:s3/bucket:Bucket")
        if everything or any(f"{_bucket_arn(bucket)}/".startswith(p) for p in prefixes)
    ]


def _audit_trails(lines: _Lines, rendering: Rendering, usage: Mapping[str, Any]) -> None:
    """Data events, billed from the first delivery, of the buckets each trail records; and the
    management events of a trail that is not the account's first copy (the first is free)."""
    events = usage.get("object_events_per_month")
    for trail in rendering.of_type("aws:cloudtrail/trail:Trail"):
        buckets = _recorded_buckets(rendering, trail)
        counts = {bucket.name: _per_name(events, bucket.name) for bucket in buckets}
        total = sum(counts.values())
        lines.add(
            "cloudtrail_data_100k",
            trail.name,
            total / 100_000,
            f"{total:,.0f} object events of {len(buckets)} buckets",
        )
        copy = _number(usage.get("trail_management_copy"), 1)
        if _records_management_events(trail) and copy > 1:
            management = _number(usage.get("management_events_per_month"))
            lines.add(
                "cloudtrail_management_copy_100k",
                trail.name,
                management / 100_000,
                f"copy {copy:g} of {management:,.0f} management events (the first is free)",
            )


def _edge(lines: _Lines, rendering: Rendering) -> list[str]:
    plan = rendering.exports.get("plan")
    if not isinstance(plan, str):
        return []
    key = f"cloudflare_{plan}_month"
    if key not in lines.prices.prices:
        return [f"Cloudflare {plan} plan: no list price"]
    lines.add(key, "zone", 1, f"the zone's plan: {plan}")
    return []


def estimate(rendering: Rendering, prices: PriceTable, usage: Mapping[str, Any]) -> CostEstimate:
    """The stack's estimated monthly cost: one line per charged component and resource."""
    hours = prices.hours_per_month
    lines = _Lines(prices)
    _fargate(lines, rendering, usage, hours)
    _load_balancers(lines, rendering, usage, hours)
    _network(lines, rendering, usage, hours)
    _keys_and_secrets(lines, rendering, usage)
    not_priced = _observability(lines, rendering, usage, hours)
    not_priced += _storage(lines, rendering, usage)
    _audit_trails(lines, rendering, usage)
    not_priced += _edge(lines, rendering)
    kinds = Counter(resource.type for resource in rendering.resources if resource.custom)
    classified = [kind for kind in sorted(kinds) if kind in prices.kinds]
    for kind in classified:
        not_priced += [prices.not_priced[key] for key in prices.kinds[kind].get("not_priced", [])]
    tiers = {prices.kinds[k]["free_tier"] for k in classified if "free_tier" in prices.kinds[k]}
    return CostEstimate(
        stack=rendering.stack,
        as_of=prices.as_of,
        currency=prices.currency,
        region=prices.region,
        lines=tuple(sorted(lines.lines, key=lambda line: -line.monthly)),
        assumptions=dict(usage),
        kind_counts=dict(kinds),
        kind_labels={kind: str(prices.kinds[kind].get("label", kind)) for kind in classified},
        priced_kinds=frozenset(k for k in classified if prices.kinds[k].get("priced")),
        unclassified=tuple(kind for kind in sorted(kinds) if kind not in prices.kinds),
        not_priced=tuple(dict.fromkeys(not_priced)),
        free_tiers=tuple(prices.free_tiers[tier]["note"] for tier in sorted(tiers)),
    )


# --- the change -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostDelta:
    before: float
    after: float
    components: Mapping[str, tuple[float, float]]
    """Monthly cost before and after, of each component that changed."""
    kinds: Mapping[str, tuple[int, int]]
    """Count before and after, of each priced kind whose count changed, by its label."""

    @property
    def change(self) -> float:
        return self.after - self.before

    def summary(self) -> str:
        """e.g. `+$32.85/month: 1 NAT gateway added, 1 Elastic IP added`."""
        sign = "+" if self.change >= 0 else "-"
        head = f"{sign}${abs(self.change):,.2f}/month"
        reasons = [
            f"{abs(after - before)} {label} {'added' if after > before else 'removed'}"
            for label, (before, after) in sorted(self.kinds.items())
        ]
        if not reasons:
            reasons = [
                f"{component} {after - before:+,.2f}"
                for component, (before, after) in sorted(
                    self.components.items(), key=lambda item: -abs(item[1][1] - item[1][0])
                )[:3]
            ]
        return head + (": " + ", ".join(reasons) if reasons else ": no change")

    def to_json(self) -> dict[str, Any]:
        return {
            "before_monthly": round(self.before, 2),
            "after_monthly": round(self.after, 2),
            "change_monthly": round(self.change, 2),
            "summary": self.summary(),
            "components": {
                name: {"before": round(before, 4), "after": round(after, 4)}
                for name, (before, after) in sorted(self.components.items())
            },
            "kinds": {
                label: {"before": before, "after": after}
                for label, (before, after) in sorted(self.kinds.items())
            },
        }


def delta(before: CostEstimate, after: CostEstimate) -> CostDelta:
    """What the change from `before` to `after` does to the monthly cost."""
    old, new = before.by_component(), after.by_component()
    components = {
        name: (old.get(name, 0.0), new.get(name, 0.0))
        for name in sorted(old.keys() | new.keys())
        if abs(old.get(name, 0.0) - new.get(name, 0.0)) >= 0.005
    }
    kinds: dict[str, tuple[int, int]] = {}
    for kind in sorted(before.priced_kinds | after.priced_kinds):
        counts = (before.kind_counts.get(kind, 0), after.kind_counts.get(kind, 0))
        if counts[0] != counts[1]:
            label = after.kind_labels.get(kind) or before.kind_labels.get(kind) or kind
            kinds[label] = counts
    return CostDelta(before.total, after.total, components, kinds)


# --- text -------------------------------------------------------------------------------------


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _assumption_text(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return str(value)


def cost_section(
    estimate: CostEstimate,
    change: CostDelta | None = None,
    base: str | None = None,
    top: int = TOP_LINES,
) -> list[str]:
    """The plan's "Estimated monthly cost" block."""
    lines = [
        f"Estimated monthly cost: {_money(estimate.total)} "
        f"(list prices as of {estimate.as_of}, {estimate.region}, {estimate.currency}; "
        "plan/prices.json)"
    ]
    for line in estimate.lines[:top]:
        detail = f"; {line.detail}" if line.detail else ""
        lines.append(
            f"  {_money(line.monthly):>9}  {line.component}: {line.resource} "
            f"({line.quantity:,.2f} {line.unit} x ${line.unit_price:g}{detail})"
        )
    rest = estimate.lines[top:]
    if rest:
        lines.append(
            f"  {_money(sum(line.monthly for line in rest)):>9}  {len(rest)} more lines "
            f"(.plan/{estimate.stack}.json)"
        )
    if estimate.unclassified:
        lines.append(
            "  Unclassified kinds (not in plan/prices.json): " + ", ".join(estimate.unclassified)
        )
    if estimate.not_priced:
        lines.append("  Not priced:")
        lines += [f"    - {item}" for item in estimate.not_priced]
    if estimate.free_tiers:
        lines.append("  Free tiers:")
        lines += [f"    - {item}" for item in estimate.free_tiers]
    if estimate.assumptions:
        lines.append(f"  Usage assumptions (plan/usage.yaml, {estimate.stack}):")
        lines += [
            f"    {key}: {_assumption_text(value)}" for key, value in estimate.assumptions.items()
        ]
    if change is not None:
        lines.append(
            f"  Against {base}: {change.summary()} "
            f"({_money(change.before)} -> {_money(change.after)})"
        )
    return lines
