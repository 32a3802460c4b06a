"""The asset archive (skew protection) against a moto S3 server on loopback.

Sources of truth: which files are archived is what `FINGERPRINTED` (app/static_files.py)
accepts, read back here from the bucket with an independent boto3 client; the headers an archived
file must carry are those the release that built it served locally (same StaticFiles, same
cache policy); "no S3 call" is counted with botocore's own `before-call` event on the archive's
client, so a lookup that reached S3 in any way is seen.
"""

import asyncio
import contextlib
import json
import secrets
import socket
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError

from app.asset_archive import (
    MAX_REFRESH_INTERVAL_SECONDS,
    AssetArchive,
    archive_key,
    s3_client,
)
from app.static_files import IMMUTABLE, AssetFile, StaticFiles

SECRET_ACCESS_KEY = "archive-test-secret-4b1d9e"
MTIME = 1_700_000_000

# Release N and release N+1 of the same app: the lazy chunk changed, so did its hash.
RELEASE_N = {
    "index.html": b"<!doctype html><script type=module src='/assets/index-Aa11Bb22.js'></script>",
    "assets/index-Aa11Bb22.js": b"import('./Booking-Nn00Xx11.js');\n" * 20,
    "assets/Booking-Nn00Xx11.js": b"export const booking = 'release N';\n" * 40,
    "assets/index-Cc33Dd44.css": b"body { margin: 0 }\n" * 30,
    "assets/photo-a1b2c3d4.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
    "assets/nested/chunk-Ee55Ff66.js": b"export default 1;\n",
    "assets/logo.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    "assets/index-Aa11Bb22.js.map": b'{"version":3,"sources":["src/secret.ts"]}',
    "assets/index-Aa11Bb22.js.br": b"pretend-brotli",
    "robots.txt": b"User-agent: *\n",
}
RELEASE_N_PLUS_1 = {
    "index.html": b"<!doctype html><script type=module src='/assets/index-Gg77Hh88.js'></script>",
    "assets/index-Gg77Hh88.js": b"import('./Booking-Mm22Yy33.js');\n" * 20,
    "assets/Booking-Mm22Yy33.js": b"export const booking = 'release N+1';\n" * 40,
    "robots.txt": b"User-agent: *\n",
}
ARCHIVED_OF_RELEASE_N = {
    "assets/index-Aa11Bb22.js",
    "assets/Booking-Nn00Xx11.js",
    "assets/index-Cc33Dd44.css",
    "assets/photo-a1b2c3d4.png",
    "assets/nested/chunk-Ee55Ff66.js",
}


@pytest.fixture
def aws_env(no_machine_aws):
    """No AWS settings of this machine leak in; the archive's client finds moto or nothing."""
    no_machine_aws.delenv("ASSET_ARCHIVE_BUCKET", raising=False)
    no_machine_aws.setenv("AWS_ACCESS_KEY_ID", "testing")
    no_machine_aws.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    return no_machine_aws


@pytest.fixture
def s3(aws_env, moto_endpoint):
    aws_env.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    return boto3.session.Session().client("s3")


@pytest.fixture
def bucket(s3):
    name = f"miko-test-release-assets-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return name


@pytest.fixture
def closed_port_endpoint(aws_env):
    """An endpoint nobody listens on: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    aws_env.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Counted:
    """The archive's client factory, counting each S3 operation the archive calls."""

    calls: Counter[str]

    def __call__(self):
        client = s3_client()
        client.meta.events.register("before-call.s3", self._count)
        return client

    def _count(self, model, **_):
        self.calls[model.name] += 1


@pytest.fixture
def counted():
    return Counted(Counter())


def make_site(root, files):
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


@pytest.fixture
def release_n(tmp_path):
    return StaticFiles(make_site(tmp_path / "release-n", RELEASE_N))


@pytest.fixture
def release_n_plus_1_site(tmp_path):
    return make_site(tmp_path / "release-n-plus-1", RELEASE_N_PLUS_1)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


async def request(app, path, method="GET", headers=None):
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    messages = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    await app(scope, receive, send)
    start, *bodies = messages
    return Reply(
        start["status"],
        {name.decode(): value.decode() for name, value in start["headers"]},
        b"".join(message.get("body", b"") for message in bodies),
    )


