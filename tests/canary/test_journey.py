"""canary/journey.js, run with Node and playwright-core in Chromium, against the fixture SPA.

The journey runs with the environment the canary of each committed stack gets
(components/synthetics_canary.py `journey_environment`: that stack's selectors and the security
headers of its CSP mode), pointed at the local service instead of the public URL. It passes on
the fixture as built, and fails, naming the cause, when the consultation route is broken, a
security header is missing, or the page throws. Each wait is bounded (JOURNEY_TIMEOUT_MS) and
so is each run (tests/canary/node_journey.py).
"""

import pytest

from components.synthetics_canary import journey_environment, required_security_headers
from config.sections import CanarySettings, FrontendSettings
from plan.render import stack_config
from tests.canary.node_journey import run_handler, run_journey

WAIT_MS = "5000"
"""Bound of each navigation and selector wait in these runs (the canary's is 15 s)."""


def committed_environment(stack: str, base_url: str) -> dict[str, str]:
    values, _ = stack_config(stack)
    flat = {key.split(":", 1)[1]: value for key, value in values.items()}
    settings = CanarySettings.model_validate(flat)
    csp_mode = FrontendSettings.model_validate(flat).csp_mode
    environment = journey_environment(settings, base_url, required_security_headers(csp_mode))
    return environment | {"JOURNEY_TIMEOUT_MS": WAIT_MS}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_journey_passes_on_the_fixture_with_each_stacks_config(site, stack):
    run = run_journey(committed_environment(stack, site.base_url))
    assert run.passed, f"{run.error}\n{run.stderr}"
    assert [page["step"] for page in run.report["pages"]] == [
        "home-page",
        "consultation-booking",
    ]
    assert [page["url"] for page in run.report["pages"]] == [
        f"{site.base_url}/",
        f"{site.base_url}/consultation",
    ]
    assert {page["status"] for page in run.report["pages"]} == {200}


def test_the_journey_fails_when_the_consultation_route_is_broken(site_without_consultation_chunk):
    base_url = site_without_consultation_chunk.base_url
    run = run_journey(committed_environment("prod", base_url))
    assert run.returncode == 1
    assert not run.passed
    # The home page passed; the booking page is the one that failed.
    assert run.error.startswith(f"{base_url}/consultation: ")
    assert "not visible within 5000 ms" in run.error
    assert "console error" in run.error


def test_the_journey_fails_when_a_security_header_is_missing(site_without_hsts):
    base_url = site_without_hsts.base_url
    run = run_journey(committed_environment("prod", base_url))
    assert run.returncode == 1
    assert not run.passed
    assert run.error == (f"{base_url}/: security headers missing: strict-transport-security"), (
        run.error
    )


def test_the_journey_fails_when_the_page_throws(site_that_throws):
    base_url = site_that_throws.base_url
    run = run_journey(committed_environment("prod", base_url))
    assert run.returncode == 1
    assert not run.passed
    assert run.error.startswith(f"{base_url}/: ")
    assert "uncaught exception: journey test: the page throws" in run.error


def test_an_ignored_console_error_does_not_fail_the_journey(site_that_throws):
    """Console errors matching canaryIgnoredConsoleErrors are ignored; uncaught exceptions are
    not console messages and still fail it."""
    environment = committed_environment("prod", site_that_throws.base_url)
    run = run_journey(environment | {"JOURNEY_IGNORED_CONSOLE_ERRORS": '["the page throws"]'})
    assert "uncaught exception" in run.error
    assert "console error" not in run.error


def test_a_selector_the_spa_does_not_render_fails_the_journey(site):
    environment = committed_environment("prod", site.base_url)
    run = run_journey(environment | {"JOURNEY_HOME_SELECTOR": '[data-testid="not-rendered"]'})
    assert not run.passed
    assert run.error == (
        f'{site.base_url}/: selector [data-testid="not-rendered"] not visible within 5000 ms'
    )


def test_a_journey_without_its_configuration_does_not_run(site):
    environment = committed_environment("prod", site.base_url)
    del environment["JOURNEY_BOOKING_SELECTOR"]
    run = run_journey(environment | {"JOURNEY_BOOKING_SELECTOR": ""})
    assert run.returncode == 2
    assert run.error == "JOURNEY_BOOKING_SELECTOR is not set"


def test_the_synthetics_handler_runs_each_page_as_a_step_and_closes(site, tmp_path):
    """canary/index.js on a stand-in of the runtime's `synthetics` object: the journey's pages
    are its reported steps, and the browser is closed after them."""
    run = run_handler(committed_environment("prod", site.base_url), tmp_path)
    assert run.report["ok"] is True, run.report
    assert run.report["steps"] == ["home-page", "consultation-booking", "closed"]


def test_the_synthetics_handler_fails_the_run_and_still_closes(site_that_throws, tmp_path):
    run = run_handler(committed_environment("prod", site_that_throws.base_url), tmp_path)
    assert run.report["ok"] is False
    assert "journey test: the page throws" in run.report["error"]
    assert run.report["steps"] == ["home-page", "closed"]
