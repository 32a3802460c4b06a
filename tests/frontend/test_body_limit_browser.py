"""An oversized POST from `fetch` in Chromium reads the 413 (not a network error): the service
reads and discards the rest of the body before it answers (app/middleware/body_limit.py)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.conftest import ServiceProcess, start_service

CAP = 64 * 1024
OVERSIZED = 1024 * 1024
SENDS = 20

POST_OVERSIZED = """async ([size, sends]) => {
    const outcomes = [];
    for (let i = 0; i < sends; i++) {
        try {
            const response = await fetch("/api/logs", {
                method: "POST",
                headers: {"content-type": "application/json"},
                body: "x".repeat(size),
            });
            const body = await response.json();
            outcomes.push(`${response.status} ${body.error && body.error.code}`);
        } catch (error) {
            outcomes.push(`network error: ${error}`);
        }
    }
    return outcomes;
}"""


@pytest.fixture(scope="module")
def small_cap_service(tmp_path_factory) -> Iterator[ServiceProcess]:
    static: Path = tmp_path_factory.mktemp("static")
    (static / "index.html").write_text("<!doctype html><title>body limit</title><p>page</p>")
    service = start_service(
        tmp_path_factory.mktemp("service"),
        STATIC_DIR=str(static),
        APP_ENV="development",
        MAX_BODY_BYTES=str(CAP),
        RATE_LIMIT="100000",
    )
    yield service
    service.process.kill()
    service.process.wait(timeout=10)


def test_fetch_reads_the_413_of_an_oversized_body(browser, small_cap_service):
    context = browser.new_context(base_url=small_cap_service.base_url)
    try:
        page = context.new_page()
        response = page.goto("/")
        assert response is not None
        assert response.status == 200
        outcomes = page.evaluate(POST_OVERSIZED, [OVERSIZED, SENDS])
    finally:
        context.close()
    assert outcomes == ["413 body_too_large"] * SENDS
