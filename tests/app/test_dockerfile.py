"""app/Dockerfile: hadolint is clean and the image has the structure the issue asks for.

No Docker engine exists where these tests run: they read the Dockerfile, they do not build it.
Each structural rule is also run against a broken Dockerfile to show it catches the bad case.
"""

import json
import os
import re
import shlex
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
APP = PROJECT / "app"
DOCKERFILE = APP / "Dockerfile"
# The build context is the project (components/image.py), so its ignore file is at the root.
DOCKERIGNORE = PROJECT / ".dockerignore"
HADOLINT = Path(sys.executable).parent / "hadolint"

PINNED_BASE = re.compile(
    r"^(python:3\.11\.\d+-slim-trixie|node:\d+\.\d+\.\d+-trixie-slim)(@sha256:[0-9a-f]{64})?$"
)
COMPILERS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|make|[\w.+-]+-dev)\b")
REQUIRED_ENV = {
    "APP_ENV": "production",
    "HOST": "0.0.0.0",  # noqa: S104 - the container listens on its own interface
    "PORT": "8080",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
}


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, keyword):
        return [arguments for name, arguments in self.instructions if name == keyword]


def parse_stages(text):
    """Stages of a Dockerfile, each with its (INSTRUCTION, arguments) after line continuations."""
    joined = re.sub(r"\\\n", " ", text)
    stages = []
    for line in joined.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, arguments = stripped.partition(" ")
        keyword, arguments = keyword.upper(), arguments.strip()
        if keyword == "FROM":
            words = arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        else:
            stages[-1].instructions.append((keyword, arguments))
    return stages


def env_values(stage):
    values = {}
    for arguments in stage.arguments("ENV"):
        for pair in shlex.split(arguments):
            key, _, value = pair.partition("=")
            values[key] = value
    return values


def exec_form(arguments):
    """The argument list of an exec-form instruction, or None for shell form."""
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, list) else None


def healthcheck_command(stage):
    (arguments,) = stage.arguments("HEALTHCHECK")
    options_and_command = re.split(r"(?:^|\s)CMD\s+", arguments, maxsplit=1)
    return exec_form(options_and_command[-1]) if len(options_and_command) == 2 else None


def violations(text):
    """What the image structure rules find wrong in a Dockerfile; empty when it complies."""
    stages = parse_stages(text)
    final = stages[-1]
    found = []
    if len(stages) < 2 or not final.arguments("COPY"):
        found.append("not multi-stage")
    found += [f"unpinned base {s.base}" for s in stages if not PINNED_BASE.match(s.base)]
    users = final.arguments("USER")
    if not users or users[-1].split(":")[0] in ("0", "root"):
        found.append("final stage runs as root")
    installs = " ".join(run for run in final.arguments("RUN") if "install" in run)
    if COMPILERS.search(installs):
        found.append("compiler in final stage")
    if "postgresql-client" not in installs:
        found.append("no postgresql-client for pg_dump")
    if exec_form(" ".join(final.arguments("CMD"))) != ["python", "-m", "app", "serve"]:
        found.append("CMD is not exec-form `python -m app serve`")
    health = final.arguments("HEALTHCHECK")
    probe = healthcheck_command(final) if health else None
    if probe is None:
        found.append("no exec-form HEALTHCHECK")
    elif {"curl", "wget"} & set(" ".join(probe).replace("/", " ").split()):
        found.append("HEALTHCHECK needs curl or wget")
    env = env_values(final)
    found += [
        f"ENV {key} is not {value}" for key, value in REQUIRED_ENV.items() if env.get(key) != value
    ]
    if "8080" not in final.arguments("EXPOSE"):
        found.append("port 8080 not exposed")
    if not any(copy.startswith("--from=frontend ") for copy in final.arguments("COPY")):
        found.append("the front end is not built in its own stage")
    if final.base.startswith("node") or "npm" in " ".join(final.arguments("RUN")):
        found.append("Node in the final stage")
    return found


