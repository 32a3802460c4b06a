"""A throwaway PostgreSQL cluster on 127.0.0.1, shared by the backup tests and bench/backup.py.

initdb refuses to run as root, so as root the cluster belongs to the `postgres` user (or `nobody`)
and lives in its own directory under the system temp dir: pytest's tmp_path is 0700 root-owned and
the server could not enter it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

SUPERUSER = "miko_admin"
# Characters that must survive URL decoding and reach pg_dump intact.
SUPERUSER_PASSWORD = "p@ss:w/rd%-" + os.urandom(6).hex()  # pragma: allowlist secret


class ClusterUnavailable(RuntimeError):
    """PostgreSQL server binaries are missing or the cluster did not start."""


def server_bindir() -> Path:
    """The directory with initdb and pg_ctl: `pg_config --bindir`, else the newest Debian one."""
    candidates: list[str] = []
    if shutil.which("pg_config"):
        found = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=False
        )
        candidates.append(found.stdout.strip())
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    raise ClusterUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found in `pg_config --bindir` or "
        "/usr/lib/postgresql/*/bin: run scripts/install-system-deps (Debian package postgresql)"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _server_user() -> str | None:
    """None when we are not root; otherwise an unprivileged account to own the cluster."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise ClusterUnavailable("running as root and neither user 'postgres' nor 'nobody' exists")


@dataclass
class PgCluster:
    """initdb + pg_ctl start on a free loopback port; `stop()` removes everything."""

    root: Path = field(init=False)
    port: int = field(init=False)
    bindir: Path = field(default_factory=server_bindir)
    os_user: str | None = field(default_factory=_server_user)

    def start(self) -> PgCluster:
        self.root = Path(tempfile.mkdtemp(prefix="miko-pg-"))
        self.port = _free_port()
        (self.root / "sock").mkdir()
        pwfile = self.root / "pwfile"
        pwfile.write_text(SUPERUSER_PASSWORD + "\n")
        if self.os_user:
            account = pwd.getpwnam(self.os_user)
            for path in (self.root, self.root / "sock", pwfile):
                os.chown(path, account.pw_uid, account.pw_gid)
        self._run(
            "initdb",
            f"--pgdata={self.data}",
            f"--username={SUPERUSER}",
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )
        pwfile.unlink()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} "
            f"-c unix_socket_directories={self.root / 'sock'} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "start",
            "--wait",
            f"--pgdata={self.data}",
            f"--log={self.log}",
            f"--options={options}",
        )
        return self

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "stop", "--mode=immediate", f"--pgdata={self.data}", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, dbname: str = "postgres", password: str = SUPERUSER_PASSWORD) -> str:
        """A postgresql:// URL with the password percent-encoded, as operators write it."""
        return f"postgresql://{SUPERUSER}:{quote(password, safe='')}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        command = [str(self.bindir / tool), *args]
        if self.os_user:
            command = ["runuser", "-u", self.os_user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/")
        if check and done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise ClusterUnavailable(f"{tool} failed ({done.returncode}): {done.stderr}{log}")
