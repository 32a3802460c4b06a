"""The canary's journey against the fixture SPA, served by the real service on loopback.

The service (`python -m app serve`, development) serves the fixture's build, as in the front-end
tests; the failing cases are that build broken the way a deploy breaks a site (a lazy chunk
missing, a script that throws) or a proxy in front of the service that drops one header (an edge
rule gone).
"""

import http.client
import http.server
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.app.conftest import ServiceProcess, start_service
from tests.frontend.build import build_fixture

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}
    | {"proxy-authenticate", "proxy-authorization", "content-length"}
)


def _stop(service: ServiceProcess) -> None:
    service.process.terminate()
    try:
        service.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        service.process.kill()
        service.process.wait(timeout=10)


@pytest.fixture(scope="session")
def fixture_dist() -> Path:
    return build_fixture("one")


def _serve(dist: Path, tmp: Path) -> Iterator[ServiceProcess]:
    service = start_service(tmp, STATIC_DIR=str(dist), APP_ENV="development")
    yield service
    _stop(service)


@pytest.fixture(scope="module")
def site(fixture_dist, tmp_path_factory) -> Iterator[ServiceProcess]:
    """The fixture, as built."""
    yield from _serve(fixture_dist, tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def site_without_consultation_chunk(fixture_dist, tmp_path_factory) -> Iterator[ServiceProcess]:
    """The fixture with the consultation route's lazy chunk gone: the route cannot load."""
    dist = tmp_path_factory.mktemp("broken-route") / "dist"
    shutil.copytree(fixture_dist, dist)
    removed = list((dist / "assets").glob("Consultation-*.js*"))
    assert removed, "the fixture build has no Consultation chunk to remove"
    for path in removed:
        path.unlink()
    yield from _serve(dist, tmp_path_factory.mktemp("broken-route-service"))


@pytest.fixture(scope="module")
def site_that_throws(fixture_dist, tmp_path_factory) -> Iterator[ServiceProcess]:
    """The fixture with one more script (same origin, so the CSP allows it) that throws."""
    dist = tmp_path_factory.mktemp("throws") / "dist"
    shutil.copytree(fixture_dist, dist)
    (dist / "boom.js").write_text("throw new Error('journey test: the page throws')\n")
    index = dist / "index.html"
    html = index.read_text()
    index.write_text(re.sub("</head>", '<script src="/boom.js"></script></head>', html, count=1))
    for sibling in ("index.html.gz", "index.html.br"):
        (dist / sibling).unlink(missing_ok=True)
    yield from _serve(dist, tmp_path_factory.mktemp("throws-service"))


class HeaderDroppingProxy(http.server.ThreadingHTTPServer):
    """Forwards every request to `upstream` and drops `dropped` from every response."""

    def __init__(self, upstream: str, dropped: str) -> None:
        self.upstream = urlsplit(upstream)
        self.dropped = dropped.lower()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    server: HeaderDroppingProxy
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {
            name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP
        }
        upstream = self.server.upstream
        connection = http.client.HTTPConnection(upstream.netloc, timeout=10)
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() != self.server.dropped:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        finally:
            connection.close()

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_OPTIONS = _forward

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site_without_hsts(site) -> Iterator[HeaderDroppingProxy]:
    """The fixture behind a proxy that drops Strict-Transport-Security."""
    proxy = HeaderDroppingProxy(site.base_url, "Strict-Transport-Security")
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()
    thread.join(timeout=10)
