"""The single-page app's files, served from memory as plain ASGI.

Every file under the directory is read once at start-up, together with its precompressed
variants (gzip made here at level 9; `.br`/`.gz` siblings that the front-end build emitted are
used as they are, which is how brotli gets served without a brotli library in the image). Each
variant's complete header list is rendered to bytes at start-up, so a request is a dict lookup,
one pass over the request headers and two `send()` calls.

Cache policy (from the assessment): fingerprinted build output under `/assets/`
(`[name]-[hash].[ext]`, Vite's default) never changes under its name, so it is cached for a year
as `immutable`; HTML, and the SPA fallback, is `no-cache` so a deploy is visible on the next
load; other files keep a stable name across deploys (favicon, robots.txt, manifest), so they get
an hour and then revalidate cheaply with their ETag. Errors are `no-store`: a 404 for an asset
that is missing on one task during a rolling deploy must not be cached by a browser or the CDN.

Files larger than `memory_limit_bytes` (4 MiB by default: media dropped into the build's public
folder) are read from disk in chunks per request instead of being held in every worker's memory;
they are usually compressed already, so they get no gzip variant. uvicorn does not implement the
`http.response.zerocopysend` extension, so chunked reads are the portable choice.

Paths resolve against the in-memory index only: nothing under the directory is opened because
of what a request asked for, so `..`, encoded separators or absolute paths cannot reach outside.
Symbolic links that point outside the directory, dotfiles (except `.well-known/`), source maps
(`*.map` and their `.gz`/`.br` siblings: a hidden-sourcemap build still emits them, and they
would publish the app's source) and anything that is not a regular file are left out of the
index.

`html_transform`, when given, rewrites every HTML file's bytes once at load time (the service
adds its runtime-config script tag); the ETag, the gzip variant and the Content-Length are those
of the transformed bytes, the build's precompressed siblings of that file are ignored (they hold
the untransformed page), and Last-Modified is the load time when the transform changed the page.

Skew protection: during a rolling deploy a tab whose HTML came from the previous release asks
for that release's lazy chunks, and the load balancer may send the request to a new task. With
an `archive` (app/asset_archive.py), a fingerprinted path that misses locally is looked up there
before the 404; what it finds is served with the same `immutable` Cache-Control and the content
type of its name (identity only: the CDN compresses for the browser). Anything else never
reaches the archive, and a miss there stays a `no-store` 404. `fingerprinted_files()` lists what
the archive publishes, and `build_id` names the front-end build (reported by /health).
"""

import gzip
import hashlib
import logging
import mimetypes
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Protocol

import anyio
from starlette.types import Receive, Scope, Send

from app.errors import method_not_allowed, send_error

logger = logging.getLogger("app.static")

# Tuples, not lists: the same header sequence goes out on every request, so an outer middleware
# that appended to it in place would corrupt every later response.
Headers = tuple[tuple[bytes, bytes], ...]

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
SHORT_LIVED = "public, max-age=3600"

DEFAULT_MEMORY_LIMIT_BYTES = 4 * 1024 * 1024
STREAM_CHUNK_BYTES = 64 * 1024
MIN_COMPRESS_BYTES = 256

# Vite (Rollup) names emitted files `[name]-[hash].[ext]` under `assets/`, the hash being 8
# url-safe base64 (or hex) characters: https://vite.dev/config/build-options#build-assetsdir
# An 8-letter lowercase word (`my-elements.js`) is a name, not a hash: a year of `immutable`
# on a file whose content changes under the same name would be the costly mistake.
FINGERPRINTED = re.compile(
    r"^/assets/(?:.+/)?[^/]+-(?=[a-z]{0,7}[A-Z0-9_-])[A-Za-z0-9_-]{8}\.[A-Za-z0-9]+$"
)

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
    ".ico": "image/x-icon",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".wasm": "application/wasm",
    ".pdf": "application/pdf",
    ".gz": "application/gzip",
    ".br": "application/octet-stream",
}
COMPRESSIBLE_TYPES = (
    "text/",
    "application/json",
    "application/manifest+json",
    "application/xml",
    "application/wasm",
    "image/svg+xml",
    "image/x-icon",
    "font/ttf",
    "font/otf",
)
# Precompressed siblings a front-end build may emit, preferred over gzip when the client allows.
SIBLING_ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
# Source maps and their precompressed siblings: never served.
SOURCE_MAP_SUFFIXES = (".map", ".map.br", ".map.gz")
BUILD_ID_LENGTH = 16

ALLOWED_METHODS = "GET, HEAD"


@dataclass(frozen=True, slots=True)
class Variant:
    """One encoding of one file: its body (or path on disk) and its rendered headers."""

    etag: bytes
    headers: Headers
    not_modified_headers: Headers
    body: bytes | None
    path: Path | None = None


