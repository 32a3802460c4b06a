"""`python -m bench app_http`: the service against `serve -s` and nginx, side by side, with wrk.

All four serve the same generated dist under bench/.work on 127.0.0.1, started together and
measured row by row, one server after another (`wrk -t1 -c32 -d5s` after a 1 s warm-up):

- the service: `python -m app serve`, WEB_CONCURRENCY = cores, STATIC_DIR = the bench dist, and
  RATE_LIMIT raised so POST /api/logs measures ingestion rather than 429s;
- plain: the same service and settings on uvicorn's own httptools protocol instead of the bounded
  one (app.http_server.protocol), so the table shows what the connection hardening costs;
- npm `serve -s` (pinned in bench/package.json, `npm ci` into bench/node_modules on first use),
  the assessment's original server, as it ran it;
- nginx (Debian) with worker_processes = cores, the same security headers, the assessment's cache
  rules and a static JSON `location = /health`: the ceiling.

It prints requests/s, p50/p99 latency and non-2xx/3xx counts per cell, the ratios with PASS/MISS
against the issue's targets (and the service against plain), and the peak RSS (VmHWM) of each
service worker. It exits non-zero only when a server does not start or wrk fails, never because a
target is missed.
"""

import grp
import hashlib
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.security_headers import security_headers

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORK = BENCH_DIR / ".work"
NODE_MODULES = BENCH_DIR / "node_modules"
SERVE_BIN = NODE_MODULES / ".bin" / "serve"
NGINX = Path("/usr/sbin/nginx")
WRK = "wrk"

CORES = os.cpu_count() or 1
WRK_THREADS = 1
WRK_CONNECTIONS = 32
WARMUP_SECONDS = 1
MEASURE_SECONDS = 5
START_TIMEOUT_SECONDS = 30
SERVICE_RATE_LIMIT = 1_000_000_000
ASSET_BYTES = 100 * 1024

RSS_TARGET_MB = 120.0
SERVE_RATIO_TARGET = 1.0
NGINX_HEALTH_P99_TARGET = 3.0

SERVICE, PLAIN, SERVE, NGINX_NAME = "service", "plain", "serve", "nginx"
SERVERS = (SERVICE, PLAIN, SERVE, NGINX_NAME)
PLAIN_PROTOCOL = "httptools"
"""uvicorn's own protocol: the service as it was served before the connection hardening."""

LOG_ENTRY = {
    "timestamp": "2026-01-16T12:00:00.000Z",
    "level": "INFO",
    "service": "bench",
    "environment": "bench",
    "message": "Page loaded",
    "data": {"duration": 412},
    "url": "https://example.test/booking",
    "userAgent": "wrk",
}


class BenchError(Exception):
    """A server did not start or wrk failed: the run cannot produce a table."""


@dataclass(frozen=True)
class Row:
    label: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    skip: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Cell:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int


@dataclass(frozen=True)
class Dist:
    root: Path
    asset_path: str


