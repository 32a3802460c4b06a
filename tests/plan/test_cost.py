"""The plan's cost estimate: the dated price table, the usage file and `plan/cost.py`, over the
renderings of the committed stacks and of config changes."""

import datetime
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from plan.cli import render_edge, render_with_promotion
from plan.cost import (
    PRICES_FILE,
    CostEstimate,
    cost_section,
    delta,
    estimate,
    load_prices,
    load_usage,
    runs_per_month,
)
from plan.placeholders import placeholder_secrets
from plan.render import Rendering, render_stack
from tests.plan.builders import make_resource

PRICES = load_prices()
_renders: dict[str, Rendering] = {}


def rendered(stack: str) -> Rendering:
    if stack not in _renders:
        _renders[stack] = render_edge(stack) if stack == "clinic" else render_with_promotion(stack)
    return _renders[stack]


def render_with(stack: str, config: Mapping[str, Any]) -> Rendering:
    return render_stack(stack, config=config, secret_values=placeholder_secrets())


def cost_of(rendering: Rendering, stack: str | None = None) -> CostEstimate:
    return estimate(rendering, PRICES, load_usage(stack or rendering.stack))


def line_total(cost: CostEstimate, key: str, resource: str) -> float:
    return sum(
        line.monthly for line in cost.lines if (line.price_key, line.resource) == (key, resource)
    )


@pytest.mark.parametrize("stack", ["staging", "prod", "clinic"])
def test_every_rendered_kind_is_priced_free_or_named_as_not_priced(stack):
    cost = cost_of(rendered(stack))

    assert cost.unclassified == ()
    assert cost.total > 0


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_priced_kind_of_the_stack_has_a_cost_line(stack):
    rendering = rendered(stack)
    cost = cost_of(rendering)
    keys = {line.price_key for line in cost.lines}

    present = {resource.type for resource in rendering.resources if resource.custom}
    for kind in present:
        priced = PRICES.kinds[kind].get("priced", [])
        if priced:
            assert keys & set(priced), f"{kind} is priced by the table but has no cost line"


def test_a_kind_the_table_does_not_know_is_reported_not_ignored():
    rendering = rendered("staging")
    unknown = make_resource("aws:rds/instance:Instance", "database", instanceClass="db.r6g.large")
    cost = cost_of(replace(rendering, resources=(*rendering.resources, unknown)))

    assert cost.unclassified == ("aws:rds/instance:Instance",)
    assert any(
        "Unclassified kinds" in line and "aws:rds/instance" in line for line in cost_section(cost)
    )


def test_the_edge_stack_costs_the_zone_s_plan_from_its_rendering():
    rendering = rendered("clinic")
    cost = cost_of(rendering)

    assert rendering.exports["plan"] == "pro"
    assert [(line.price_key, line.monthly) for line in cost.lines] == [
        ("cloudflare_pro_month", 20.0)
    ]


def test_the_task_cost_follows_the_task_size_and_the_task_count():
    base = cost_of(rendered("staging"))
    bigger = cost_of(render_with("staging", {"taskCpu": 512, "taskMemory": 1024}), "staging")
    more = cost_of(render_with("staging", {"minTasks": 2, "maxTasks": 4}), "staging")

    vcpu = line_total(base, "fargate_vcpu_hour", "app-service")
    memory = line_total(base, "fargate_gb_hour", "app-service")
    assert vcpu == pytest.approx(1 * 0.25 * 730 * 0.04048)
    assert memory == pytest.approx(1 * 0.5 * 730 * 0.004445)
    for changed in (bigger, more):
        assert line_total(changed, "fargate_vcpu_hour", "app-service") == pytest.approx(2 * vcpu)
        assert line_total(changed, "fargate_gb_hour", "app-service") == pytest.approx(2 * memory)
        assert changed.total == pytest.approx(base.total + vcpu + memory)


def test_a_nat_gateway_per_zone_adds_its_hours_and_its_address():
    before = cost_of(rendered("staging"))
    after = cost_of(render_with("staging", {"natMode": "per-az"}), "staging")

    change = delta(before, after)

    assert change.kinds == {"NAT gateway": (1, 2), "Elastic IP": (1, 2)}
    assert change.change == pytest.approx(730 * 0.045 + 730 * 0.005)
    assert change.summary() == "+$36.50/month: 1 Elastic IP added, 1 NAT gateway added"
    assert (
        delta(after, before).summary()
        == "-$36.50/month: 1 Elastic IP removed, 1 NAT gateway removed"
    )