@dataclass(frozen=True, slots=True)
class AssetFile:
    """One fingerprinted file as the asset archive stores it: its url path, type and bytes."""

    url_path: str
    content_type: str
    body: bytes
    last_modified: int


class AssetArchiveLookup(Protocol):
    """What StaticFiles asks of the asset archive (app/asset_archive.py) on a local miss."""

    async def fetch(self, url_path: str) -> AssetFile | None:
        """The archived file at a fingerprinted url path, or None; never raises."""
        ...


@dataclass(frozen=True, slots=True)
class Resource:
    """A served file: the identity variant and the encoded ones, in order of preference."""

    identity: Variant
    encoded: tuple[tuple[str, Variant], ...]
    last_modified: int

    def select(self, accept_encoding: bytes) -> Variant:
        if self.encoded and accept_encoding:
            accepted = accepted_encodings(accept_encoding)
            for coding, variant in self.encoded:
                if coding in accepted:
                    return variant
        return self.identity


# The per-value cache holds at most ENCODING_CACHE_ENTRIES values of at most
# MAX_CACHED_ACCEPT_ENCODING_BYTES each (browsers send 20-60 bytes), so 64 KiB of keys, plus
# their small results; a longer value is parsed on every request and never kept.
ENCODING_CACHE_ENTRIES = 256
MAX_CACHED_ACCEPT_ENCODING_BYTES = 256


def accepted_encodings(header: bytes) -> frozenset[str]:
    """Codings an Accept-Encoding value allows (q > 0); `*` stands for br and gzip."""
    if len(header) > MAX_CACHED_ACCEPT_ENCODING_BYTES:
        return parse_accept_encoding(header)
    return _cached_accept_encoding(header)


def parse_accept_encoding(header: bytes) -> frozenset[str]:
    accepted: set[str] = set()
    for item in header.decode("latin-1").lower().split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        quality = next((value for key, _, value in map(qvalue_of, params) if key == "q"), "1")
        try:
            if float(quality) <= 0:
                continue
        except ValueError:
            continue
        accepted.update(("br", "gzip") if coding == "*" else (coding,))
    return frozenset(accepted)


_cached_accept_encoding = lru_cache(maxsize=ENCODING_CACHE_ENTRIES)(parse_accept_encoding)


def qvalue_of(param: str) -> tuple[str, str, str]:
    key, separator, value = param.partition("=")
    return key.strip(), separator, value.strip()


def content_type_of(path: str) -> str:
    suffix = PurePosixPath(path).suffix.lower()
    known = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(path)[0]
    if known is None:
        return "application/octet-stream"
    if known.startswith("text/") and "charset" not in known:
        return f"{known}; charset=utf-8"
    return known


def cache_control_of(url_path: str, content_type: str) -> str:
    if content_type.startswith("text/html"):
        return REVALIDATE
    if FINGERPRINTED.match(url_path):
        return IMMUTABLE
    return SHORT_LIVED


def is_compressible(content_type: str) -> bool:
    return content_type.startswith(COMPRESSIBLE_TYPES)


def entity_tag(digest_source: bytes, coding: str | None) -> bytes:
    suffix = f"-{coding}" if coding else ""
    return f'"{digest_source.hex()}{suffix}"'.encode()


@dataclass(frozen=True, slots=True)
class FileHeaders:
    """The header values every variant of one file shares."""

    content_type: bytes
    last_modified: int
    cache_control: bytes
    vary: bool

    def variant(
        self, etag: bytes, length: int, coding: str | None, *, body: bytes | None, path: Path | None
    ) -> Variant:
        """A variant with its 200 headers and its 304 headers rendered to bytes.

        A 304 carries the validators and caching fields only (RFC 9110 section 15.4.5).
        """
        not_modified: Headers = (
            (b"etag", etag),
            (b"last-modified", formatdate(self.last_modified, usegmt=True).encode()),
            (b"cache-control", self.cache_control),
        )
        if self.vary:
            not_modified += ((b"vary", b"Accept-Encoding"),)
        representation: Headers = (
            (b"content-type", self.content_type),
            (b"content-length", str(length).encode()),
        )
        if coding:
            representation += ((b"content-encoding", coding.encode()),)
        return Variant(etag, not_modified + representation, not_modified, body, path)


def iter_served_files(root: Path) -> Iterator[tuple[str, Path, os.stat_result]]:
    """(url path, file path, stat) of every regular file that may be served."""
    for directory, subdirectories, filenames in os.walk(root):
        here = Path(directory)
        subdirectories[:] = [
            name for name in subdirectories if name == ".well-known" or not name.startswith(".")
        ]
        for name in filenames:
            file_path = here / name
            if name.startswith(".") or is_source_map(name) or not is_inside(file_path, root):
                continue
            status = file_path.stat()
            if not stat.S_ISREG(status.st_mode):
                continue
            relative = file_path.relative_to(root).as_posix()
            if "\\" in relative or not relative.isprintable():
                continue
            yield "/" + relative, file_path, status


