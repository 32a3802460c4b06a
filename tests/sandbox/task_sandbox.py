"""Runs a container of a rendered task definition the way ECS on Fargate runs it, in Linux
namespaces on this machine (bubblewrap and util-linux's setpriv and nsenter, from Debian).

What it takes from where:
- from the rendered container definition: the command, the user, `readonlyRootFilesystem`, the
  mount points and the task's volumes, the dropped and added capabilities, the environment, the
  secret names (their values are test values) and the health-check command;
- from `app/Dockerfile` (parsed with dockerfile-parse, final stage): ENV, WORKDIR, CMD, the `app`
  account of USER and the paths the image declares `VOLUME`;
- from Fargate's documentation: a task volume with no host path is created empty, owned by root
  with mode 0755, unless the image declares the mount path a VOLUME, in which case it starts
  with the image's directory (its content, owner and mode); ECS adds AWS_REGION,
  AWS_DEFAULT_REGION, AWS_EXECUTION_ENV and a task-role credentials endpoint to the environment;
  the health check runs inside the container (`CMD` directly, `CMD-SHELL` through /bin/sh).

How a task runs here: bwrap, started as root, builds a new mount, PID, IPC and UTS namespace
(and a network namespace of its own for a task that serves, like awsvpc's per-task interface)
over a read-only root; every volume is a fresh root-owned tmpfs with its documented mode. Inside,
setpriv switches to the container's uid and gid, drops supplementary groups and empties the
capability bounding set (Docker's defaults minus `drop`, plus `add`), then execs the command.
Because the uid change is a real one (no user namespace), a root-owned 0755 directory refuses
uid 10001 exactly as it does on Fargate.

What differs from the real image and task (written down in the README as well):
- the image's filesystem is approximated: this machine's /usr, /etc (plus the image's `app`
  account) and Python interpreter instead of the python:3.11-slim base, a virtualenv with
  app/requirements.lock installed alone instead of /opt/venv, the repository's app/ at /srv/app,
  the placeholder SPA at /srv/static, and this machine's pg_dump instead of PostgreSQL 17's;
- volumes are tmpfs, not Fargate's ephemeral disk, and there is no size limit or cgroup;
- a task that needs loopback services (PostgreSQL, moto) shares this machine's network
  namespace; AWS_ENDPOINT_URL points boto3 at moto, and the credentials come from a loopback
  stand-in of the task-role endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI, not the link-local
  RELATIVE_URI);
- no seccomp profile, no awslogs driver (the output is read from the pipe), no init process
  beyond bwrap's own PID 1 (ECS's initProcessEnabled runs tini, which also reaps and forwards).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockerfile_parse import DockerfileParser

from components.app_container import CONTAINER_NAME

REPOSITORY = Path(__file__).resolve().parents[2]
DOCKERFILE = REPOSITORY / "app" / "Dockerfile"

# Environment of the python:3.11-slim base image (its Dockerfile), which the app image extends.
BASE_IMAGE_ENV = {
    "PATH": "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
# Owner and mode of the base image's directories that the app image may declare a VOLUME:
# Debian's base-files ships /tmp as root:root 1777, and the python images keep it.
BASE_IMAGE_DIRECTORIES = {"/tmp": (0, 0, 0o1777)}
# Fargate's task volume without a host path, unless the image declares the path a VOLUME.
FARGATE_EMPTY_VOLUME = (0, 0, 0o755)
# Docker's default capability set (moby's oci/caps/defaults.go); `drop`/`add` change it.
DOCKER_DEFAULT_CAPABILITIES = (
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
)
# This machine's directories that stand in for the base image's (read-only).
HOST_SYSTEM_DIRECTORIES = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
IMAGE_VENV = "/opt/venv"
IMAGE_APP = "/srv/app"
IMAGE_STATIC = "/srv/static"


class SandboxUnavailable(RuntimeError):
    """bwrap, setpriv or nsenter is missing, or this process cannot create namespaces."""


def require_tools() -> None:
    missing = [tool for tool in ("bwrap", "setpriv", "nsenter") if shutil.which(tool) is None]
    if missing:
        raise SandboxUnavailable(
            f"{', '.join(missing)} not found: run scripts/install-system-deps (Debian packages "
            "bubblewrap and util-linux)"
        )
    if os.geteuid() != 0:
        # Without root, a user namespace maps only our own uid: root-owned volumes would
        # appear as `nobody` and the container's uid change could not be real.
        raise SandboxUnavailable("the task sandbox needs root (a real uid change to 10001)")


# --- the image, as app/Dockerfile describes it -----------------------------------------------


@dataclass(frozen=True)
class ImageAccount:
    name: str
    uid: int
    gid: int
    home: str
    shell: str


@dataclass(frozen=True)
class ImageModel:
    """The final stage of app/Dockerfile: what a container of the image starts with."""

    env: Mapping[str, str]
    workdir: str
    user: str
    cmd: tuple[str, ...]
    volumes: tuple[str, ...]
    account: ImageAccount

    @classmethod
    def from_dockerfile(
        cls, path: Path = DOCKERFILE, build_args: Mapping[str, str] | None = None
    ) -> ImageModel:
        parser = DockerfileParser(
            path=str(path), parent_env=dict(BASE_IMAGE_ENV), build_args=dict(build_args or {})
        )
        final = _final_stage(parser.structure)
        return cls(
            env={**BASE_IMAGE_ENV, **parser.envs},
            workdir=_last(final, "WORKDIR", default="/"),
            user=_last(final, "USER", default="0:0"),
            cmd=tuple(json.loads(_last(final, "CMD", default="[]"))),
            volumes=tuple(
                volume for entry in _all(final, "VOLUME") for volume in _volume_paths(entry)
            ),
            account=_account(" ".join(_all(final, "RUN"))),
        )

    def without_volumes(self) -> ImageModel:
        """The same image as if it declared no VOLUME (what the image was before the fix)."""
        return ImageModel(self.env, self.workdir, self.user, self.cmd, (), self.account)


def _final_stage(structure: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    stage: list[Mapping[str, Any]] = []
    for instruction in structure:
        if instruction["instruction"] == "FROM":
            stage = []
        stage.append(instruction)
    return stage


def _all(stage: Sequence[Mapping[str, Any]], name: str) -> list[str]:
    return [str(item["value"]) for item in stage if item["instruction"] == name]


def _last(stage: Sequence[Mapping[str, Any]], name: str, *, default: str) -> str:
    values = _all(stage, name)
    return values[-1] if values else default


def _volume_paths(value: str) -> list[str]:
    value = value.strip()
    if value.startswith("["):
        return [str(path) for path in json.loads(value)]
    return value.split()


def _account(run_lines: str) -> ImageAccount:
    """The account `groupadd` and `useradd` create in the image (its /etc/passwd line)."""
    group = re.search(r"groupadd\b[^&;]*?--gid\s+(\d+)\s+([a-z_][a-z0-9_-]*)", run_lines)
    user = re.search(r"useradd\b([^&;]*?)\s([a-z_][a-z0-9_-]*)\s*(?:&&|;|$)", run_lines)
    if group is None or user is None:
        raise ValueError(f"{DOCKERFILE}: no `groupadd --gid` and `useradd` in the final stage")
    options: dict[str, str] = dict(re.findall(r"(--[a-z-]+)\s+([^\s-]\S*)", user.group(1)))
    gid = options.get("--gid", group.group(1))
    return ImageAccount(
        name=user.group(2),
        uid=int(options["--uid"]),
        gid=int(group.group(1)) if gid == group.group(2) else int(gid),
        home=options.get("--home-dir", "/"),
        shell=options.get("--shell", "/bin/sh"),
    )


# --- the container, as the rendered task definition describes it ---------------------------


@dataclass(frozen=True)
class ContainerSpec:
    """One container of a rendered ECS task definition."""

    name: str
    command: tuple[str, ...]
    user: str
    readonly_root: bool
    mounts: tuple[tuple[str, str, bool], ...]
    """(volume name, container path, read only) per mount point."""
    volumes: Mapping[str, Mapping[str, Any]]
    """The task definition's volumes by name."""
    environment: Mapping[str, str]
    secret_names: tuple[str, ...]
    drop: tuple[str, ...]
    add: tuple[str, ...]
    health_check: tuple[str, ...]
    health_timeout: int
    region: str

    @classmethod
    def from_task_definition(cls, inputs: Mapping[str, Any]) -> ContainerSpec:
        """The task's main container: the only one, or the app's (CONTAINER_NAME) beside its
        sidecars (the trace collector, which the sandbox does not run)."""
        containers = json.loads(inputs["containerDefinitions"])
        if len(containers) == 1:
            [container] = containers
        else:
            [container] = [c for c in containers if c["name"] == CONTAINER_NAME]
        capabilities = container.get("linuxParameters", {}).get("capabilities", {})
        health = container.get("healthCheck", {})
        return cls(
            name=container["name"],
            command=tuple(container.get("command", ())),
            user=container.get("user", ""),
            readonly_root=bool(container.get("readonlyRootFilesystem", False)),
            mounts=tuple(
                (m["sourceVolume"], m["containerPath"], bool(m.get("readOnly", False)))
                for m in container.get("mountPoints", ())
            ),
            volumes={volume["name"]: volume for volume in inputs.get("volumes", ())},
            environment={item["name"]: item["value"] for item in container["environment"]},
            secret_names=tuple(item["name"] for item in container.get("secrets", ())),
            drop=tuple(capabilities.get("drop", ())),
            add=tuple(capabilities.get("add", ())),
            health_check=tuple(health.get("command", ())),
            health_timeout=int(health.get("timeout", 5)),
            region=container["logConfiguration"]["options"]["awslogs-region"],
        )


