"""Debian's nginx on loopback for the front-end tests: the ALB stand-in of
test_rolling_deploy.py and the TLS front of test_browser.py."""

import grp
import os
import pwd
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.app.conftest import ServiceProcess

NGINX = Path("/usr/sbin/nginx")
NGINX_START_SECONDS = 10.0
SERVICE_STOP_SECONDS = 10.0


def nginx_user_line() -> str:
    """Started by root, nginx would run its workers as `nobody`: keep the invoking user."""
    if os.geteuid() != 0:
        return ""
    return f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"


def nginx_config(work: Path, http_block: str) -> str:
    """A whole nginx.conf: pid, logs and temp files under `work`; `http_block` in `http {}`."""
    temp = work / "temp"
    return f"""
{nginx_user_line()}
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 512; }}
http {{
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    server_tokens off;
{http_block}
}}
"""


def wait_for_port(port: int, process: subprocess.Popen[bytes], error_log: Path) -> None:
    deadline = time.monotonic() + NGINX_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = error_log.read_text() if error_log.is_file() else ""
            raise AssertionError(f"nginx exited with {process.returncode}:\n{log}")
        with socket.socket() as probe:
            probe.settimeout(0.2)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nginx did not listen on 127.0.0.1:{port} within {NGINX_START_SECONDS} s")


@contextmanager
def nginx(work: Path, http_block: str, port: int) -> Iterator[Path]:
    """Debian's nginx in the foreground, configured under `work`, listening on `port` (which
    `http_block` must use); yields `work`; stopped (SIGTERM, then SIGKILL) at the end."""
    (work / "temp").mkdir(parents=True, exist_ok=True)
    config = work / "nginx.conf"
    config.write_text(nginx_config(work, http_block))
    error_log = work / "error.log"
    process = subprocess.Popen(
        [
            *(str(NGINX), "-p", str(work), "-e", str(error_log), "-c", str(config)),
            "-g",
            "daemon off;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process, error_log)
        yield work
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def stop_service(service: ServiceProcess) -> None:
    if service.process.poll() is None:
        service.process.terminate()
        try:
            service.process.wait(timeout=SERVICE_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait(timeout=SERVICE_STOP_SECONDS)
