"""Health checks against local fake dependencies: slow, hanging, failing, refused."""

import json
import time

import pytest
from starlette.testclient import TestClient

from app.asgi import create_app
from app.settings import STATIC_DIR_DEFAULT, Settings
from app.static_files import StaticFiles
from tests.app.conftest import closed_port

pytestmark = pytest.mark.usefixtures("clean_environment")

ANON_KEY = "anon-key-for-tests"


def checks_client(make_client, **overrides):
    settings = {"health_check_timeout_seconds": 1.0, "health_budget_seconds": 1.5, **overrides}
    return make_client(**settings)


def test_unconfigured_database_is_200(make_client):
    response = make_client().get("/health/db")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "unconfigured"
    assert {check["status"] for check in body["checks"].values()} == {"unconfigured"}


def test_supabase_query_is_the_head_count_with_the_anon_key(make_client, fake_dependency):
    client = checks_client(
        make_client, supabase_url=fake_dependency.url("ok"), supabase_anon_key=ANON_KEY
    )
    response = client.get("/health/db")
    assert response.status_code == 200
    assert response.json()["checks"]["supabase"]["status"] == "healthy"
    request = fake_dependency.requests[-1]
    assert request["method"] == "HEAD"
    assert request["path"] == "/ok/rest/v1/leads?select=count"
    assert request["headers"]["apikey"] == ANON_KEY
    assert request["headers"]["Authorization"] == f"Bearer {ANON_KEY}"
    assert request["headers"]["Prefer"] == "count=exact"


def test_failing_supabase_is_unhealthy_503_and_logged(make_client, fake_dependency, json_log):
    client = checks_client(
        make_client, supabase_url=fake_dependency.url("fail"), supabase_anon_key=ANON_KEY
    )
    response = client.get("/health/db")
    assert response.status_code == 503
    check = response.json()["checks"]["supabase"]
    assert (check["status"], check["statusCode"]) == ("unhealthy", 500)
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    failure = next(line for line in lines if line.get("event") == "health_check")
    assert (failure["check"], failure["target"], failure["status"]) == (
        "database",
        "supabase",
        "unhealthy",
    )


def test_postgres_on_a_closed_port_is_an_error_quickly(make_client):
    url = (
        f"postgresql://miko:pw-not-shown@127.0.0.1:{closed_port()}/miko"  # pragma: allowlist secret
    )
    client = checks_client(make_client, database_url=url)
    started = time.monotonic()
    response = client.get("/health/db")
    assert time.monotonic() - started < 1.5
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["postgres"]["status"] == "error"
    assert "pw-not-shown" not in response.text


@pytest.mark.postgres
def test_postgres_select_1_against_a_real_server(make_client, postgres_url):
    response = checks_client(make_client, database_url=postgres_url).get("/health/db")
    assert response.status_code == 200
    assert response.json()["checks"]["postgres"]["status"] == "healthy"


def test_apis_all_healthy(make_client, fake_dependency):
    client = checks_client(
        make_client,
        supabase_url=fake_dependency.url("ok"),
        supabase_anon_key=ANON_KEY,
        n8n_webhook_url=fake_dependency.url("ok/webhook/chat"),
        google_client_id="client-id",
        google_health_url=fake_dependency.url("ok/discovery"),
    )
    response = client.get("/health/apis")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert set(body["services"]) == {"supabase", "n8n", "googleCalendar"}
    n8n_call = next(r for r in fake_dependency.requests if r["path"] == "/ok/webhook/chat")
    assert (n8n_call["method"], json.loads(n8n_call["body"])) == ("POST", {"type": "health_check"})


def test_an_unhealthy_api_degrades(make_client, fake_dependency):
    client = checks_client(make_client, n8n_webhook_url=fake_dependency.url("fail"))
    response = client.get("/health/apis")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["services"]["n8n"]["status"] == "unhealthy"


def test_checks_run_concurrently(make_client, fake_dependency):
    client = checks_client(
        make_client,
        health_check_timeout_seconds=3.0,
        health_budget_seconds=4.0,
        supabase_url=fake_dependency.url("slow/0.8"),
        supabase_anon_key=ANON_KEY,
        n8n_webhook_url=fake_dependency.url("slow/0.8"),
        google_client_id="client-id",
        google_health_url=fake_dependency.url("slow/0.8"),
    )
    started = time.monotonic()
    response = client.get("/health/apis")
    elapsed = time.monotonic() - started
    assert response.json()["status"] == "healthy"
    assert 0.8 <= elapsed < 1.6, f"three 0.8 s checks took {elapsed:.2f} s: not concurrent"


def test_a_hanging_dependency_cannot_stall_the_endpoint(make_client, fake_dependency):
    client = checks_client(
        make_client,
        health_check_timeout_seconds=5.0,
        health_budget_seconds=1.0,
        n8n_webhook_url=fake_dependency.url("hang"),
        supabase_url=fake_dependency.url("ok"),
        supabase_anon_key=ANON_KEY,
    )
    started = time.monotonic()
    response = client.get("/health/apis")
    elapsed = time.monotonic() - started
    assert elapsed < 1.8, f"budget of 1 s took {elapsed:.2f} s"
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["services"]["n8n"]["status"] == "error"
    assert "budget" in body["services"]["n8n"]["message"]
    assert body["services"]["supabase"]["status"] == "healthy"


def test_per_check_timeout_is_an_error(make_client, fake_dependency):
    client = checks_client(make_client, n8n_webhook_url=fake_dependency.url("hang"))
    started = time.monotonic()
    body = client.get("/health/apis").json()
    assert time.monotonic() - started < 1.5
    assert body["services"]["n8n"]["status"] == "error"
    assert "within 1.0 s" in body["services"]["n8n"]["message"]


def test_dependency_results_reach_prometheus(make_client, fake_dependency):
    client = checks_client(make_client, n8n_webhook_url=fake_dependency.url("fail"))
    client.get("/health/apis")
    exposition = client.get("/metrics").text
    assert 'miko_dependency_up{dependency="n8n"} 0.0' in exposition
    assert 'miko_dependency_checks_total{dependency="n8n",status="unhealthy"}' in exposition
    assert 'miko_dependency_check_duration_seconds_count{dependency="n8n"}' in exposition


def test_liveness_reports_the_release_the_task_runs(clean_environment):
    """Deploy checks and rollbacks compare against this: commit (baked into the image), image
    digest (from the task definition) and the front-end build id of the files actually served."""
    image = "123456789012.dkr.ecr.us-west-2.amazonaws.com/miko-staging-app@sha256:" + "ab" * 32
    settings = Settings(release_commit="8c79df7", release_image=image, app_version="2.0.0")
    with TestClient(create_app(settings)) as client:
        release = client.get("/health").json()["release"]

    assert release == {
        "version": "2.0.0",
        "commit": "8c79df7",
        "image": image,
        "frontend": StaticFiles(STATIC_DIR_DEFAULT).build_id,
    }