def bounding_set(spec: ContainerSpec) -> str:
    """setpriv's --bounding-set argument: Docker's defaults, minus `drop`, plus `add`."""
    kept = set(DOCKER_DEFAULT_CAPABILITIES)
    if "ALL" in spec.drop:
        kept.clear()
    kept -= set(spec.drop)
    kept |= set(spec.add) - {"ALL"}
    return ",".join(["-all", *(f"+{cap.lower()}" for cap in sorted(kept))])


def _ids(user: str) -> tuple[int, int]:
    uid, _, gid = user.partition(":")
    if not uid.isdigit() or (gid and not gid.isdigit()):
        raise ValueError(f"container user {user!r}: the sandbox takes numeric uid[:gid]")
    return int(uid), int(gid or uid)


# --- the image's filesystem, approximated ----------------------------------------------------


@dataclass(frozen=True)
class ImageFilesystem:
    """The directories that stand in for the image's /opt/venv, /srv/app and /srv/static."""

    venv: Path
    app: Path = REPOSITORY / "app"
    static: Path = REPOSITORY / "app" / "static"

    @property
    def interpreter_prefix(self) -> Path:
        """The base Python the venv links to, mounted at its own path (the venv needs it)."""
        home = (self.venv / "pyvenv.cfg").read_text().split("home = ", 1)[1].splitlines()[0]
        return Path(home).parent