def build_dist(root: Path) -> Dist:
    """index.html and a 100 KB fingerprinted script (plus its .gz for nginx's gzip_static)."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "assets").mkdir(parents=True)
    script = javascript_like(ASSET_BYTES)
    name = f"app-{content_hash(script)}.js"
    (root / "assets" / name).write_bytes(script)
    subprocess.run(["gzip", "-9", "-k", "-n", str(root / "assets" / name)], check=True)
    (root / "index.html").write_text(
        '<!doctype html>\n<html lang="en">\n<head><meta charset="UTF-8" />'
        f'<title>bench</title><script type="module" src="/assets/{name}"></script></head>\n'
        '<body><div id="root"></div></body>\n</html>\n'
    )
    return Dist(root, f"/assets/{name}")


def javascript_like(size: int) -> bytes:
    """Minified-looking script that compresses about as well as a real bundle does."""
    rng = random.Random(20260116)
    words = ["use", "state", "effect", "booking", "slot", "patient", "render", "props", "ref"]
    parts: list[str] = []
    total = 0
    while total < size:
        name = rng.choice(words) + rng.choice(words).title() + str(rng.randrange(10_000))
        statement = (
            f"function {name}(a,b){{const c=a.{rng.choice(words)}??{rng.randrange(999)};"
            f'return b?c+{rng.random():.6f}:"{rng.getrandbits(48):x}"}}'
        )
        parts.append(statement)
        total += len(statement)
    return "".join(parts).encode()[:size]


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:8]


def rows_for(dist: Dist) -> list[Row]:
    post_only = frozenset({SERVE})
    gzip = (("Accept-Encoding", "gzip"),)
    return [
        Row("GET /health", "GET", "/health"),
        Row("GET 100 KB asset", "GET", dist.asset_path),
        Row("GET 100 KB asset, gzip", "GET", dist.asset_path, gzip),
        Row("GET / (index.html)", "GET", "/"),
        Row("POST /api/logs", "POST", "/api/logs", skip=post_only),
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{url} exited with {process.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (loopback URL)
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise BenchError(f"{url} not ready after {START_TIMEOUT_SECONDS} s:\n{tail(log)}")


def tail(log: Path, lines: int = 20) -> str:
    if not log.exists():
        return "(no output)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running(
    command: list[str], env: dict[str, str], ready_url: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process in its own process group, stopped with SIGTERM (then SIGKILL)."""
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=REPO,
            start_new_session=True,
        )
        try:
            wait_until_ready(process, ready_url, log)
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def service_command(dist: Dist, port: int) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "APP_ENV": "development",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(CORES),
        "STATIC_DIR": str(dist.root),
        "RATE_LIMIT": str(SERVICE_RATE_LIMIT),
        "RATE_LIMIT_WINDOW_SECONDS": "60",
    }
    return [sys.executable, "-m", "app", "serve"], env


def plain_service_command(dist: Dist, port: int) -> tuple[list[str], dict[str, str]]:
    """The service command with uvicorn's own HTTP protocol (app.server.main's bench option)."""
    _, env = service_command(dist, port)
    code = f"import sys; from app.server import main; sys.exit(main([], {PLAIN_PROTOCOL!r}))"
    return [sys.executable, "-c", code], env


def ensure_serve_installed() -> None:
    """`npm ci` from the committed lock file, once, into bench/node_modules."""
    lock = json.loads((BENCH_DIR / "package-lock.json").read_text())
    wanted = lock["packages"]["node_modules/serve"]["version"]
    installed = NODE_MODULES / "serve" / "package.json"
    if installed.exists() and json.loads(installed.read_text())["version"] == wanted:
        return
    print(f"installing serve {wanted} with npm ci into {NODE_MODULES} ...", flush=True)
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],
        cwd=BENCH_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"npm ci failed:\n{result.stderr[-2000:]}")


def serve_command(dist: Dist, port: int) -> list[str]:
    listen = f"tcp://127.0.0.1:{port}"
    return [str(SERVE_BIN), "-s", str(dist.root), "-l", listen, "-n", "--no-port-switching"]


def nginx_header_lines(cache_control: str) -> str:
    """`add_header` lines for one location: nginx drops server-level add_header in a location
    that has its own, so every location repeats the whole set."""
    headers = {**security_headers(()), "Cache-Control": cache_control}
    # Inside nginx's double-quoted strings a double quote (Reporting-Endpoints) is escaped.
    return "\n".join(
        f'            add_header {name} "{value.replace(chr(34), chr(92) + chr(34))}" always;'
        for name, value in headers.items()
    )


def nginx_user_line() -> str:
    """Workers run as the invoking user, as they do when nginx is not started by root.

    Started by root, nginx would switch its workers to `nobody`, which cannot read a dist under
    a private home or temp directory.
    """
    if os.geteuid() != 0:
        return ""
    return f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"