def archive_for(bucket, counted=None, **options):
    return AssetArchive(bucket, client_factory=counted or s3_client, **options)


async def start_and_stop(archive, static):
    """The lifespan of one worker: start-up (publish, read-back), then shutdown."""
    await archive.start(static.fingerprinted_files)
    await archive.stop()


def log_lines(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def archive_warnings(stream):
    return [
        line
        for line in log_lines(stream)
        if line.get("level") in ("warning", "WARNING") and line.get("event") == "asset_archive"
    ]


# --- publishing ----------------------------------------------------------------------------


def test_publish_puts_exactly_the_fingerprinted_files(s3, bucket, release_n):
    asyncio.run(start_and_stop(archive_for(bucket), release_n))
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert {item["Key"] for item in listed} == ARCHIVED_OF_RELEASE_N
    for key in ARCHIVED_OF_RELEASE_N:
        stored = s3.get_object(Bucket=bucket, Key=key)
        assert stored["Body"].read() == RELEASE_N[key], key
        local = asyncio.run(request(release_n, "/" + key))
        assert stored["ContentType"] == local.headers["content-type"], key


def test_large_fingerprinted_files_streamed_from_disk_are_published_too(s3, bucket, tmp_path):
    big = bytes(range(256)) * 64
    site = make_site(tmp_path / "site", {"assets/clip-Zz99Yy88.mp4": big, "index.html": b"x"})
    static = StaticFiles(site, memory_limit_bytes=1024)
    assert asyncio.run(archive_for(bucket).publish(static.fingerprinted_files())) == 1
    assert s3.get_object(Bucket=bucket, Key="assets/clip-Zz99Yy88.mp4")["Body"].read() == big


def test_publishing_again_renews_the_objects(s3, bucket, release_n):
    """Lifecycle expiry counts from an object's last write: a refresh must write again."""
    archive = archive_for(bucket)
    key = "assets/Booking-Nn00Xx11.js"
    asyncio.run(archive.publish(release_n.fingerprinted_files()))
    first = s3.head_object(Bucket=bucket, Key=key)["LastModified"]
    asyncio.run(asyncio.sleep(1.1))
    asyncio.run(archive.publish(release_n.fingerprinted_files()))
    assert s3.head_object(Bucket=bucket, Key=key)["LastModified"] > first


def test_the_refresh_loop_republishes_only_when_leading(bucket, release_n, counted):
    async def scenario(leading):
        archive = archive_for(bucket, counted, refresh_interval_seconds=0.05)
        await archive.start(release_n.fingerprinted_files, leader=lambda: leading)
        await asyncio.sleep(0.3)
        await archive.stop()

    asyncio.run(scenario(leading=False))
    assert counted.calls["PutObject"] == len(ARCHIVED_OF_RELEASE_N)
    counted.calls.clear()
    asyncio.run(scenario(leading=True))
    assert counted.calls["PutObject"] >= 2 * len(ARCHIVED_OF_RELEASE_N)


def test_the_refresh_interval_cannot_outgrow_the_lifecycle_margin():
    with pytest.raises(ValueError, match="refresh interval"):
        AssetArchive("bucket", refresh_interval_seconds=MAX_REFRESH_INTERVAL_SECONDS + 1)


# --- serving an earlier release ------------------------------------------------------------


def test_a_release_n_chunk_is_served_by_release_n_plus_1(
    bucket, release_n, release_n_plus_1_site, counted
):
    path = "/assets/Booking-Nn00Xx11.js"

    async def scenario():
        await archive_for(bucket).publish(release_n.fingerprinted_files())
        archive = archive_for(bucket, counted)
        new_release = StaticFiles(release_n_plus_1_site, archive=archive)
        assert new_release.lookup(path) is None  # really missing locally
        original = await request(release_n, path)
        served = await request(new_release, path)
        head = await request(new_release, path, method="HEAD")
        revalidated = await request(
            new_release, path, headers={"If-None-Match": original.headers["etag"]}
        )
        again = await request(new_release, path)
        return original, served, head, revalidated, again

    original, served, head, revalidated, again = asyncio.run(scenario())
    assert served.status == 200
    assert served.body == RELEASE_N[path.removeprefix("/")]
    assert served.headers["cache-control"] == IMMUTABLE == original.headers["cache-control"]
    assert served.headers["content-type"] == "text/javascript; charset=utf-8"
    assert served.headers["content-type"] == original.headers["content-type"]
    assert served.headers["content-length"] == str(len(served.body))
    assert served.headers["etag"] == original.headers["etag"]
    assert (head.status, head.body, head.headers) == (200, b"", served.headers)
    assert revalidated.status == 304
    assert again.body == served.body
    # The LRU answered every request after the first.
    assert counted.calls["GetObject"] == 1


def test_types_of_archived_files_follow_their_names(bucket, release_n, release_n_plus_1_site):
    async def scenario():
        await archive_for(bucket).publish(release_n.fingerprinted_files())
        new_release = StaticFiles(release_n_plus_1_site, archive=archive_for(bucket))
        return [
            await request(new_release, path)
            for path in ("/assets/index-Cc33Dd44.css", "/assets/photo-a1b2c3d4.png")
        ]

    css, png = asyncio.run(scenario())
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert png.headers["content-type"] == "image/png"
    assert png.body == RELEASE_N["assets/photo-a1b2c3d4.png"]


def test_an_unknown_hashed_name_is_a_no_store_404_remembered_briefly(
    bucket, release_n_plus_1_site, counted
):
    clock = Clock()
    archive = archive_for(bucket, counted, clock=clock, negative_ttl_seconds=60)
    app = StaticFiles(release_n_plus_1_site, archive=archive)
    path = "/assets/Unknown-Qq12Rr34.js"

    async def scenario():
        first = await request(app, path)
        clock.now += 59
        second = await request(app, path)
        calls_within_window = counted.calls["GetObject"]
        clock.now += 2
        third = await request(app, path)
        return first, second, third, calls_within_window

    first, second, third, calls_within_window = asyncio.run(scenario())
    for reply in (first, second, third):
        assert reply.status == 404
        assert reply.headers["cache-control"] == "no-store"
    assert calls_within_window == 1
    assert counted.calls["GetObject"] == 2


def test_the_negative_cache_is_bounded(bucket, counted):
    archive = archive_for(bucket, counted, negative_entries=2)

    async def scenario():
        for name in ("Aaaaaaa1", "Bbbbbbb2", "Ccccccc3", "Aaaaaaa1"):
            assert await archive.fetch(f"/assets/x-{name}.js") is None

    asyncio.run(scenario())
    # Only two misses are remembered: the first name was forgotten and asked again.
    assert counted.calls["GetObject"] == 4


def test_lookups_of_random_names_are_rate_limited(bucket, counted):
    clock = Clock()
    archive = archive_for(bucket, counted, clock=clock, lookup_burst=3, lookups_per_second=1)

    async def scenario():
        for index in range(10):
            assert await archive.fetch(f"/assets/scan-{index:08d}.js") is None
        clock.now += 2
        for index in range(10, 20):
            assert await archive.fetch(f"/assets/scan-{index:08d}.js") is None

    asyncio.run(scenario())
    assert counted.calls["GetObject"] == 3 + 2


def test_concurrent_lookups_of_one_name_share_one_get(bucket, release_n, counted):
    async def scenario():
        await archive_for(bucket).publish(release_n.fingerprinted_files())
        archive = archive_for(bucket, counted)
        return await asyncio.gather(
            *(archive.fetch("/assets/Booking-Nn00Xx11.js") for _ in range(8))
        )

    found = asyncio.run(scenario())
    assert {item.body for item in found} == {RELEASE_N["assets/Booking-Nn00Xx11.js"]}
    assert counted.calls["GetObject"] == 1


@pytest.mark.parametrize(
    "path",
    [
        "/assets/missing.css",
        "/assets/logo.svg",
        "/assets/my-elements.js",
        "/assets/index-Aa11Bb22.js.map",
        "/assets/index-Aa11Bb22.js.br",
        "/favicon.ico",
        "/index-Aa11Bb22.js",
        "/booking",
        "/api/unknown",
    ],
)
def test_a_miss_that_is_not_fingerprinted_never_calls_s3(
    bucket, release_n_plus_1_site, counted, json_log, path
):
    asked = []

    class Recording(AssetArchive):
        async def fetch(self, url_path):
            asked.append(url_path)
            return await super().fetch(url_path)

    async def scenario():
        archive = Recording(bucket, client_factory=counted)
        app = StaticFiles(release_n_plus_1_site, archive=archive)
        return await request(app, path), await archive.fetch(path)

    reply, fetched = asyncio.run(scenario())
    assert reply.status in (200, 404)  # /booking is the SPA fallback
    assert fetched is None
    assert asked == [path]  # StaticFiles did not ask: only the direct call above did
    assert counted.calls == Counter()
    assert archive_warnings(json_log) == []


def test_the_lru_stays_within_its_byte_bound(s3, bucket, counted):
    files = {f"assets/part-{index:04d}abcd.js": bytes([65 + index]) * 1000 for index in range(4)}
    files["assets/huge-Hh00Gg11.js"] = b"h" * 4000
    for key, body in files.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    archive = archive_for(bucket, counted, cache_bytes=2500)

    async def scenario():
        for key, body in files.items():
            found = await archive.fetch("/" + key)
            assert found is not None
            assert found.body == body
            assert archive.cached_bytes <= 2500
        calls = counted.calls["GetObject"]
        await archive.fetch("/assets/part-0003abcd.js")  # most recent: still cached
        assert counted.calls["GetObject"] == calls
        await archive.fetch("/assets/part-0000abcd.js")  # evicted
        await archive.fetch("/assets/huge-Hh00Gg11.js")  # never cached: larger than the bound
        assert counted.calls["GetObject"] == calls + 2

    asyncio.run(scenario())
    assert archive.cached_bytes <= 2500


# --- S3 failures -----------------------------------------------------------------------------


def test_an_unreachable_s3_fails_neither_start_up_nor_a_request(
    closed_port_endpoint, release_n, release_n_plus_1_site, counted, json_log
):
    clock = Clock()
    archive = archive_for(
        "miko-test-release-assets", counted, clock=clock, unavailable_backoff_seconds=30
    )
    app = StaticFiles(release_n_plus_1_site, archive=archive)
    path = "/assets/Booking-Nn00Xx11.js"

    async def scenario():
        await asyncio.wait_for(archive.start(release_n.fingerprinted_files), timeout=30)
        during_backoff = await request(app, path)
        calls_during_backoff = counted.calls["GetObject"]
        clock.now += 31
        after_backoff = await request(app, path)
        await archive.stop()
        return during_backoff, calls_during_backoff, after_backoff

    during_backoff, calls_during_backoff, after_backoff = asyncio.run(scenario())
    for reply in (during_backoff, after_backoff):
        assert reply.status == 404
        assert reply.headers["cache-control"] == "no-store"
    assert calls_during_backoff == 0
    assert counted.calls["GetObject"] == 1
    warnings = archive_warnings(json_log)
    assert [line["action"] for line in warnings] == ["publish", "fetch"]
    assert {line["error"] for line in warnings} == {"EndpointConnectionError"}
    assert SECRET_ACCESS_KEY not in json_log.getvalue()
    assert "127.0.0.1" not in json_log.getvalue()


def test_a_failed_lookup_warns_once_and_leaves_s3_alone_for_a_while(
    closed_port_endpoint, counted, json_log
):
    clock = Clock()
    archive = archive_for("miko-test", counted, clock=clock, unavailable_backoff_seconds=30)

    async def scenario():
        for name in ("Aa11Bb22", "Cc33Dd44", "Ee55Ff66"):
            assert await archive.fetch(f"/assets/chunk-{name}.js") is None
        clock.now += 31
        assert await archive.fetch("/assets/chunk-Gg77Hh88.js") is None

    asyncio.run(scenario())
    assert counted.calls["GetObject"] == 2
    assert [line["action"] for line in archive_warnings(json_log)] == ["fetch", "fetch"]


def test_a_missing_bucket_is_a_warning_not_a_failure(aws_env, moto_endpoint, json_log):
    aws_env.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    archive = archive_for(f"miko-missing-{secrets.token_hex(4)}")
    files = [AssetFile("/assets/a-Aa11Bb22.js", "text/javascript; charset=utf-8", b"a", 0)]
    assert asyncio.run(archive.publish(files)) == 0
    assert [line["error"] for line in archive_warnings(json_log)] == ["NoSuchBucket"]


class DeniedReads:
    """A client whose role may write but not read (no GetObject, or no kms:Decrypt)."""

    def put_object(self, **_):
        return {}

    def get_object(self, **_):
        raise ClientError({"Error": {"Code": "AccessDenied"}}, "GetObject")


def test_start_up_reads_one_file_back_and_warns_when_it_cannot(release_n, json_log):
    asyncio.run(start_and_stop(AssetArchive("bucket", client_factory=DeniedReads), release_n))
    assert [(line["action"], line["error"]) for line in archive_warnings(json_log)] == [
        ("read-back", "missing")
    ]


def test_a_disabled_archive_touches_nothing(release_n):
    def no_client():
        raise AssertionError("a disabled archive must not create an S3 client")

    archive = AssetArchive(None, client_factory=no_client)
    assert not archive.enabled
    assert not AssetArchive.from_environment({}).enabled
    assert AssetArchive.from_environment({"ASSET_ARCHIVE_BUCKET": "b"}).bucket == "b"

    async def scenario():
        await archive.start(release_n.fingerprinted_files)
        assert await archive.publish(release_n.fingerprinted_files()) == 0
        assert await archive.fetch("/assets/Booking-Nn00Xx11.js") is None
        await archive.stop()

    asyncio.run(scenario())


# --- no request path reaches a key unvalidated ---------------------------------------------

UNSAFE_PATHS = [
    "/assets/../secret-Ss11Tt22.js",
    "/assets/../../etc/passwd-Ss11Tt22.js",
    "/assets/./secret-Ss11Tt22.js",
    "/assets/nested/../secret-Ss11Tt22.js",
    "/assets/%2e%2e/secret-Ss11Tt22.js",
    "/assets/..%2fsecret-Ss11Tt22.js",
    "/assets/a%2Fb-Ss11Tt22.js",
    "/assets/a%5Cb-Ss11Tt22.js",
    "/assets/..\\secret-Ss11Tt22.js",
    "/assets//secret-Ss11Tt22.js",
    "/assets/.hidden-Ss11Tt22.js",
    "/assets/secret-Ss11Tt22.js\n",
    "/assets/secret-Ss11Tt22.js\x00.png",
    "/assets/sec ret-Ss11Tt22.js",
    "/assets/secret-Ss11Tt22.js?x=1",
    "/ASSETS/secret-Ss11Tt22.js",
]


@pytest.fixture(params=UNSAFE_PATHS)
def planted(request, s3, bucket):
    """An unsafe path, with an object at exactly its key where S3 takes such a key."""
    with contextlib.suppress(ClientError):
        s3.put_object(Bucket=bucket, Key=request.param.removeprefix("/"), Body=b"secret")
    return request.param


def test_unsafe_paths_never_reach_s3(bucket, release_n_plus_1_site, counted, json_log, planted):
    path = planted
    archive = archive_for(bucket, counted)
    app = StaticFiles(release_n_plus_1_site, archive=archive)

    async def scenario():
        return await request(app, path), await archive.fetch(path)

    reply, fetched = asyncio.run(scenario())
    assert reply.status == 404
    assert b"secret" not in reply.body
    assert fetched is None
    assert archive_key(path) is None
    assert counted.calls == Counter()
    assert archive_warnings(json_log) == []  # refused before any client call, not by botocore


def test_unsafe_names_are_never_published(s3, bucket):
    files = [
        AssetFile(path, "text/javascript; charset=utf-8", b"x", 0)
        for path in [*UNSAFE_PATHS, "/assets/ok-Ss11Tt22.js"]
    ]
    assert asyncio.run(archive_for(bucket).publish(files)) == 1
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["assets/ok-Ss11Tt22.js"]


def test_archived_files_carry_the_time_they_were_published(bucket, release_n):
    before = int(datetime.now(UTC).timestamp()) - 5

    async def scenario():
        await archive_for(bucket).publish(release_n.fingerprinted_files())
        return await archive_for(bucket).fetch("/assets/Booking-Nn00Xx11.js")

    found = asyncio.run(scenario())
    assert found is not None
    assert found.last_modified >= before