def test_hadolint_reports_nothing():
    result = subprocess.run(
        [str(HADOLINT), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_hadolint_does_report_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install gcc\nCMD python app.py\n")
    result = subprocess.run([str(HADOLINT), str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "DL3007" in result.stdout


def test_the_dockerfile_follows_the_image_rules():
    assert violations(DOCKERFILE.read_text()) == []


def test_the_final_stage_is_named_and_copies_from_the_builder():
    stages = parse_stages(DOCKERFILE.read_text())
    assert [stage.name for stage in stages] == ["frontend", "builder", "runtime"]
    copies = stages[-1].arguments("COPY")
    assert any(copy.startswith("--from=builder /opt/venv") for copy in copies)
    assert not any("pip install" in run for run in stages[-1].arguments("RUN"))


def builder_install_violations(text):
    """What is wrong with how the builder installs the runtime dependencies; empty when right."""
    (builder,) = [stage for stage in parse_stages(text) if stage.name == "builder"]
    found = []
    copies = [copy.split() for copy in builder.arguments("COPY")]
    locks = [words[-1] for words in copies if words[:-1] == ["app/requirements.lock"]]
    if not locks:
        found.append("the lock is not copied in")
    if any(word.endswith("requirements.txt") for words in copies for word in words):
        found.append("the unlocked requirements.txt is copied in")
    installs = [run for run in builder.arguments("RUN") if "pip install" in run]
    if len(installs) != 1:
        found.append(f"{len(installs)} pip install lines, not 1")
    for run in installs:
        words = run.split()
        if "--require-hashes" not in words:
            found.append("install without --require-hashes")
        if "--only-binary=:all:" not in words:
            found.append("install without --only-binary=:all:")
        arguments = words[words.index("install") + 1 :]
        requirement_files = [arguments[i + 1] for i, word in enumerate(arguments) if word == "-r"]
        packages = [word for word in arguments if not word.startswith("-")]
        if not locks or requirement_files != locks or packages != requirement_files:
            found.append("install not from the lock alone")
    return found


def test_the_builder_installs_the_lock_with_hashes():
    assert builder_install_violations(DOCKERFILE.read_text()) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("--require-hashes ", "", "install without --require-hashes"),
        ("--only-binary=:all: ", "", "install without --only-binary=:all:"),
        ("app/requirements.lock", "app/requirements.txt", "the lock is not copied in"),
        ("-r /tmp/requirements.lock", "-r /tmp/requirements.lock pytest", "not from the lock"),
        ("-r /tmp/requirements.lock", "-r /tmp/other.txt", "install not from the lock alone"),
    ],
)
def test_the_builder_install_check_catches_a_bad_line(old, new, expected):
    good = DOCKERFILE.read_text()
    broken = good.replace(old, new)
    assert broken != good, f"the mutation for {expected!r} did not apply"
    assert any(expected in found for found in builder_install_violations(broken))


GOOD = DOCKERFILE.read_text()
BROKEN = {
    "unpinned base python:3.11-slim": GOOD.replace(
        "python:3.11.15-slim-trixie", "python:3.11-slim"
    ),
    "final stage runs as root": GOOD.replace("USER 10001:10001", "USER root"),
    "compiler in final stage": GOOD.replace(
        '"postgresql-client-17=17.*"', '"postgresql-client-17=17.*" build-essential'
    ),
    "CMD is not exec-form": GOOD.replace(
        'CMD ["python", "-m", "app", "serve"]', "CMD python -m app serve"
    ),
    "HEALTHCHECK needs curl": re.sub(
        r"HEALTHCHECK .*?\]\n",
        'HEALTHCHECK CMD ["curl", "-f", "http://127.0.0.1:8080/health"]\n',
        GOOD,
        flags=re.DOTALL,
    ),
    "ENV APP_ENV": GOOD.replace("APP_ENV=production", "APP_ENV=development"),
    "no postgresql-client": GOOD.replace('"postgresql-client-17=17.*"', "ca-certificates"),
    "unpinned base node:22-slim": GOOD.replace("node:22.21.1-trixie-slim", "node:22-slim"),
    "the front end is not built in its own stage": GOOD.replace(
        "COPY --from=frontend /frontend /srv/static", "COPY app/static /srv/static"
    ),
    "Node in the final stage": GOOD.replace(
        "WORKDIR /srv\n", "WORKDIR /srv\nRUN npm ci --prefix /srv/static\n"
    ),
}


@pytest.mark.parametrize("expected", list(BROKEN))
def test_each_rule_catches_its_bad_case(expected):
    broken = BROKEN[expected]
    assert broken != GOOD, f"the mutation for {expected!r} did not apply"
    assert any(found.startswith(expected) for found in violations(broken)), violations(broken)


def test_requirements_hold_no_pulumi_or_test_tools():
    lines = (APP / "requirements.txt").read_text().lower().splitlines()
    packages = {re.split(r"[\[=<>~ ]", line, maxsplit=1)[0] for line in lines}
    assert "starlette" in packages
    assert not packages & {"pulumi", "pytest", "moto", "hypothesis", "schemathesis", "ruff", "mypy"}
    assert not any(package.startswith("pulumi") for package in packages)


@pytest.mark.parametrize(
    "pattern",
    [".git", "tests", "**/__pycache__", ".venv", "**/.env", "**/node_modules", "Pulumi*.yaml"],
)
def test_dockerignore_excludes(pattern):
    patterns = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    assert pattern in patterns


class HealthHandler(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        self.send_response(self.status if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, format, *args):
        return


@pytest.mark.network
@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_the_healthcheck_command_probes_health_on_port(status, healthy):
    handler = type("Handler", (HealthHandler,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        command = healthcheck_command(parse_stages(DOCKERFILE.read_text())[-1])
        environment = {**os.environ, "PORT": str(server.server_address[1])}
        result = subprocess.run(
            [sys.executable, *command[1:]],
            env=environment,
            capture_output=True,
            timeout=20,
            check=False,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert command[0] == "python"
    assert (result.returncode == 0) is healthy