def is_source_map(name: str) -> bool:
    return name.lower().endswith(SOURCE_MAP_SUFFIXES)


def file_digest(path: Path) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(STREAM_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.digest()


def is_inside(path: Path, root: Path) -> bool:
    if not path.is_symlink():
        return True
    try:
        return path.resolve(strict=True).is_relative_to(root)
    except OSError:
        return False


class StaticFiles:
    """ASGI app serving the files of `directory`, with the SPA fallback to `/index.html`.

    `archive`: where a fingerprinted path that misses locally is looked up before the 404.
    `html_transform`: applied to every HTML file's bytes at load time.
    """

    def __init__(
        self,
        directory: Path,
        *,
        memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
        archive: AssetArchiveLookup | None = None,
        html_transform: Callable[[bytes], bytes] | None = None,
    ) -> None:
        root = Path(directory).resolve(strict=True)
        if not root.is_dir():
            raise NotADirectoryError(f"static directory is not a directory: {root}")
        self.memory_limit_bytes = memory_limit_bytes
        self.archive = archive
        self.html_transform = html_transform
        self.resources: dict[str, Resource] = {}
        # Digest of each file's bytes as the build wrote them (before any transform).
        self._build_digests: dict[str, bytes] = {}
        for url_path, file_path, status in iter_served_files(root):
            resource, digest = self._load(url_path, file_path, status)
            self.resources[url_path] = resource
            self._build_digests[url_path] = digest
        for url_path in [path for path in self.resources if path.endswith("/index.html")]:
            self.resources[url_path.removesuffix("index.html")] = self.resources[url_path]
        self.fallback = self.resources.get("/index.html")
        self._build_id = build_id_of(self._build_digests)

    @property
    def build_id(self) -> str:
        """A short digest of the served files' url paths and build bytes: the front-end build.

        Stable across processes, tasks and stacks for the same build (the HTML transform is
        left out, so a different runtime configuration does not change it), different as soon
        as any served file is added, removed, renamed or changed.
        """
        return self._build_id

    def fingerprinted_files(self) -> Iterator[AssetFile]:
        """The release's fingerprinted files, as the asset archive publishes them.

        Files held in memory are yielded without a copy; larger ones are read from disk here.
        """
        for url_path in sorted(self._build_digests):
            if not FINGERPRINTED.match(url_path):
                continue
            resource = self.resources[url_path]
            identity = resource.identity
            body = identity.body
            if body is None:
                assert identity.path is not None
                body = identity.path.read_bytes()
            yield AssetFile(url_path, content_type_of(url_path), body, resource.last_modified)

    def _load(
        self, url_path: str, file_path: Path, status: os.stat_result
    ) -> tuple[Resource, bytes]:
        """The file's resource and the digest of its bytes as the build wrote them."""
        content_type = content_type_of(url_path)
        last_modified = int(status.st_mtime)
        cache_control = cache_control_of(url_path, content_type).encode()
        transform = self.html_transform if content_type.startswith("text/html") else None
        if status.st_size > self.memory_limit_bytes and transform is None:
            shared = FileHeaders(content_type.encode(), last_modified, cache_control, vary=False)
            digest = file_digest(file_path)
            etag = entity_tag(digest, None)
            streamed = shared.variant(etag, status.st_size, None, body=None, path=file_path)
            return Resource(streamed, (), last_modified), digest
        built = file_path.read_bytes()
        build_digest = hashlib.blake2b(built, digest_size=16).digest()
        body = built if transform is None else transform(built)
        if body != built:
            # The page is what this process made of the file: it was modified at load time.
            last_modified = max(last_modified, int(time.time()))
        digest = hashlib.blake2b(body, digest_size=16).digest()
        # The build's precompressed siblings hold the untransformed page: not for a transformed one.
        encodings = self._encodings(file_path, body, content_type, siblings=transform is None)
        shared = FileHeaders(content_type.encode(), last_modified, cache_control, bool(encodings))
        identity = shared.variant(entity_tag(digest, None), len(body), None, body=body, path=None)
        encoded = tuple(
            (
                coding,
                shared.variant(entity_tag(digest, coding), len(data), coding, body=data, path=None),
            )
            for coding, data in encodings
        )
        return Resource(identity, encoded, last_modified), build_digest

    @staticmethod
    def _encodings(
        file_path: Path, body: bytes, content_type: str, *, siblings: bool = True
    ) -> list[tuple[str, bytes]]:
        """(coding, body) pairs smaller than the original, best coding first."""
        if len(body) < MIN_COMPRESS_BYTES:
            return []
        found: dict[str, bytes] = {}
        for coding, suffix in SIBLING_ENCODINGS if siblings else ():
            sibling = file_path.with_name(file_path.name + suffix)
            if sibling.is_file() and not sibling.is_symlink():
                found[coding] = sibling.read_bytes()
        if "gzip" not in found and is_compressible(content_type):
            found["gzip"] = gzip.compress(body, compresslevel=9, mtime=0)
        return [
            (coding, found[coding])
            for coding, _ in SIBLING_ENCODINGS
            if coding in found and len(found[coding]) < len(body)
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError(f"StaticFiles serves HTTP only, not {scope['type']!r}")
        if scope["method"] not in ("GET", "HEAD"):
            await method_not_allowed(scope, send, ALLOWED_METHODS)
            return
        path = scope["path"]
        resource = self.lookup(path)
        if resource is None and self.archive is not None and FINGERPRINTED.match(path):
            resource = await self._from_archive(self.archive, path)
        if resource is None:
            await send_error(scope, send, 404, "not_found", "no file at this path")
            return
        accept_encoding = if_none_match = if_modified_since = b""
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept_encoding = value
            elif name == b"if-none-match":
                if_none_match = value
            elif name == b"if-modified-since":
                if_modified_since = value
        variant = resource.select(accept_encoding)
        if is_not_modified(variant.etag, resource.last_modified, if_none_match, if_modified_since):
            await send(
                {
                    "type": "http.response.start",
                    "status": 304,
                    "headers": variant.not_modified_headers,
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": variant.headers})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
        elif variant.body is not None:
            await send({"type": "http.response.body", "body": variant.body})
        else:
            await _stream(send, variant)

    def lookup(self, path: str) -> Resource | None:
        """The resource a request path names, the SPA fallback, or None for a 404."""
        resource = self.resources.get(path)
        if resource is not None:
            return resource
        if not is_spa_route(path):
            return None
        return self.fallback

    @staticmethod
    async def _from_archive(archive: AssetArchiveLookup, path: str) -> Resource | None:
        """An earlier release's file from the archive, served like a local one (identity only)."""
        try:
            found = await archive.fetch(path)
        except Exception as error:  # the archive must never turn a miss into a 500
            logger.warning(
                "asset archive lookup failed",
                extra={"fields": {"event": "asset_archive", "error": type(error).__name__}},
            )
            return None
        if found is None or found.url_path != path:
            return None
        content_type = content_type_of(path)
        shared = FileHeaders(
            content_type.encode(),
            found.last_modified,
            cache_control_of(path, content_type).encode(),
            vary=False,
        )
        digest = hashlib.blake2b(found.body, digest_size=16).digest()
        identity = shared.variant(
            entity_tag(digest, None), len(found.body), None, body=found.body, path=None
        )
        return Resource(identity, (), found.last_modified)


def build_id_of(digests: dict[str, bytes]) -> str:
    """A short digest over (url path, content digest) pairs, independent of their order."""
    combined = hashlib.blake2b(digest_size=16)
    for url_path in sorted(digests):
        combined.update(url_path.encode("utf-8", "surrogateescape"))
        combined.update(b"\0")
        combined.update(digests[url_path])
    return combined.hexdigest()[:BUILD_ID_LENGTH]


def is_spa_route(path: str) -> bool:
    """A client-side route: not an API path, no file extension, no dot segment or odd character."""
    if path == "/api" or path.startswith("/api/") or not path.startswith("/"):
        return False
    if "\\" in path or "\x00" in path or "//" in path:
        return False
    segments = path.split("/")
    if any(segment.startswith(".") for segment in segments):
        return False
    return not PurePosixPath(segments[-1]).suffix


def is_not_modified(
    etag: bytes, last_modified: int, if_none_match: bytes, if_modified_since: bytes
) -> bool:
    """RFC 9110 section 13.1: If-None-Match (weak comparison) wins over If-Modified-Since."""
    if if_none_match:
        if if_none_match.strip() == b"*":
            return True
        return any(tag.strip().removeprefix(b"W/") == etag for tag in if_none_match.split(b","))
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since.decode("latin-1"))
            # A date outside what datetime can hold ("year 99999", or a year so long it
            # overflows) is not a valid date: the condition is ignored (RFC 9110 13.1.3).
            return since.tzinfo is not None and last_modified <= since.timestamp()
        except (TypeError, ValueError, OverflowError, IndexError):
            return False
    return False


async def _stream(send: Send, variant: Variant) -> None:
    assert variant.path is not None
    async with await anyio.open_file(variant.path, "rb") as source:
        while chunk := await source.read(STREAM_CHUNK_BYTES):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