def test_alarms_are_priced_per_metric_they_read():
    cost = cost_of(rendered("staging"))
    alarms = rendered("staging").of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    math = [alarm for alarm in alarms if alarm.inputs.get("metricQueries")]
    metrics = sum(
        max(1, sum(1 for query in alarm.inputs.get("metricQueries") or [] if query.get("metric")))
        for alarm in alarms
    )

    assert math, "metric-math alarms are in the stack"
    assert metrics > len(alarms)
    (line,) = [line for line in cost.lines if line.price_key == "alarm_metric_month"]
    assert line.quantity == metrics


def test_retention_and_expiry_come_from_the_rendering():
    staging, prod = cost_of(rendered("staging")), cost_of(rendered("prod"))

    staging_logs = next(
        line
        for line in staging.lines
        if (line.price_key, line.resource) == ("logs_storage_gb_month", "app-logs")
    )
    assert "kept 14 days" in staging_logs.detail
    prod_logs = next(
        line
        for line in prod.lines
        if (line.price_key, line.resource) == ("logs_storage_gb_month", "app-logs")
    )
    assert "kept 365 days" in prod_logs.detail
    # prod keeps dumps 400 days, 30 of them in Standard; the rest is named, not priced.
    assert line_total(prod, "s3_standard_gb_month", "backups-dumps-bucket") == pytest.approx(
        30 * 1 * 0.023
    )
    assert any("370 daily dumps" in item for item in prod.not_priced)


@pytest.mark.parametrize(
    ("expression", "runs"),
    [
        ("rate(5 minutes)", 730 * 12),
        ("rate(1 hour)", 730),
        ("cron(15 3 * * ? *)", 365 / 12),
        ("cron(45 4 ? * SUN *)", 365 / 12 / 7),
        ("cron(0/10 * * * ? *)", 6 * 24 * 365 / 12),
    ],
)
def test_schedule_expressions_give_runs_a_month(expression, runs):
    assert runs_per_month(expression, 730) == pytest.approx(runs)


def test_every_price_row_has_a_date_a_unit_and_a_source_page():
    document = json.loads(PRICES_FILE.read_text())

    assert datetime.date.fromisoformat(document["as_of"]) <= datetime.date.today()
    assert document["region"] == "us-west-2"
    for key, row in document["prices"].items():
        assert row["source"].startswith("https://"), key
        assert all(row[name] for name in ("unit", "label", "region_basis")), key
        assert row["price"] >= 0, key
    for kind, row in document["kinds"].items():
        assert {"priced", "free", "free_tier", "not_priced"} & row.keys(), kind
        assert set(row.get("priced", [])) <= document["prices"].keys(), kind
        assert set(row.get("not_priced", [])) <= document["not_priced"].keys(), kind
        assert row.get("free_tier", "xray") in document["free_tiers"], kind
    for key, tier in document["free_tiers"].items():
        assert tier["source"].startswith("https://"), key


def test_the_cost_block_prints_the_price_date_the_lines_and_every_assumption():
    cost = cost_of(rendered("prod"))
    text = "\n".join(cost_section(cost))

    assert text.startswith(
        f"Estimated monthly cost: ${cost.total:,.2f} (list prices as of 2026-11-27"
    )
    assert "NAT gateway hour: network-nat-0, network-nat-1, network-nat-2" in text
    assert "Usage assumptions (plan/usage.yaml, prod):" in text
    for key in load_usage("prod"):
        assert f"    {key}: " in text
    assert "Not priced:" in text
    assert "Free tiers:" in text


def test_the_estimate_is_json():
    document = cost_of(rendered("staging")).to_json()

    assert document["prices_as_of"] == PRICES.as_of
    assert document["total_monthly"] == pytest.approx(
        sum(line["monthly"] for line in document["lines"]), abs=0.01
    )
    assert all(line["source"].startswith("https://") for line in document["lines"])
    json.dumps(document)
