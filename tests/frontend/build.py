"""Builds the fixture SPA (tests/frontend/spa) with scripts/build-frontend, once per input.

A build takes seconds (npm ci, then Vite), so its output is kept under tests/frontend/.cache/,
in a folder named after a hash of everything that can change it: the fixture's files, its
lockfile, the platform's Vite config, the build script, the release and the extra environment.
A test session builds each release once, and a later session reuses the folder as long as none
of those inputs changed.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build-frontend"
PLATFORM_CONFIG = REPO_ROOT / "app" / "frontend" / "platform.vite.config.mjs"
FIXTURE_DIR = Path(__file__).resolve().parent / "spa"
CACHE_DIR = Path(__file__).resolve().parent / ".cache"
BUILD_TIMEOUT_SECONDS = 300
CACHE_KEEP_SECONDS = 7 * 24 * 3600
SKIPPED_NAMES = frozenset({"node_modules", "dist", ".git"})

BUILD_VARIABLES_PREFIXES = ("VITE_", "FIXTURE_", "MIKO_")
"""Variables of the test process that must not reach a build unless a test passes them."""


def fixture_files(root: Path = FIXTURE_DIR) -> Iterator[Path]:
    """The fixture's files as the build script copies them (no node_modules, dist, .git)."""
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if SKIPPED_NAMES.intersection(relative.parts) or not path.is_file():
            continue
        yield path


def build_key(release: str, env: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for path in [*fixture_files(), PLATFORM_CONFIG, BUILD_SCRIPT]:
        digest.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    digest.update(json.dumps({"release": release, "env": dict(sorted(env.items()))}).encode())
    return digest.hexdigest()[:16]


def build_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The test process's environment without VITE_*/FIXTURE_*/MIKO_* variables, plus `env`."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(BUILD_VARIABLES_PREFIXES)
    }
    return {**inherited, **env}


def run_build_script(
    source: Path, out_dir: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """scripts/build-frontend <source> <out_dir>, its output captured; does not check the code."""
    return subprocess.run(
        ["bash", str(BUILD_SCRIPT), str(source), str(out_dir)],
        env=build_environment(env or {}),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )


def sourcemaps_dir(out_dir: Path) -> Path:
    """Where scripts/build-frontend puts the source maps of <out_dir>."""
    return out_dir.with_name(out_dir.name + ".sourcemaps")


def build_fixture(release: str = "one", env: Mapping[str, str] | None = None) -> Path:
    """The fixture's served files for `release` (its maps beside it, see sourcemaps_dir)."""
    extra = {"FIXTURE_RELEASE": release, **(env or {})}
    cached = CACHE_DIR / build_key(release, extra)
    dist = cached / "dist"
    if (cached / "complete").is_file():
        (cached / "complete").touch()  # in use: kept by prune_cache
        return dist
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    # Built in a fresh folder and renamed into place: an interrupted build is never reused.
    scratch = Path(tempfile.mkdtemp(prefix="building-", dir=CACHE_DIR))
    try:
        result = run_build_script(FIXTURE_DIR, scratch / "dist", extra)
        if result.returncode != 0:
            raise RuntimeError(
                f"scripts/build-frontend failed ({result.returncode}):\n{result.stderr[-4000:]}"
            )
        (scratch / "build.log").write_text(result.stderr)
        (scratch / "complete").write_text(release + "\n")
        shutil.rmtree(cached, ignore_errors=True)
        scratch.rename(cached)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    prune_cache()
    return dist


def prune_cache(unused_for_seconds: float = CACHE_KEEP_SECONDS) -> None:
    """Removes builds no session has used for a while (their inputs have changed since)."""
    cutoff = time.time() - unused_for_seconds
    for entry in CACHE_DIR.iterdir():
        marker = entry / "complete"
        stamp = marker if marker.is_file() else entry
        if entry.is_dir() and stamp.stat().st_mtime < cutoff:
            shutil.rmtree(entry, ignore_errors=True)