def nginx_config(dist: Dist, port: int, work: Path) -> str:
    health = json.dumps({"status": "ok", "version": "nginx", "environment": "bench"})
    temp = work / "temp"
    return f"""
{nginx_user_line()}
worker_processes {CORES};
pid {work}/nginx.pid;
error_log {work}/error.log warn;
daemon off;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    charset utf-8;
    charset_types text/css text/javascript application/json;
    access_log {work}/access.log combined buffer=256k flush=2s;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 75s;
    keepalive_requests 100000;
    server_tokens off;
    gzip on;
    gzip_static on;
    gzip_vary on;
    gzip_min_length 256;
    gzip_types text/css text/javascript application/json image/svg+xml;
    server {{
        listen 127.0.0.1:{port};
        root {dist.root};
        location = /health {{
            default_type application/json;
{nginx_header_lines("no-store")}
            return 200 '{health}';
        }}
        location = /api/logs {{
            limit_except POST {{ deny all; }}
            default_type application/json;
{nginx_header_lines("no-store")}
            return 202 '{{"accepted":1}}';
        }}
        location /assets/ {{
{nginx_header_lines("public, max-age=31536000, immutable")}
            try_files $uri =404;
        }}
        location / {{
{nginx_header_lines("no-cache")}
            try_files $uri /index.html;
        }}
    }}
}}
"""


def nginx_command(dist: Dist, port: int) -> list[str]:
    work = WORK / "nginx"
    shutil.rmtree(work, ignore_errors=True)
    (work / "temp").mkdir(parents=True)
    config = work / "nginx.conf"
    config.write_text(nginx_config(dist, port, work))
    return [str(NGINX), "-p", str(work), "-e", str(work / "error.log"), "-c", str(config)]


def post_script(path: Path) -> Path:
    body = json.dumps(LOG_ENTRY)
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    return path


def wrk(url: str, row: Row, seconds: int, script: Path) -> Cell:
    command = [WRK, f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s", "--latency"]
    for name, value in row.headers:
        command += ["-H", f"{name}: {value}"]
    if row.method == "POST":
        command += ["-s", str(script)]
    result = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 30, check=False
    )
    if result.returncode != 0:
        raise BenchError(f"wrk failed on {url}: {result.stderr.strip() or result.stdout}")
    return parse_wrk(result.stdout)


