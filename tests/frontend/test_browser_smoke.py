"""The fixture SPA in Chromium, served by the real service (`python -m app serve`).

Only what does not depend on the service's headers or runtime configuration: the page renders,
the lazy route loads with its CSS on navigation, and a deep link to it loads on its own.
"""

from tests.frontend.browser import WAIT_MS, app_page, fixture_state, wait_for_fixture

LAZY_ROUTE_BORDER = "rgb(11, 22, 33)"  # tests/frontend/spa/src/routes/consultation.css


def test_home_renders_and_the_lazy_route_loads_on_navigation(browser, fixture_service):
    with app_page(browser, fixture_service.base_url) as (page, recorder):
        response = page.goto("/")
        assert response is not None
        assert response.status == 200
        page.get_by_test_id("page-home").wait_for()
        state = wait_for_fixture(page, "(f) => f.started")
        assert state["routes"] == ["home"]
        assert state["release"] == "one"
        assert state["style"]["injected"] is True  # whether it applies depends on the CSP
        assert state["calls"]["health"]["status"] == "ok"
        assert state["calls"]["health"]["httpStatus"] == 200

        with page.expect_request("**/assets/Consultation-*.js", timeout=WAIT_MS):
            page.get_by_test_id("nav-consultation").click()
        section = page.get_by_test_id("page-consultation")
        section.wait_for()
        assert page.url == f"{fixture_service.base_url}/consultation"
        state = fixture_state(page)
        assert state["routes"] == ["home", "consultation"]
        assert state["consultationRelease"] == "one"
        border = section.evaluate("(element) => getComputedStyle(element).borderLeftColor")
        assert border == LAZY_ROUTE_BORDER, "the lazy route's CSS chunk did not apply"

        assert recorder.page_errors == []
        assert recorder.aborted == []


def test_a_deep_link_to_the_lazy_route_loads_and_reloads(browser, fixture_service):
    with app_page(browser, fixture_service.base_url) as (page, recorder):
        for load in (lambda: page.goto("/consultation"), page.reload):
            response = load()
            assert response is not None
            assert response.status == 200
            assert "text/html" in response.headers["content-type"]
            page.get_by_test_id("page-consultation").wait_for()
            state = wait_for_fixture(page, "(f) => f.routes.includes('consultation')")
            assert state["routes"] == ["consultation"]
        assert recorder.page_errors == []
