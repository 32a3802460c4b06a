"""The release-asset archive in S3: skew protection for rolling deploys.

During a rolling deploy old and new tasks serve at once and the load balancer routes every
request on its own, so a tab whose HTML came from release N may ask a task of release N+1 for
one of N's lazy chunks (`/assets/Foo-<hash>.js`). Each task therefore publishes its release's
fingerprinted files to `s3://<bucket>/assets/...` (the url path without its leading slash) at
start-up, before it reports ready, and again every `refresh_interval_seconds`; a task that
misses a fingerprinted path locally looks it up here before answering 404 (app/static_files.py).

Retention: the bucket's lifecycle rule (components/asset_archive.py) expires an object a whole
number of days after it was last written: the retention window rounded up to days, plus one day
for the refresh interval. A re-publish writes the object again, so while any task of a release
runs, its files keep being renewed; after its last task stops they live at least the retention
window, because their last write was at most one refresh interval (at most 24 hours, checked
here) before that. Files that two releases share (same name, same bytes) are renewed by both.

Only names that `FINGERPRINTED` accepts and whose every segment is a plain file name (letters,
digits, `._@+~-`, not starting with a dot) are ever put into or looked up in the bucket: no
request path reaches a key unvalidated, `..` and encoded separators included.

Lookups are cheap to repeat and hard to abuse: hits stay in a least-recently-used cache bounded
in bytes; misses are remembered for `negative_ttl_seconds` in a bounded cache; concurrent
lookups of one name share a single GET; GETs are limited to a token bucket (`lookups_per_second`,
`lookup_burst`) and run on a small dedicated thread limiter, so a scanner asking for random
hashed names costs a bounded number of S3 requests and cannot take the threads other work needs.

S3 is never on the critical path: a failed publish or lookup logs one warning (the error class
or S3 error code, never a message, URL or credential), the request gets the usual `no-store`
404, and S3 is left alone for `unavailable_backoff_seconds` before the next attempt. Start-up
waits for the publish at most `publish_timeout_seconds`, then goes on.

Without ListBucket (the task role has GetObject and PutObject on `assets/*` only) S3 answers a
missing key with 403 AccessDenied rather than 404: both count as a miss. A start-up read-back of
one published file tells a missing read permission (or KMS grant) apart, with a warning.
"""

import asyncio
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

import anyio
import anyio.abc
import anyio.to_thread
import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.contract import ASSET_ARCHIVE_REFRESH_LIMIT_SECONDS, ASSETS_PREFIX, Env
from app.static_files import FINGERPRINTED, AssetFile, content_type_of

logger = logging.getLogger("app.asset_archive")
T = TypeVar("T")

KEY_PREFIX: Final = ASSETS_PREFIX.removeprefix("/")
"""`assets/`: the objects' key prefix, and the only prefix the task role may read and write."""
_SEGMENT = re.compile(r"[A-Za-z0-9_@+~-][A-Za-z0-9._@+~-]*")

DEFAULT_REFRESH_INTERVAL_SECONDS: Final = 6 * 3600
MAX_REFRESH_INTERVAL_SECONDS: Final = ASSET_ARCHIVE_REFRESH_LIMIT_SECONDS
"""The lifecycle rule's margin (app/contract.py): a longer interval could let the files of a
running release expire."""
DEFAULT_PUBLISH_TIMEOUT_SECONDS: Final = 20.0
DEFAULT_CACHE_BYTES: Final = 16 * 1024 * 1024
DEFAULT_NEGATIVE_TTL_SECONDS: Final = 60.0
DEFAULT_NEGATIVE_ENTRIES: Final = 4096
DEFAULT_LOOKUPS_PER_SECOND: Final = 8.0
DEFAULT_LOOKUP_BURST: Final = 64
"""A tab opened before a deploy may ask for a dozen chunks at once; several tabs, more."""
DEFAULT_UNAVAILABLE_BACKOFF_SECONDS: Final = 30.0
MAX_OBJECT_BYTES: Final = 64 * 1024 * 1024
"""Larger objects are not this service's build output: a lookup refuses them."""
PUBLISH_CONCURRENCY: Final = 8
FETCH_CONCURRENCY: Final = 8
STOP_WAIT_SECONDS: Final = 1.0

