"""The HTTP bench's helpers: wrk output parsing, the generated dist, the nginx ceiling config."""

import shutil
import subprocess
import time
import urllib.request

import pytest

from app.ingest.logs import parse_entries
from app.security_headers import security_headers
from app.static_files import FINGERPRINTED, StaticFiles
from bench import app_http

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:8080/api/logs
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.12ms    2.01ms  40.00ms   90.00%
    Req/Sec     6.20k   400.00     6.90k    80.00%
  Latency Distribution
     50%  850.00us
     75%    5.00ms
     90%    7.00ms
     99%    1.20s
  31000 requests in 5.00s, 9.00MB read
  Non-2xx or 3xx responses: 1234
Requests/sec:   6199.80
Transfer/sec:      1.80MB
"""


def test_parse_wrk_reads_rate_latency_units_and_errors():
    cell = app_http.parse_wrk(WRK_OUTPUT)
    assert cell.requests_per_second == pytest.approx(6199.80)
    assert cell.p50_ms == pytest.approx(0.85)
    assert cell.p99_ms == pytest.approx(1200.0)
    assert cell.non_2xx == 1234
    assert cell.requests == 31000


def test_parse_wrk_without_errors_counts_zero():
    output = WRK_OUTPUT.replace("  Non-2xx or 3xx responses: 1234\n", "")
    assert app_http.parse_wrk(output).non_2xx == 0


def test_parse_wrk_refuses_output_it_does_not_understand():
    with pytest.raises(app_http.BenchError, match="latency"):
        app_http.parse_wrk(WRK_OUTPUT.replace("99%", "98%"))
    with pytest.raises(app_http.BenchError, match="unexpected wrk output"):
        app_http.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


def test_the_bench_dist_has_a_100_kb_fingerprinted_asset(tmp_path):
    dist = app_http.build_dist(tmp_path / "dist")
    asset = dist.root / dist.asset_path.lstrip("/")
    assert asset.stat().st_size == 100 * 1024
    assert FINGERPRINTED.match(dist.asset_path)
    assert (asset.parent / (asset.name + ".gz")).exists()
    assert dist.asset_path.encode() in (dist.root / "index.html").read_bytes()
    static = StaticFiles(dist.root)
    assert static.resources[dist.asset_path].encoded[0][0] == "gzip"


def test_the_post_script_sends_a_valid_log_entry(tmp_path):
    script = app_http.post_script(tmp_path / "post.lua").read_text()
    assert 'wrk.method = "POST"' in script
    assert parse_entries(app_http.LOG_ENTRY)[0].message == "Page loaded"


def test_the_service_gets_a_raised_rate_limit_and_the_bench_dist(tmp_path):
    dist = app_http.Dist(tmp_path, "/assets/app-12345678.js")
    command, env = app_http.service_command(dist, 9999)
    assert command[1:] == ["-m", "app", "serve"]
    assert env["STATIC_DIR"] == str(tmp_path)
    assert int(env["RATE_LIMIT"]) >= 1_000_000
    assert env["WEB_CONCURRENCY"] == str(app_http.CORES)


def test_plain_is_the_same_service_on_uvicorns_own_protocol(tmp_path):
    dist = app_http.Dist(tmp_path, "/assets/app-12345678.js")
    command, env = app_http.plain_service_command(dist, 9999)
    assert env == app_http.service_command(dist, 9999)[1]
    assert command[1] == "-c"
    assert "'httptools'" in command[2]
    assert app_http.PLAIN in app_http.SERVERS


def test_worker_pids_falls_back_to_the_main_process():
    process = subprocess.Popen(["sleep", "5"])
    try:
        assert app_http.worker_pids(process.pid) == [process.pid]
        assert app_http.peak_rss_mb(process.pid) > 0
    finally:
        process.kill()
        process.wait()


@pytest.fixture
def nginx(tmp_path, monkeypatch):
    if not app_http.NGINX.exists():
        pytest.skip("nginx is not installed")
    monkeypatch.setattr(app_http, "WORK", tmp_path / "work")
    dist = app_http.build_dist(tmp_path / "dist")
    port = app_http.free_port()
    command = app_http.nginx_command(dist, port)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            fetch(port, "/health")
            break
        except OSError:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.1)
    yield port, dist
    process.terminate()
    process.wait(timeout=10)


def fetch(port, path, headers=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback URL)
        return response.status, response.headers, response.read()


@pytest.mark.network
def test_nginx_ceiling_has_the_same_headers_and_cache_rules(nginx):
    port, dist = nginx
    expected_security = security_headers(())
    rules = {
        "/health": "no-store",
        dist.asset_path: "public, max-age=31536000, immutable",
        "/": "no-cache",
        "/booking/confirm": "no-cache",
    }
    for path, cache_control in rules.items():
        status, headers, _ = fetch(port, path)
        assert status == 200, path
        assert headers["Cache-Control"] == cache_control, path
        for name, value in expected_security.items():
            assert headers[name] == value, (path, name)
        assert headers["Server"] == "nginx", "server_tokens off hides the version only"
    _, headers, body = fetch(port, dist.asset_path, {"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip"
    assert len(body) < 100 * 1024


def test_serve_command_is_the_assessments_spa_mode(tmp_path):
    command = app_http.serve_command(app_http.Dist(tmp_path, "/x"), 4321)
    assert command[1:3] == ["-s", str(tmp_path)]
    assert "tcp://127.0.0.1:4321" in command


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_failure_is_a_bench_error(tmp_path):
    row = app_http.Row("GET /health", "GET", "/health")
    port = app_http.free_port()
    with pytest.raises(app_http.BenchError, match="wrk failed"):
        app_http.wrk(f"http://127.0.0.1:{port}/health", row, 1, tmp_path / "unused.lua")
