"""StaticFiles alone: cache policy, validators and 304, compression, SPA fallback, traversal."""

import asyncio
import gzip
import hashlib
import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import pytest
import uvicorn

from app.static_files import (
    ENCODING_CACHE_ENTRIES,
    FINGERPRINTED,
    MAX_CACHED_ACCEPT_ENCODING_BYTES,
    StaticFiles,
    _cached_accept_encoding,
    accepted_encodings,
)

INDEX_HTML = b"<!doctype html><title>spa</title><script src='/assets/index-3f9a2c1b.js'></script>"
ASSET_JS = b"export const greeting = 'hello';\n" * 40
ASSET_CSS = b"body { margin: 0; color: #222; }\n" * 30
SECRET = b"TOP-SECRET-OUTSIDE-THE-STATIC-DIRECTORY"
MTIME = 1_700_000_000
SHIPPED_STATIC = Path(__file__).resolve().parents[2] / "app" / "static"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    sends: int


async def _call(app, path, method, headers):
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": b"",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
    }
    messages = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    await app(scope, receive, send)
    return messages


def call(app, path, method="GET", headers=None):
    messages = asyncio.run(_call(app, path, method, headers or {}))
    start, *bodies = messages
    assert start["type"] == "http.response.start"
    header_map = {name.decode(): value.decode() for name, value in start["headers"]}
    body = b"".join(message.get("body", b"") for message in bodies)
    assert not bodies[-1].get("more_body", False)
    return Reply(start["status"], header_map, body, len(messages))


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (MTIME, MTIME))


@pytest.fixture
def outside(tmp_path):
    secret = tmp_path / "outside" / "secret.txt"
    write(secret, SECRET)
    return secret


@pytest.fixture
def site(tmp_path, outside):
    root = tmp_path / "site"
    write(root / "index.html", INDEX_HTML)
    write(root / "assets" / "index-3f9a2c1b.js", ASSET_JS)
    write(root / "assets" / "index-BXk3n6Hc.css", ASSET_CSS)
    write(root / "assets" / "logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>" * 20)
    write(root / "assets" / "photo-a1b2c3d4.png", b"\x89PNG\r\n\x1a\n" + os.urandom(2048))
    write(root / "robots.txt", b"User-agent: *\nAllow: /\n")
    write(root / "manifest.webmanifest", b'{"name": "MiKO", "icons": []}' * 20)
    write(root / "data.weird", b"opaque")
    write(root / "docs" / "index.html", b"<!doctype html><title>docs</title>")
    write(root / ".env", SECRET)
    write(root / ".git" / "config", SECRET)
    (root / "leak.txt").symlink_to(outside)
    (root / "leak-dir").symlink_to(outside.parent, target_is_directory=True)
    (root / "robots-alias.txt").symlink_to(root / "robots.txt")
    return root


@pytest.fixture
def app(site):
    return StaticFiles(site)


def test_index_is_served_at_root_and_by_name_with_no_cache(app):
    for path in ("/", "/index.html"):
        reply = call(app, path)
        assert reply.status == 200, path
        assert reply.body == INDEX_HTML
        assert reply.headers["content-type"] == "text/html; charset=utf-8"
        assert reply.headers["cache-control"] == "no-cache"
        assert reply.headers["content-length"] == str(len(INDEX_HTML))
        assert reply.headers["last-modified"] == formatdate(MTIME, usegmt=True)
        assert re.fullmatch(r'"[0-9a-f]{32}"', reply.headers["etag"])
        assert reply.sends == 2