_MISSING_CODES = frozenset({"NoSuchKey", "NotFound", "404", "AccessDenied", "403"})
_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=10,
    retries={"mode": "standard", "max_attempts": 2},
    max_pool_connections=max(PUBLISH_CONCURRENCY, FETCH_CONCURRENCY),
)


def s3_client() -> Any:
    """Region, credentials and endpoint (AWS_ENDPOINT_URL_S3 in tests) from boto3's chain."""
    return boto3.session.Session().client("s3", config=_CLIENT_CONFIG)


def archive_key(url_path: str) -> str | None:
    """The object key of a fingerprinted url path (`/assets/a-1b2C3d4E.js` ->
    `assets/a-1b2C3d4E.js`), or None for any path that is not one, unsafe ones included."""
    if not url_path.startswith(ASSETS_PREFIX) or not FINGERPRINTED.match(url_path):
        return None
    segments = url_path.removeprefix("/").split("/")
    if not all(_SEGMENT.fullmatch(segment) for segment in segments):
        return None
    key = "/".join(segments)
    return key if key.startswith(KEY_PREFIX) else None


class ArchiveUnavailable(Exception):
    """S3 could not be used; `reason` is an error class name or S3 error code, nothing more."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _ByteBoundedLru:
    """Least-recently-used files, at most `max_bytes` of bodies in total."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[str, AssetFile] = OrderedDict()

    def get(self, key: str) -> AssetFile | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: str, item: AssetFile) -> None:
        if len(item.body) > self.max_bytes:
            return
        previous = self._items.pop(key, None)
        if previous is not None:
            self.size -= len(previous.body)
        self._items[key] = item
        self.size += len(item.body)
        while self.size > self.max_bytes:
            _, evicted = self._items.popitem(last=False)
            self.size -= len(evicted.body)


class _ExpiringSet:
    """Keys remembered for `ttl` seconds, at most `max_entries` (the oldest go first)."""

    def __init__(self, ttl: float, max_entries: int, clock: Callable[[], float]) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def add(self, key: str) -> None:
        self._expiry.pop(key, None)
        self._expiry[key] = self.clock() + self.ttl
        while len(self._expiry) > self.max_entries:
            self._expiry.popitem(last=False)

    def __contains__(self, key: str) -> bool:
        expiry = self._expiry.get(key)
        if expiry is None:
            return False
        if expiry <= self.clock():
            del self._expiry[key]
            return False
        return True

    def __len__(self) -> int:
        return len(self._expiry)