LATENCY_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(output: str) -> Cell:
    """Requests/s, p50, p99, non-2xx/3xx count and total requests from `wrk --latency` output."""

    def latency(percentile: str) -> float:
        match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
        if match is None:
            raise BenchError(f"no {percentile}% latency in wrk output:\n{output}")
        return float(match.group(1)) * LATENCY_UNITS_MS[match.group(2)]

    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    if rate is None or total is None:
        raise BenchError(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return Cell(
        requests_per_second=float(rate.group(1)),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        requests=int(total.group(1)),
    )


def worker_pids(main_pid: int) -> list[int]:
    """uvicorn's worker processes (children running spawn_main), or the main one if none."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat_fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(stat_fields[1]) == main_pid and b"spawn_main" in command:
            children.append(int(entry.name))
    return sorted(children) or [main_pid]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmHWM for pid {pid}")


def measure(urls: dict[str, str], rows: list[Row], script: Path) -> dict[tuple[str, str], Cell]:
    cells = {}
    for row in rows:
        for server in SERVERS:
            if server in row.skip:
                continue
            url = urls[server] + row.path
            wrk(url, row, WARMUP_SECONDS, script)
            cells[row.label, server] = wrk(url, row, MEASURE_SECONDS, script)
            print(f"  measured {row.label:<24} {server}", flush=True)
    return cells


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("inf")


def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def print_table(rows: list[Row], cells: dict[tuple[str, str], Cell]) -> None:
    print(f"\n{'row':<24} {'server':<8} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for row in rows:
        for server in SERVERS:
            cell = cells.get((row.label, server))
            label = row.label if server == SERVICE else ""
            if cell is None:
                print(f"{label:<24} {server:<8} {'n/a':>10} {'n/a':>8} {'n/a':>8} {'n/a':>8}")
                continue
            print(
                f"{label:<24} {server:<8} {cell.requests_per_second:>10,.0f} "
                f"{cell.p50_ms:>8.2f} {cell.p99_ms:>8.2f} {cell.non_2xx:>8}"
            )


def print_ratios(rows: list[Row], cells: dict[tuple[str, str], Cell]) -> None:
    print(
        f"\n{'row':<24} {'service/serve rps':>22} {'service/nginx rps':>18} "
        f"{'service/plain rps':>18}"
    )
    for row in rows:
        service = cells[row.label, SERVICE].requests_per_second
        versus_nginx = ratio(service, cells[row.label, NGINX_NAME].requests_per_second)
        versus_plain = ratio(service, cells[row.label, PLAIN].requests_per_second)
        serve_cell = cells.get((row.label, SERVE))
        if serve_cell is None:
            versus_serve = "n/a"
        else:
            value = ratio(service, serve_cell.requests_per_second)
            versus_serve = f"{value:.2f} {verdict(value >= SERVE_RATIO_TARGET)}"
        print(f"{row.label:<24} {versus_serve:>22} {versus_nginx:>18.2f} {versus_plain:>18.2f}")
    for server in (SERVICE, PLAIN):
        health = ratio(cells["GET /health", server].p99_ms, cells["GET /health", NGINX_NAME].p99_ms)
        print(
            f"\nGET /health p99 {server}/nginx: {health:.2f} "
            f"(target <= {NGINX_HEALTH_P99_TARGET}) {verdict(health <= NGINX_HEALTH_P99_TARGET)}",
            end="",
        )
    print()


def print_memory(main_pid: int) -> None:
    print(f"\npeak RSS (VmHWM) per service worker, target <= {RSS_TARGET_MB:.0f} MB:")
    for pid in worker_pids(main_pid):
        megabytes = peak_rss_mb(pid)
        print(f"  worker pid {pid}: {megabytes:.1f} MB {verdict(megabytes <= RSS_TARGET_MB)}")


def print_setup(dist: Dist) -> None:
    print(
        f"cores={CORES}  wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{MEASURE_SECONDS}s per cell "
        f"after a {WARMUP_SECONDS} s warm-up; all servers on 127.0.0.1 serve {dist.root}\n"
        f"service: python -m app serve, WEB_CONCURRENCY={CORES}, RATE_LIMIT={SERVICE_RATE_LIMIT} "
        "(raised so POST /api/logs measures ingestion, not 429s)\n"
        f"plain: the same service on uvicorn's own {PLAIN_PROTOCOL} protocol (before the "
        "connection hardening)\n"
        f"serve: npm serve -s (as the assessment ran it; its /health is the SPA fallback page, "
        f"it cannot answer POST /api/logs)\n"
        f"nginx: worker_processes={CORES}, same security headers, assessment cache rules, static "
        "JSON /health, static 202 for POST /api/logs (no validation): the ceiling",
        flush=True,
    )


def run() -> None:
    for tool in (WRK, str(NGINX), "npm", "gzip"):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} not found: run `make system-deps`")
    WORK.mkdir(parents=True, exist_ok=True)
    ensure_serve_installed()
    dist = build_dist(WORK / "dist")
    rows = rows_for(dist)
    script = post_script(WORK / "post-logs.lua")
    ports = {server: free_port() for server in SERVERS}
    urls = {server: f"http://127.0.0.1:{port}" for server, port in ports.items()}
    print_setup(dist)
    command, env = service_command(dist, ports[SERVICE])
    plain_command, plain_env = plain_service_command(dist, ports[PLAIN])
    with ExitStack() as servers:
        service = servers.enter_context(
            running(command, env, urls[SERVICE] + "/health", WORK / "service.log")
        )
        servers.enter_context(
            running(plain_command, plain_env, urls[PLAIN] + "/health", WORK / "plain.log")
        )
        servers.enter_context(
            running(
                serve_command(dist, ports[SERVE]),
                dict(os.environ),
                urls[SERVE] + "/",
                WORK / "serve.log",
            )
        )
        servers.enter_context(
            running(
                nginx_command(dist, ports[NGINX_NAME]),
                dict(os.environ),
                urls[NGINX_NAME] + "/health",
                WORK / "nginx.log",
            )
        )
        cells = measure(urls, rows, script)
        print_table(rows, cells)
        print_ratios(rows, cells)
        print_memory(service.pid)


def main() -> int:
    try:
        run()
    except BenchError as error:
        print(f"app_http bench failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
