"""The app's side of the metric-filter contract: the lines the app really prints for a failed
database check are the ones `contract.DATABASE_CHECK_FAILED` counts, and no others are."""

import json

import pytest

from app.contract import DATABASE_CHECK_FAILED, HEALTH_CHECK_EVENT
from tests.app.conftest import closed_port

pytestmark = pytest.mark.usefixtures("clean_environment")

ANON_KEY = "anon-key-for-tests"


def printed(json_log):
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert lines, "the app printed nothing at all"
    return lines


def check_client(make_client, **overrides):
    return make_client(health_check_timeout_seconds=1.0, health_budget_seconds=1.5, **overrides)


@pytest.mark.parametrize(("behaviour", "status"), [("refused", "error"), ("failing", "unhealthy")])
def test_a_failed_database_check_prints_the_line_the_filter_counts(
    make_client, fake_dependency, json_log, behaviour, status
):
    if behaviour == "refused":
        overrides = {"database_url": f"postgresql://miko@127.0.0.1:{closed_port()}/postgres"}
        target = "postgres"
    else:
        overrides = {"supabase_url": fake_dependency.url("fail"), "supabase_anon_key": ANON_KEY}
        target = "supabase"
    assert check_client(make_client, **overrides).get("/health/db").status_code == 503

    counted = [line for line in printed(json_log) if DATABASE_CHECK_FAILED.matches(line)]
    assert [(line["target"], line["status"]) for line in counted] == [(target, status)]


def test_a_healthy_database_check_prints_nothing_the_filter_counts(
    make_client, json_log, postgres_url
):
    client = check_client(make_client, database_url=postgres_url)
    response = client.get("/health/db")
    assert response.json()["checks"]["postgres"]["status"] == "healthy"

    lines = printed(json_log)
    assert not [line for line in lines if DATABASE_CHECK_FAILED.matches(line)]


def test_a_failed_apis_check_is_not_counted_as_a_database_failure(
    make_client, fake_dependency, json_log
):
    client = check_client(make_client, n8n_webhook_url=fake_dependency.url("fail"))
    assert client.get("/health/apis").json()["services"]["n8n"]["status"] == "unhealthy"

    failures = [line for line in printed(json_log) if line.get("event") == HEALTH_CHECK_EVENT]
    assert [(line["check"], line["target"]) for line in failures] == [("apis", "n8n")]
    assert not DATABASE_CHECK_FAILED.matches(failures[0])
