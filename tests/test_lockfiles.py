"""The lockfiles (`make lock`): complete, hashed, and current for their human-edited inputs.

Two locks, because the image and the dev environment resolve differently (README "Supply
chain"): app/requirements.lock from app/requirements.txt (the image), requirements-dev.lock
from requirements-dev.txt, which includes app/requirements.txt (`make setup`, CI).

Re-resolving a lock needs the package index, and so does `pip install --dry-run`, even with
`--no-deps`: nothing here can ask it. The checks are static, against the inputs and against the
metadata of the distributions installed in this environment (which `make setup` installed from
the dev lock): every requirement of every locked package, with the extras asked for, is itself
locked at a version that satisfies it, and the lock holds nothing else.
"""

import importlib.metadata
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

PROJECT = Path(__file__).resolve().parents[1]
LOCKS = {
    "image": (PROJECT / "app" / "requirements.txt", PROJECT / "app" / "requirements.lock"),
    "dev": (PROJECT / "requirements-dev.txt", PROJECT / "requirements-dev.lock"),
}
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(?P<version>[^\s;\\]+)")


@dataclass
class Entry:
    name: str
    version: str
    hashes: list[str]
    text: str


def entries(lock_text):
    """The lock's requirements, each with its continuation lines joined; comments dropped."""
    joined = re.sub(r"\s*\\\n\s*", " ", lock_text)
    found = []
    for line in joined.splitlines():
        text = line.split(" #", 1)[0].strip()
        if not text or text.startswith("#"):
            continue
        match = PIN.match(text)
        name = canonicalize_name(match["name"]) if match else text
        found.append(Entry(name, match["version"] if match else "", HASH.findall(text), text))
    return found


def lock_pins(lock):
    return {entry.name: entry.version for entry in entries(lock.read_text())}


def input_requirements(path):
    """The requirements of a .txt input, following its `-r` includes."""
    found = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            found += input_requirements(path.parent / line[3:].strip())
        else:
            found.append(Requirement(line))
    return found


def lock_problems(text):
    """What makes a lock unfit for `pip install --require-hashes`; empty when it is fit."""
    problems = []
    for entry in entries(text):
        if not PIN.match(entry.text):
            problems.append(f"not pinned with ==: {entry.text}")
        if not entry.hashes:
            problems.append(f"no hash: {entry.name}")
        if re.search(
            r"(://|\s@\s|^-e\b|^--(index-url|extra-index-url|find-links|trusted-host))", entry.text
        ):
            problems.append(f"URL, editable or index option: {entry.text}")
    names = [entry.name for entry in entries(text)]
    problems += [
        f"pinned twice: {name}" for name in sorted({n for n in names if names.count(n) > 1})
    ]
    return problems


@pytest.mark.parametrize("which", list(LOCKS))
def test_every_line_of_the_lock_is_pinned_with_a_hash(which):
    _, lock = LOCKS[which]
    assert lock_problems(lock.read_text()) == []
    assert len(entries(lock.read_text())) >= len(input_requirements(LOCKS[which][0]))


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("starlette==1.10.0\n", "no hash"),
        ("starlette>=1.10 \\\n    --hash=sha256:" + "0" * 64 + "\n", "not pinned"),
        ("app @ https://example.com/app.whl \\\n    --hash=sha256:" + "0" * 64 + "\n", "URL"),
        ("--index-url https://example.com/simple\n", "URL"),
    ],
)
def test_the_lock_check_catches_a_bad_line(bad, expected):
    _, lock = LOCKS["image"]
    problems = lock_problems(lock.read_text() + bad)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize("which", list(LOCKS))
def test_every_input_requirement_is_locked_at_its_pinned_version(which):
    requirements, lock = LOCKS[which]
    pins = lock_pins(lock)
    mismatched = {}
    for requirement in input_requirements(requirements):
        name = canonicalize_name(requirement.name)
        if name not in pins or not requirement.specifier.contains(pins[name], prereleases=True):
            mismatched[name] = (str(requirement.specifier), pins.get(name))
    assert mismatched == {}, "edit the .txt, then `make lock`"


def test_the_locks_agree_but_on_what_pulumi_caps():
    """The dev lock includes the image's inputs; only the protobuf line may resolve apart (the
    image's OpenTelemetry takes protobuf 7, pulumi holds the dev environment below 7)."""
    image, dev = lock_pins(LOCKS["image"][1]), lock_pins(LOCKS["dev"][1])
    assert set(image) <= set(dev)
    apart = {name for name in image if image[name] != dev[name]}
    assert apart <= {"protobuf", "googleapis-common-protos"}
    if "protobuf" in apart:
        assert Version(dev["protobuf"]) < Version("7") <= Version(image["protobuf"])


def closure(requirements, pins):
    """Walk the requirements through installed metadata: (locked names reached, problems)."""
    environment = {key: str(value) for key, value in default_environment().items()}
    reached: dict[str, set[str]] = {}
    problems = []
    pending = [(requirement, "input") for requirement in requirements]
    while pending:
        requirement, parent = pending.pop()
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{name} (needed by {parent}) is not locked")
            continue
        if not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{parent} needs {requirement}, the lock has {pins[name]}")
        extras = set(requirement.extras)
        if name in reached and extras <= reached[name]:
            continue
        reached[name] = reached.get(name, set()) | extras
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{name} is not installed here: run `make setup`")
            continue
        if Version(distribution.version) != Version(pins[name]):
            # Another resolution's version (the image's protobuf): its metadata is not here.
            continue
        for line in distribution.requires or []:
            dependency = Requirement(line)
            wanted = dependency.marker is None or any(
                dependency.marker.evaluate({**environment, "extra": extra})
                for extra in {"", *reached[name]}
            )
            if wanted:
                pending.append((dependency, f"{name}=={pins[name]}"))
    return set(reached), problems


@pytest.mark.parametrize("which", list(LOCKS))
def test_the_lock_is_closed_and_holds_nothing_else(which):
    requirements, lock = LOCKS[which]
    pins = lock_pins(lock)
    reached, problems = closure(input_requirements(requirements), pins)
    assert problems == []
    if which == "dev":
        assert set(pins) - reached == set(), "locked but needed by nothing: `make lock`"
    else:
        # The image's protobuf 7 line is not installed here, so what only it needs may go unseen.
        assert set(pins) - reached <= {"protobuf", "googleapis-common-protos"}


def test_the_closure_check_catches_a_missing_and_a_stale_pin():
    requirements, lock = LOCKS["dev"]
    pins = lock_pins(lock)
    without_anyio = {name: version for name, version in pins.items() if name != "anyio"}
    _, problems = closure(input_requirements(requirements), without_anyio)
    assert any(problem.startswith("anyio ") for problem in problems), problems
    stale = {**pins, "starlette": "0.1.0"}
    _, problems = closure(input_requirements(requirements), stale)
    assert any("the lock has 0.1.0" in problem for problem in problems), problems