class _TokenBucket:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.tokens = float(burst)
        self.updated = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class AssetArchive:
    """Publishes this release's fingerprinted files to the bucket and looks up earlier ones.

    `bucket` None (ASSET_ARCHIVE_BUCKET unset): disabled, every method is a cheap no-op.
    Lifespan: `await start(static.fingerprinted_files)` before reporting ready (publishes once,
    bounded by `publish_timeout_seconds`, then refreshes in the background); `await stop()`.
    """

    def __init__(
        self,
        bucket: str | None,
        *,
        client_factory: Callable[[], Any] = s3_client,
        refresh_interval_seconds: float = DEFAULT_REFRESH_INTERVAL_SECONDS,
        publish_timeout_seconds: float = DEFAULT_PUBLISH_TIMEOUT_SECONDS,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        negative_ttl_seconds: float = DEFAULT_NEGATIVE_TTL_SECONDS,
        negative_entries: int = DEFAULT_NEGATIVE_ENTRIES,
        lookups_per_second: float = DEFAULT_LOOKUPS_PER_SECOND,
        lookup_burst: int = DEFAULT_LOOKUP_BURST,
        unavailable_backoff_seconds: float = DEFAULT_UNAVAILABLE_BACKOFF_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < refresh_interval_seconds <= MAX_REFRESH_INTERVAL_SECONDS:
            raise ValueError(
                "the refresh interval must be positive and at most "
                f"{MAX_REFRESH_INTERVAL_SECONDS} s (the lifecycle rule's margin)"
            )
        self.bucket = bucket or None
        self.refresh_interval_seconds = refresh_interval_seconds
        self.publish_timeout_seconds = publish_timeout_seconds
        self.unavailable_backoff_seconds = unavailable_backoff_seconds
        self._client_factory = client_factory
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._clock = clock
        self._cache = _ByteBoundedLru(cache_bytes)
        self._misses = _ExpiringSet(negative_ttl_seconds, negative_entries, clock)
        self._lookups = _TokenBucket(lookups_per_second, lookup_burst, clock)
        self._in_flight: dict[str, asyncio.Future[AssetFile | None]] = {}
        self._unavailable_until = float("-inf")
        self._limiters: tuple[asyncio.AbstractEventLoop, anyio.CapacityLimiter] | None = None
        self._refresh: asyncio.Task[None] | None = None

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] = os.environ, **options: Any
    ) -> "AssetArchive":
        """The archive named by ASSET_ARCHIVE_BUCKET (disabled when unset or empty)."""
        return cls(environ.get(Env.ASSET_ARCHIVE_BUCKET) or None, **options)

    @property
    def enabled(self) -> bool:
        return self.bucket is not None

    @property
    def cached_bytes(self) -> int:
        """Bytes of archived files held in memory (at most `cache_bytes`)."""
        return self._cache.size

    # --- lifespan -------------------------------------------------------------------------

    async def start(
        self,
        files: Callable[[], Iterable[AssetFile]],
        *,
        leader: Callable[[], bool] | None = None,
    ) -> None:
        """Publish `files()` once (at most `publish_timeout_seconds`), then every interval.

        `leader`, when given, decides at each refresh whether this worker publishes (with
        several workers one is enough; e.g. the lock of the periodic database check).
        Never raises for S3's sake: start-up must not fail because the archive is unreachable.
        """
        if not self.enabled:
            return
        published = await self._publish_current(files)
        if published:
            await self._check_read_back(published)
        self._refresh = asyncio.create_task(
            self._refresh_loop(files, leader), name="asset-archive-refresh"
        )

    async def stop(self) -> None:
        """Cancel the refresh loop; never waits more than STOP_WAIT_SECONDS."""
        if self._refresh is not None:
            self._refresh.cancel()
            await asyncio.wait({self._refresh}, timeout=STOP_WAIT_SECONDS)
            self._refresh = None

    async def _refresh_loop(
        self, files: Callable[[], Iterable[AssetFile]], leader: Callable[[], bool] | None
    ) -> None:
        while True:
            await asyncio.sleep(self.refresh_interval_seconds)
            if leader is None or leader():
                await self._publish_current(files)

    async def _publish_current(self, files: Callable[[], Iterable[AssetFile]]) -> AssetFile | None:
        """Publish what `files()` lists now; when every file went, one of them for the
        read-back, else None. Never raises: the refresh loop must outlive any failure."""
        try:
            current = await anyio.to_thread.run_sync(lambda: list(files()))
        except Exception as error:  # an unreadable file must not end the loop or start-up
            _warn("list", type(error).__name__)
            return None
        archived = [file for file in current if archive_key(file.url_path)]
        if not archived or await self.publish(archived) < len(archived):
            return None
        return archived[0]

    async def _check_read_back(self, file: AssetFile) -> None:
        key = archive_key(file.url_path)
        assert key is not None
        try:
            found = await self._run(self._get_object, key)
        except ArchiveUnavailable as failure:
            _warn("read-back", failure.reason)
            return
        if found is None or found.body != file.body:
            _warn("read-back", "missing" if found is None else "different bytes")

    # --- publishing -----------------------------------------------------------------------

    async def publish(self, files: Iterable[AssetFile]) -> int:
        """Put every fingerprinted file with its exact bytes and content type; the count put.

        Stops at the first failure (one warning) or after `publish_timeout_seconds`; never
        raises. Files whose names are not fingerprinted are skipped.
        """
        if not self.enabled:
            return 0
        pending = [(key, file) for file in files if (key := archive_key(file.url_path))]
        published = 0
        failure: ArchiveUnavailable | None = None
        limiter = anyio.CapacityLimiter(PUBLISH_CONCURRENCY)

        async def put(key: str, file: AssetFile, group: anyio.abc.TaskGroup) -> None:
            nonlocal published, failure
            try:
                await self._run(self._put_object, key, file, limiter=limiter)
            except ArchiveUnavailable as error:
                failure = failure or error
                group.cancel_scope.cancel()
                return
            published += 1

        with anyio.move_on_after(self.publish_timeout_seconds) as deadline:
            async with anyio.create_task_group() as group:
                for key, file in pending:
                    group.start_soon(put, key, file, group)
        if failure is not None:
            self._mark_unavailable()
            _warn("publish", failure.reason, published=published, total=len(pending))
        elif deadline.cancelled_caught:
            _warn("publish", "timeout", published=published, total=len(pending))
        else:
            logger.info(
                "asset archive published",
                extra={
                    "fields": {
                        "event": "asset_archive",
                        "action": "publish",
                        "published": published,
                    }
                },
            )
        return published

    def _put_object(self, key: str, file: AssetFile) -> None:
        try:
            self._s3().put_object(
                Bucket=self.bucket, Key=key, Body=file.body, ContentType=file.content_type
            )
        except ClientError as error:
            raise ArchiveUnavailable(_error_code(error)) from None
        except BotoCoreError as error:
            raise ArchiveUnavailable(type(error).__name__) from None

    # --- lookups --------------------------------------------------------------------------

    async def fetch(self, url_path: str) -> AssetFile | None:
        """The archived file at a fingerprinted url path, or None (a miss); never raises."""
        key = archive_key(url_path)
        if key is None or not self.enabled:
            return None
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if key in self._misses or self._clock() < self._unavailable_until:
            return None
        shared = self._in_flight.get(key)
        if shared is None:
            if not self._lookups.take():
                logger.debug(
                    "asset archive lookups over their rate",
                    extra={"fields": {"event": "asset_archive", "action": "fetch"}},
                )
                return None
            shared = asyncio.ensure_future(self._lookup(key))
            self._in_flight[key] = shared
            shared.add_done_callback(lambda _: self._in_flight.pop(key, None))
        # A client that goes away cancels its wait, not the lookup others may share.
        return await asyncio.shield(shared)

    async def _lookup(self, key: str) -> AssetFile | None:
        try:
            found = await self._run(self._get_object, key, limiter=self._fetch_limiter())
        except ArchiveUnavailable as failure:
            if self._clock() >= self._unavailable_until:
                _warn("fetch", failure.reason)
            self._mark_unavailable()
            self._misses.add(key)
            return None
        if found is None:
            self._misses.add(key)
            return None
        self._cache.put(key, found)
        return found

    def _get_object(self, key: str) -> AssetFile | None:
        """The object at `key`, or None when S3 says it is not there (404, or 403 without
        ListBucket); any other failure as ArchiveUnavailable."""
        try:
            response = self._s3().get_object(Bucket=self.bucket, Key=key)
            stream = response["Body"]
            try:
                if int(response.get("ContentLength") or 0) > MAX_OBJECT_BYTES:
                    raise ArchiveUnavailable("ObjectTooLarge")
                body = stream.read()
            finally:
                stream.close()
        except ClientError as error:
            code = _error_code(error)
            if code in _MISSING_CODES:
                return None
            raise ArchiveUnavailable(code) from None
        except BotoCoreError as error:
            raise ArchiveUnavailable(type(error).__name__) from None
        modified = response.get("LastModified")
        url_path = "/" + key
        return AssetFile(
            url_path,
            content_type_of(url_path),
            body,
            int(modified.timestamp()) if modified is not None else 0,
        )

    # --- plumbing -------------------------------------------------------------------------

    def _s3(self) -> Any:
        with self._client_lock:
            if self._client is None:
                self._client = self._client_factory()
            return self._client

    def _fetch_limiter(self) -> anyio.CapacityLimiter:
        """One limiter per event loop (tests run several loops; a worker runs one)."""
        loop = asyncio.get_running_loop()
        if self._limiters is None or self._limiters[0] is not loop:
            self._limiters = (loop, anyio.CapacityLimiter(FETCH_CONCURRENCY))
        return self._limiters[1]

    async def _run(
        self, call: Callable[..., T], *args: Any, limiter: anyio.CapacityLimiter | None = None
    ) -> T:
        """`call(*args)` in a worker thread; any failure but a miss as ArchiveUnavailable."""
        try:
            return await anyio.to_thread.run_sync(
                call, *args, limiter=limiter, abandon_on_cancel=True
            )
        except ArchiveUnavailable:
            raise
        except Exception as error:  # a bug or an unexpected client failure: not a 500
            raise ArchiveUnavailable(type(error).__name__) from None

    def _mark_unavailable(self) -> None:
        self._unavailable_until = self._clock() + self.unavailable_backoff_seconds


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code") or "ClientError")


def _warn(action: str, reason: str, **counts: int) -> None:
    logger.warning(
        "asset archive unavailable",
        extra={"fields": {"event": "asset_archive", "action": action, "error": reason, **counts}},
    )