def test_fingerprinted_assets_are_immutable_for_a_year(app):
    js = call(app, "/assets/index-3f9a2c1b.js")
    css = call(app, "/assets/index-BXk3n6Hc.css")
    png = call(app, "/assets/photo-a1b2c3d4.png")
    for reply in (js, css, png):
        assert reply.status == 200
        assert reply.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert js.body == ASSET_JS
    assert js.headers["content-type"] == "text/javascript; charset=utf-8"
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert png.headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    "path", ["/robots.txt", "/manifest.webmanifest", "/assets/logo.svg", "/data.weird"]
)
def test_files_without_a_fingerprint_get_a_short_cache(app, path):
    reply = call(app, path)
    assert reply.status == 200
    assert reply.headers["cache-control"] == "public, max-age=3600"


def test_content_types(app):
    assert call(app, "/robots.txt").headers["content-type"] == "text/plain; charset=utf-8"
    assert call(app, "/assets/logo.svg").headers["content-type"] == "image/svg+xml"
    manifest = call(app, "/manifest.webmanifest").headers["content-type"]
    assert manifest == "application/manifest+json"
    assert call(app, "/data.weird").headers["content-type"] == "application/octet-stream"


@pytest.mark.parametrize(
    ("path", "fingerprinted"),
    [
        ("/assets/index-3f9a2c1b.js", True),
        ("/assets/index-BXk3n6Hc.js", True),
        ("/assets/vendor-a1_B-c2D.js", True),
        ("/assets/nested/chunk-3f9a2c1b.css", True),
        ("/assets/logo.png", False),
        ("/assets/my-component.js", False),
        ("/assets/my-elements.js", False),
        ("/assets/index-3f9a2c1b0.js", False),
        ("/index-3f9a2c1b.js", False),
        ("/service-worker.js", False),
    ],
)
def test_fingerprint_recognition(path, fingerprinted):
    assert bool(FINGERPRINTED.match(path)) is fingerprinted


def test_gzip_variant_is_chosen_by_accept_encoding(app):
    plain = call(app, "/assets/index-3f9a2c1b.js")
    zipped = call(app, "/assets/index-3f9a2c1b.js", headers={"Accept-Encoding": "gzip, deflate"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(zipped.body) == ASSET_JS
    assert int(zipped.headers["content-length"]) == len(zipped.body) < len(ASSET_JS)
    assert plain.headers["vary"] == zipped.headers["vary"] == "Accept-Encoding"
    assert plain.headers["etag"] != zipped.headers["etag"]


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip;q=0, deflate", None),
        ("identity", None),
        ("*", "gzip"),
        ("br;q=1.0, gzip ; q=0.5", "gzip"),
        ("GZIP", "gzip"),
        ("gzip;q=nonsense", None),
    ],
)
def test_accept_encoding_quality_values(app, accept, coding):
    reply = call(app, "/assets/index-3f9a2c1b.js", headers={"Accept-Encoding": accept})
    assert reply.headers.get("content-encoding") == coding


def test_accepted_encodings_parses_parameters():
    assert accepted_encodings(b"br;q=0.9, gzip;q=0, deflate") == {"br", "deflate"}


def test_the_accept_encoding_cache_is_bounded_in_bytes(app):
    """Large distinct values are parsed, answered right, and never kept: the cache holds at most
    ENCODING_CACHE_ENTRIES values of at most MAX_CACHED_ACCEPT_ENCODING_BYTES each."""
    _cached_accept_encoding.cache_clear()
    for index in range(300):
        header = f"gzip, x-{index}-" + "a" * 64 * 1024
        reply = call(app, "/assets/index-3f9a2c1b.js", headers={"Accept-Encoding": header})
        assert reply.headers["content-encoding"] == "gzip"
    assert _cached_accept_encoding.cache_info().currsize == 0
    for index in range(ENCODING_CACHE_ENTRIES * 2):
        accepted_encodings(f"gzip;q=0.{index % 10}, br, x-{index}".encode())
    info = _cached_accept_encoding.cache_info()
    assert info.currsize == ENCODING_CACHE_ENTRIES
    assert accepted_encodings(b"gzip;q=0," + b" " * MAX_CACHED_ACCEPT_ENCODING_BYTES + b"br") == {
        "br"
    }