def image_venv(cache: Path, requirements: Path = REPOSITORY / "app" / "requirements.lock") -> Path:
    """A virtualenv with the image's locked runtime set only, made once per lock."""
    digest = _digest(requirements.read_bytes() + sys.version.encode())
    venv = cache / f"image-venv-{digest}"
    if (venv / ".complete").exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    subprocess.run([str(base_python), "-m", "venv", str(venv)], check=True)
    installed = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--require-hashes",  # as the image's builder stage installs them
            "--only-binary=:all:",
            "-r",
            str(requirements),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if installed.returncode != 0:
        raise SandboxUnavailable(f"installing {requirements} failed: {installed.stderr[-3000:]}")
    (venv / ".complete").touch()
    return venv


def _digest(data: bytes) -> str:
    import hashlib  # noqa: PLC0415

    return hashlib.sha256(data).hexdigest()[:12]


# --- running a container ------------------------------------------------------------------------


@dataclass
class TaskSandbox:
    """One container of a task, ready to start (`start`) or run to its end (`run`)."""

    spec: ContainerSpec
    image: ImageModel
    filesystem: ImageFilesystem
    secrets: Mapping[str, str]
    """A test value for every secret the container definition names."""
    own_network: bool = False
    """A network namespace of its own (awsvpc); False shares this machine's loopback."""
    ecs_injected: Mapping[str, str] = field(default_factory=dict)
    """What ECS adds (credentials endpoint...), beyond the region variables."""
    overrides: Mapping[str, str] = field(default_factory=dict)
    """Test changes to the rendered environment (each one named in the calling test)."""
    process: subprocess.Popen[str] | None = field(default=None, init=False)
    _workdir: Path | None = field(default=None, init=False)
    _init_pid: int | None = field(default=None, init=False)

    def environment(self) -> dict[str, str]:
        """Docker's order: image ENV, then the definition's environment, then its secrets."""
        missing = sorted(set(self.spec.secret_names) - set(self.secrets))
        if missing:
            raise ValueError(f"no test value for the secret(s) {missing}")
        return {
            **self.image.env,
            "HOSTNAME": f"sandbox-{self.spec.name}",
            **self.spec.environment,
            **{name: self.secrets[name] for name in self.spec.secret_names},
            "AWS_REGION": self.spec.region,
            "AWS_DEFAULT_REGION": self.spec.region,
            "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE",
            **self.ecs_injected,
            **self.overrides,
        }

    def argv(self, command: Sequence[str] | None = None, info_fd: int | None = None) -> list[str]:
        if not self.spec.readonly_root:
            raise ValueError(f"{self.spec.name}: the sandbox models read-only roots only")
        assert self._workdir is not None
        arguments = [
            "bwrap",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            *(["--unshare-net"] if self.own_network else []),
            *(["--info-fd", str(info_fd)] if info_fd is not None else []),
            "--die-with-parent",
            "--hostname",
            f"sandbox-{self.spec.name}",
        ]
        for directory in HOST_SYSTEM_DIRECTORIES:
            if os.path.lexists(directory):
                arguments += _mirror(directory)
        arguments += ["--ro-bind", "/etc", "/etc"]
        for name in ("passwd", "group"):
            arguments += ["--ro-bind", str(self._workdir / name), f"/etc/{name}"]
        prefix = str(self.filesystem.interpreter_prefix)
        image_paths = {
            prefix: prefix,
            IMAGE_VENV: str(self.filesystem.venv),
            IMAGE_APP: str(self.filesystem.app),
            IMAGE_STATIC: str(self.filesystem.static),
        }
        # bwrap would create the parents of a mount point 0700; the image's are 0755.
        for parent in _parents([*image_paths, self.image.workdir]):
            arguments += ["--perms", "0755", "--dir", parent]
        for target, source in image_paths.items():
            arguments += ["--ro-bind", source, target]
        arguments += ["--proc", "/proc", "--dev", "/dev"]
        for volume, path, read_only in self.spec.mounts:
            arguments += self._volume(volume, path, read_only)
        arguments += ["--remount-ro", "/", "--chdir", self.image.workdir]
        # setpriv needs these three to change ids and empty the bounding set; they are gone
        # (from every set) once it execs the command as the container's user.
        for capability in ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"):
            arguments += ["--cap-add", capability]
        arguments += [*self._as_container_user(), *(command or self.spec.command or self.image.cmd)]
        return arguments

    def _as_container_user(self) -> list[str]:
        """setpriv: the container's uid and gid, no supplementary groups, its capabilities."""
        uid, gid = _ids(self.spec.user or self.image.user)
        return [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={gid}",
            "--clear-groups",
            f"--bounding-set={bounding_set(self.spec)}",
            "--inh-caps=-all",
            "--",
        ]

    def _volume(self, volume: str, path: str, read_only: bool) -> list[str]:
        definition = self.spec.volumes.get(volume)
        if definition is None:
            raise ValueError(f"mount point {path}: the task has no volume {volume!r}")
        if definition.get("host") or definition.get("efsVolumeConfiguration"):
            raise ValueError(f"volume {volume!r}: only task-local volumes are modelled")
        owner_mode = BASE_IMAGE_DIRECTORIES.get(path) if path in self.image.volumes else None
        if path in self.image.volumes and owner_mode is None:
            raise ValueError(f"the image declares VOLUME {path}: add its owner and mode here")
        uid, gid, mode = owner_mode or FARGATE_EMPTY_VOLUME
        if (uid, gid) != (0, 0):
            raise ValueError("bwrap creates volumes as root only")
        return [
            "--perms",
            f"{mode:04o}",
            "--tmpfs",
            path,
            *(["--remount-ro", path] if read_only else []),
        ]

    @contextmanager
    def _prepared(self) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="miko-sandbox-") as directory:
            workdir = Path(directory)
            account = self.image.account
            passwd = Path("/etc/passwd").read_text()
            group = Path("/etc/group").read_text()
            (workdir / "passwd").write_text(
                passwd
                + f"{account.name}:x:{account.uid}:{account.gid}::{account.home}:{account.shell}\n"
            )
            (workdir / "group").write_text(group + f"{account.name}:x:{account.gid}:\n")
            self._workdir = workdir
            yield workdir

    def _spawn(self, command: Sequence[str] | None) -> subprocess.Popen[str]:
        # Files, not pipes: like the awslogs driver, nothing the container writes can block it.
        assert self._workdir is not None
        read_info, write_info = os.pipe()
        try:
            with (
                open(self._workdir / "stdout", "w") as stdout,
                open(self._workdir / "stderr", "w") as stderr,
            ):
                process = subprocess.Popen(
                    self.argv(command, info_fd=write_info),
                    env=self.environment(),
                    stdout=stdout,
                    stderr=stderr,
                    text=True,
                    pass_fds=(write_info,),
                )
        finally:
            os.close(write_info)
        with os.fdopen(read_info) as info:
            document = info.read()
        if document.strip():
            self._init_pid = int(json.loads(document)["child-pid"])
        return process

    def run(self, command: Sequence[str] | None = None, timeout: float = 120) -> Completed:
        """Runs the container's command (or `command`) to its end."""
        require_tools()
        with self._prepared():
            process = self._spawn(command)
            try:
                process.wait(timeout=timeout)
            finally:
                process.kill()
            return self._completed(process)

    def _completed(self, process: subprocess.Popen[str]) -> Completed:
        assert self._workdir is not None
        return Completed(
            process.returncode,
            (self._workdir / "stdout").read_text(errors="replace"),
            (self._workdir / "stderr").read_text(errors="replace"),
        )

    @contextmanager
    def running(self) -> Iterator[TaskSandbox]:
        """Starts the container's command; stops it (SIGTERM, then SIGKILL) on exit."""
        require_tools()
        with self._prepared():
            self.process = self._spawn(None)
            try:
                # bwrap's init forks the command right after it reports its PID.
                self.wait_until(self.command_pids, timeout=10, interval=0.02)
                yield self
            finally:
                self.stop()

    def stop(self, grace: float = 10) -> Completed:
        assert self.process is not None
        if self.process.poll() is None:
            for pid in self.command_pids():
                os.kill(pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait(timeout=grace)
        return self._completed(self.process)

    def command_pids(self) -> list[int]:
        """Host PIDs of the container's main process (the children of bwrap's PID 1)."""
        if self._init_pid is None:
            return []
        return _children(self._init_pid)

    def processes(self) -> list[int]:
        """Host PIDs of every process of the container but bwrap's own init."""
        found: list[int] = []
        pending = self.command_pids()
        while pending:
            pid = pending.pop()
            found.append(pid)
            pending += _children(pid)
        return found

    def exec(self, command: Sequence[str], timeout: float = 30) -> Completed:
        """`command` inside the running container, as its user, with its environment and
        capabilities: how ECS runs the health check (and `docker exec` a command)."""
        [main, *_] = self.command_pids() or [0]
        if not main:
            raise RuntimeError(f"{self.spec.name} is not running")
        argv = [
            "nsenter",
            f"--target={main}",
            "--mount",
            "--pid",
            "--ipc",
            "--uts",
            "--net",
            f"--wd={self.image.workdir}",
            *self._as_container_user(),
            *command,
        ]
        done = subprocess.run(
            argv,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Completed(done.returncode, done.stdout, done.stderr)

    def health_check(self) -> Completed:
        """The definition's healthCheck command, as ECS runs it in the container."""
        kind, *rest = self.spec.health_check
        if kind == "CMD":
            command = rest
        elif kind == "CMD-SHELL":
            command = ["/bin/sh", "-c", " ".join(rest)]
        else:
            raise ValueError(f"{self.spec.name}: healthCheck.command starts with {kind!r}")
        return self.exec(command, timeout=self.spec.health_timeout)

    def wait_until(self, ready: Any, timeout: float = 30, interval: float = 0.2) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                output = self._completed(self.process)
                raise RuntimeError(
                    f"{self.spec.name} exited {output.returncode}: {output.stderr[-4000:]}"
                )
            if ready():
                return
            time.sleep(interval)
        raise TimeoutError(f"{self.spec.name} not ready within {timeout} s")


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str


def _mirror(directory: str) -> list[str]:
    """A host system directory, read-only: as a symlink where this machine has one (usrmerge)."""
    if os.path.islink(directory):
        return ["--symlink", os.readlink(directory), directory]
    return ["--ro-bind", directory, directory]


def _parents(paths: Sequence[str]) -> list[str]:
    """Every ancestor directory of `paths` (shallowest first), but the root."""
    found: set[str] = set()
    for path in paths:
        found.update(str(parent) for parent in Path(path).parents if str(parent) != "/")
    return sorted(found, key=lambda p: (p.count("/"), p))


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]