def test_small_and_incompressible_files_are_sent_as_they_are(app):
    for path in ("/robots.txt", "/assets/photo-a1b2c3d4.png"):
        reply = call(app, path, headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in reply.headers, path
        assert "vary" not in reply.headers, path


def test_precompressed_brotli_sibling_is_preferred(site):
    write(site / "assets" / "index-3f9a2c1b.js.br", b"pretend-brotli")
    app = StaticFiles(site)
    both = call(app, "/assets/index-3f9a2c1b.js", headers={"Accept-Encoding": "gzip, br"})
    gzip_only = call(app, "/assets/index-3f9a2c1b.js", headers={"Accept-Encoding": "gzip"})
    assert both.headers["content-encoding"] == "br"
    assert both.body == b"pretend-brotli"
    assert gzip_only.headers["content-encoding"] == "gzip"
    sibling = call(app, "/assets/index-3f9a2c1b.js.br")
    assert sibling.headers["content-type"] == "application/octet-stream"


def test_if_none_match_gives_304_without_a_body(app):
    first = call(app, "/assets/index-3f9a2c1b.js", headers={"Accept-Encoding": "gzip"})
    etag = first.headers["etag"]
    for condition in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        reply = call(
            app,
            "/assets/index-3f9a2c1b.js",
            headers={"Accept-Encoding": "gzip", "If-None-Match": condition},
        )
        assert reply.status == 304, condition
        assert reply.body == b""
        assert reply.headers["etag"] == etag
        assert reply.headers["cache-control"] == first.headers["cache-control"]
        assert reply.headers["vary"] == "Accept-Encoding"
        assert "content-length" not in reply.headers
        assert "content-encoding" not in reply.headers


def test_etag_of_another_encoding_or_content_does_not_match(app):
    path = "/assets/index-3f9a2c1b.js"
    gzip_etag = call(app, path, headers={"Accept-Encoding": "gzip"}).headers["etag"]
    identity = call(app, path, headers={"If-None-Match": gzip_etag})
    other = call(app, path, headers={"If-None-Match": '"0123456789abcdef0123456789abcdef"'})
    assert identity.status == other.status == 200


def test_if_modified_since(app):
    at_mtime = formatdate(MTIME, usegmt=True)
    before = formatdate(MTIME - 60, usegmt=True)
    assert call(app, "/robots.txt", headers={"If-Modified-Since": at_mtime}).status == 304
    assert call(app, "/robots.txt", headers={"If-Modified-Since": before}).status == 200
    assert call(app, "/robots.txt", headers={"If-Modified-Since": "yesterday"}).status == 200


@pytest.mark.parametrize(
    "since",
    [
        "Mon, 01 Jan 99999 00:00:00 GMT",  # year out of datetime's range: ValueError
        "Jan -1 00:00:00 99999999999999999999 24:00:00",  # a year that overflows: OverflowError
        "Fri, 31 Dec 9999 23:59:59 -2359",
        "Mon, 01 Jan 0001 00:00:00 +2359",
        "Mon, 32 Jan 2000 00:00:00 GMT",
        "Mon, 01 Jan 2000 25:61:61 GMT",
        "",
        "\x00\xff",
    ],
)
@pytest.mark.parametrize("path", ["/robots.txt", "/some/spa/route"])
def test_an_if_modified_since_that_is_no_date_is_ignored(app, since, path):
    """It was a 500 for every static path and SPA route (RFC 9110 13.1.3: ignore it)."""
    reply = call(app, path, headers={"If-Modified-Since": since})
    assert reply.status in (200, 304)


def test_if_none_match_takes_precedence_over_if_modified_since(app):
    headers = {"If-None-Match": '"stale"', "If-Modified-Since": formatdate(MTIME, usegmt=True)}
    assert call(app, "/robots.txt", headers=headers).status == 200


def test_head_has_the_headers_of_get_and_no_body(app):
    headers = {"Accept-Encoding": "gzip"}
    get = call(app, "/assets/index-3f9a2c1b.js", headers=headers)
    head = call(app, "/assets/index-3f9a2c1b.js", method="HEAD", headers=headers)
    assert head.status == 200
    assert head.headers == get.headers
    assert head.body == b""


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_refused_with_allow(app, method):
    reply = call(app, "/index.html", method=method)
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, HEAD"
    assert reply.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/booking", "/booking/confirm", "/patients/42/notes"])
def test_client_side_routes_fall_back_to_index_html(app, path):
    reply = call(app, path)
    assert reply.status == 200
    assert reply.body == INDEX_HTML
    assert reply.headers["cache-control"] == "no-cache"


def test_directory_index(app):
    assert call(app, "/docs/").body == b"<!doctype html><title>docs</title>"


@pytest.mark.parametrize(
    "path",
    [
        "/assets/index-00000000.js",
        "/assets/missing.css",
        "/favicon.ico",
        "/api",
        "/api/",
        "/api/unknown",
        "/api/v2/things",
    ],
)
def test_missing_files_and_api_paths_are_404_not_html(app, path):
    reply = call(app, path)
    assert reply.status == 404
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["cache-control"] == "no-store"
    assert INDEX_HTML not in reply.body


def test_without_index_html_there_is_no_fallback(tmp_path):
    write(tmp_path / "robots.txt", b"User-agent: *\n")
    assert call(StaticFiles(tmp_path), "/booking").status == 404


TRAVERSAL_PATHS = [
    "/../outside/secret.txt",
    "/assets/../../outside/secret.txt",
    "/%2e%2e/outside/secret.txt",
    "/%2E%2E%2Foutside%2Fsecret.txt",
    "/..%2foutside%2fsecret.txt",
    "/..\\outside\\secret.txt",
    "/assets\\..\\..\\outside\\secret.txt",
    "/secret.txt\x00.html",
    "/leak.txt",
    "/leak-dir/secret.txt",
    "/.env",
    "/.git/config",
    "/./.env",
    "//outside/secret.txt",
]


@pytest.mark.parametrize("path", TRAVERSAL_PATHS)
def test_traversal_attempts_never_reach_outside(app, path):
    reply = call(app, path)
    assert SECRET not in reply.body
    assert reply.status == 404


def test_absolute_paths_resolve_inside_the_index_only(app, outside):
    for path in (str(outside), "/" + str(outside), str(outside.parent)):
        reply = call(app, path)
        assert SECRET not in reply.body, path
        assert reply.status == 404 or reply.body == INDEX_HTML, path


def test_symlink_inside_the_directory_is_served(app):
    reply = call(app, "/robots-alias.txt")
    assert reply.status == 200
    assert reply.body == b"User-agent: *\nAllow: /\n"


def test_large_files_are_streamed_from_disk(tmp_path):
    big = os.urandom(10_000)
    write(tmp_path / "media" / "clip.mp4", big)
    app = StaticFiles(tmp_path, memory_limit_bytes=4096)
    reply = call(app, "/media/clip.mp4", headers={"Accept-Encoding": "gzip"})
    assert reply.status == 200
    assert reply.body == big
    assert reply.headers["content-length"] == str(len(big))
    assert reply.sends > 2
    etag = reply.headers["etag"]
    assert call(app, "/media/clip.mp4", headers={"If-None-Match": etag}).status == 304
    assert call(app, "/media/clip.mp4", method="HEAD").body == b""


def test_only_http_scopes_are_accepted(app):
    async def scenario():
        async def nothing():
            return {}

        async def ignore(message):
            return None

        await app({"type": "websocket", "path": "/"}, nothing, ignore)

    with pytest.raises(RuntimeError, match="HTTP only"):
        asyncio.run(scenario())


def test_a_missing_directory_fails_at_start_up(tmp_path):
    with pytest.raises(FileNotFoundError):
        StaticFiles(tmp_path / "missing")


def test_the_shipped_placeholder_page_links_assets_that_exist():
    app = StaticFiles(SHIPPED_STATIC)
    index = call(app, "/")
    assert index.status == 200
    linked = re.findall(rb'(?:src|href)="(/assets/[^"]+)"', index.body)
    assert len(linked) == 2
    for asset in linked:
        reply = call(app, asset.decode())
        assert reply.status == 200, asset
        assert reply.headers["cache-control"] == "public, max-age=31536000, immutable"


@pytest.fixture
def live_server(app):
    """The app behind a real uvicorn on loopback, so paths are decoded exactly as in production."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield port
    server.should_exit = True
    thread.join(timeout=10)


def exchange(port, raw_requests):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(raw_requests)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def raw_get(port, target):
    return exchange(port, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())


@pytest.mark.network
@pytest.mark.parametrize(
    "target",
    [
        "/../outside/secret.txt",
        "/%2e%2e/outside/secret.txt",
        "/%2e%2e%2foutside%2fsecret.txt",
        "/assets/..%2f..%2foutside%2fsecret.txt",
        "/..%5coutside%5csecret.txt",
        "/leak.txt",
        "/leak-dir/secret.txt",
        "/secret.txt%00.html",
    ],
)
def test_traversal_over_real_http(live_server, target):
    response = raw_get(live_server, target)
    status_line = response.split(b"\r\n", 1)[0]
    assert SECRET not in response
    assert status_line == b"HTTP/1.1 404 Not Found"


@pytest.mark.network
def test_304_and_head_over_real_http(live_server):
    first = raw_get(live_server, "/robots.txt")
    etag = next(
        line.removeprefix(b"etag: ").decode()
        for line in first.split(b"\r\n")
        if line.startswith(b"etag: ")
    )
    responses = exchange(
        live_server,
        f"GET /robots.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\n"
        "HEAD /assets/index-3f9a2c1b.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(),
    )
    assert responses.startswith(b"HTTP/1.1 304 Not Modified\r\n")
    not_modified, head = responses.split(b"\r\n\r\n", 1)
    assert b"transfer-encoding" not in not_modified
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert f"content-length: {len(ASSET_JS)}".encode() in head
    assert head.endswith(b"\r\n\r\n")


# --- source maps, the HTML transform and the build id ----------------------------------------
# Sources of truth: the bytes on disk (what the build wrote) and RFC 9110's rule that a
# representation's validator and length describe the bytes actually sent.


@pytest.mark.parametrize(
    "name", ["index-3f9a2c1b.js.map", "index-BXk3n6Hc.css.map", "vendor.js.map", "x.js.map.gz"]
)
def test_source_maps_are_never_served(site, name):
    write(site / "assets" / name, b'{"version":3,"sourcesContent":["const secret = 1;"]}' * 20)
    app = StaticFiles(site)
    reply = call(app, f"/assets/{name}")
    assert reply.status == 404
    assert b"sourcesContent" not in reply.body
    assert reply.headers["cache-control"] == "no-store"
    assert f"/assets/{name}" not in app.resources
    assert all(file.url_path != f"/assets/{name}" for file in app.fingerprinted_files())


def add_runtime_config(page):
    return page.replace(b"<title>", b"<script src='/_platform/runtime-config.js'></script><title>")


def test_html_transform_is_what_gets_served_validated_and_compressed(site):
    write(site / "index.html", INDEX_HTML * 10)  # large enough to get a gzip variant
    plain = StaticFiles(site)
    app = StaticFiles(site, html_transform=add_runtime_config)
    expected = add_runtime_config(INDEX_HTML * 10)
    for path in ("/", "/index.html", "/booking/confirm"):
        reply = call(app, path)
        assert reply.body == expected, path
        assert reply.headers["content-length"] == str(len(expected))
    identity = call(app, "/index.html")
    zipped = call(app, "/index.html", headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(zipped.body) == expected
    assert identity.headers["etag"] != call(plain, "/index.html").headers["etag"]
    assert identity.headers["etag"] == f'"{hashlib.blake2b(expected, digest_size=16).hexdigest()}"'
    assert zipped.headers["etag"] != identity.headers["etag"]
    revalidated = call(app, "/index.html", headers={"If-None-Match": identity.headers["etag"]})
    assert revalidated.status == 304
    # Every HTML file is transformed, nothing else is.
    assert call(app, "/docs/").body == add_runtime_config(b"<!doctype html><title>docs</title>")
    assert call(app, "/assets/index-3f9a2c1b.js").body == ASSET_JS


def test_html_transform_ignores_the_builds_precompressed_page(site):
    write(site / "index.html", INDEX_HTML * 10)
    write(site / "index.html.br", b"pretend-brotli-of-the-untransformed-page")
    write(site / "index.html.gz", gzip.compress(INDEX_HTML * 10))
    app = StaticFiles(site, html_transform=add_runtime_config)
    reply = call(app, "/index.html", headers={"Accept-Encoding": "br, gzip"})
    assert reply.headers["content-encoding"] == "gzip"
    assert gzip.decompress(reply.body) == add_runtime_config(INDEX_HTML * 10)


def test_html_transform_applies_to_html_larger_than_the_memory_limit(site):
    write(site / "index.html", INDEX_HTML * 100)
    app = StaticFiles(site, memory_limit_bytes=1024, html_transform=add_runtime_config)
    assert call(app, "/").body == add_runtime_config(INDEX_HTML * 100)


def test_build_id_is_stable_for_the_same_files(site):
    first = StaticFiles(site).build_id
    assert re.fullmatch(r"[0-9a-f]{16}", first)
    assert StaticFiles(site).build_id == first
    # Other mtimes and another HTML transform (runtime configuration): still the same build.
    for path in site.rglob("*"):
        if path.is_file() and not path.is_symlink():
            os.utime(path, (MTIME + 3600, MTIME + 3600))
    assert StaticFiles(site, html_transform=add_runtime_config).build_id == first


@pytest.mark.parametrize(
    "change",
    [
        lambda root: write(root / "assets" / "index-3f9a2c1b.js", ASSET_JS + b"\n"),
        lambda root: write(root / "robots.txt", b"User-agent: *\nDisallow: /\n"),
        lambda root: write(root / "assets" / "new-a1b2c3d4.js", b"new"),
        lambda root: (root / "assets" / "index-BXk3n6Hc.css").unlink(),
        # Same bytes, same place in the sorted listing, another name: still another build.
        lambda root: (root / "data.weird").rename(root / "data2.weird"),
    ],
)
def test_build_id_changes_with_any_served_file(site, change):
    before = StaticFiles(site).build_id
    change(site)
    assert StaticFiles(site).build_id != before


def test_build_id_ignores_what_is_not_served(site):
    before = StaticFiles(site).build_id
    write(site / "assets" / "index-3f9a2c1b.js.map", b'{"version":3}')
    write(site / ".env.local", SECRET)
    assert StaticFiles(site).build_id == before


def test_fingerprinted_files_are_the_immutable_ones(app):
    listed = {file.url_path: file for file in app.fingerprinted_files()}
    immutable = {
        path
        for path in app.resources
        if call(app, path).headers.get("cache-control") == "public, max-age=31536000, immutable"
    }
    assert (
        set(listed)
        == immutable
        == {
            "/assets/index-3f9a2c1b.js",
            "/assets/index-BXk3n6Hc.css",
            "/assets/photo-a1b2c3d4.png",
        }
    )
    assert listed["/assets/index-3f9a2c1b.js"].body == ASSET_JS
    assert listed["/assets/index-3f9a2c1b.js"].content_type == "text/javascript; charset=utf-8"
