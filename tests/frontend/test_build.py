"""scripts/build-frontend with the platform's Vite config, on the fixture SPA (tests/frontend/spa).

What is served must hold no build-time VITE_* value and no source map, nor point at one; the
maps are kept beside the served folder; a prebuilt dist is taken as it is; a folder that is
neither fails without writing anything; the caller's checkout is left as it was.
"""

import hashlib
import re
import shutil
from pathlib import Path

from tests.frontend.build import (
    FIXTURE_DIR,
    build_fixture,
    fixture_files,
    run_build_script,
    sourcemaps_dir,
)

# Vite's default `[name]-[hash].[ext]` under assets/ (app/static_files.py FINGERPRINTED).
HASHED_ASSET = re.compile(r"^assets/[^/]+-[A-Za-z0-9_-]{8}\.(js|css)$")
LAZY_CHUNK = re.compile(r"^assets/Consultation-[A-Za-z0-9_-]{8}\.js$")
LEAKS = {
    "VITE_SUPABASE_URL": "https://leak.example",
    "VITE_SUPABASE_ANON_KEY": "leaked-anon-key-4f3a9c",  # pragma: allowlist secret
    "VITE_GOOGLE_API_KEY": "leaked-google-key-77d1e0",  # pragma: allowlist secret
    "VITE_N8N_WEBHOOK_URL": "https://n8n.leak.example/webhook/x",
    "VITE_GOOGLE_CLIENT_ID": "leaked-client-id.apps.googleusercontent.com",
    "VITE_APP_ENV": "leaked-environment",
}


def served_files(dist: Path) -> list[str]:
    return sorted(str(path.relative_to(dist)) for path in dist.rglob("*") if path.is_file())


def served_text(dist: Path) -> str:
    return "\n".join(path.read_text(errors="replace") for path in dist.rglob("*") if path.is_file())


def lazy_chunk(dist: Path) -> str:
    (chunk,) = [
        name for name in served_files(dist) if re.match(r"assets/Consultation-.*\.js$", name)
    ]
    return chunk


def copy_fixture(target: Path) -> None:
    for path in fixture_files():
        copied = target / path.relative_to(FIXTURE_DIR)
        copied.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copied)


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        if path.is_file()
        else "dir"
        for path in sorted(root.rglob("*"))
    }


def test_dist_has_index_and_fingerprinted_assets(fixture_dist):
    files = served_files(fixture_dist)
    assert "index.html" in files
    assets = [name for name in files if name.startswith("assets/")]
    assert assets, files
    assert all(HASHED_ASSET.match(name) for name in assets), assets
    # the entry, the lazy route's chunk, and a CSS file for each
    assert {name.rsplit(".", 1)[1] for name in assets} == {"js", "css"}
    assert len([name for name in assets if name.endswith(".css")]) == 2, assets
    index = (fixture_dist / "index.html").read_text()
    assert re.search(r'<script type="module"[^>]* src="/assets/index-[^"]+\.js"', index), index


def test_source_maps_are_beside_the_served_folder_not_in_it(fixture_dist):
    assert not [name for name in served_files(fixture_dist) if name.endswith(".map")]
    maps = served_files(sourcemaps_dir(fixture_dist))
    scripts = [name for name in served_files(fixture_dist) if name.endswith(".js")]
    assert sorted(maps) == sorted(f"{name}.map" for name in scripts)


def test_no_served_file_names_a_source_map(fixture_dist):
    assert "sourceMappingURL" not in served_text(fixture_dist)


def test_build_time_values_never_reach_the_bundle():
    dist = build_fixture("one", env=LEAKS)
    text = served_text(dist)
    for name, value in LEAKS.items():
        assert value not in text, f"{name}'s build-time value is in the build"
    assert "leak.example" not in served_text(sourcemaps_dir(dist))
    # every read goes to the runtime configuration instead
    assert "globalThis.__MIKO_ENV__?.VITE_SUPABASE_URL" in text
    assert "...globalThis.__MIKO_ENV__" in text  # `const { VITE_APP_ENV } = import.meta.env`
    assert "import.meta.env" not in text
    # what Vite knows at build time stays inlined
    assert "MODE:`production`" in text


def test_two_releases_differ_in_their_lazy_chunk(fixture_dist, fixture_dist_two):
    one, two = lazy_chunk(fixture_dist), lazy_chunk(fixture_dist_two)
    assert one != two
    assert "`one`" in (fixture_dist / one).read_text()
    assert "`two`" in (fixture_dist_two / two).read_text()


def test_a_prebuilt_dist_is_taken_as_it_is(fixture_dist, tmp_path):
    out = tmp_path / "out"
    result = run_build_script(fixture_dist, out)
    assert result.returncode == 0, result.stderr
    assert served_files(out) == served_files(fixture_dist)
    assert all(
        (out / name).read_bytes() == (fixture_dist / name).read_bytes()
        for name in served_files(out)
    )
    assert "warning" not in result.stderr


def test_a_prebuilt_dist_without_runtime_config_is_warned_about(tmp_path):
    built = tmp_path / "built"
    (built / "assets").mkdir(parents=True)
    (built / "index.html").write_text('<script type="module" src="/assets/a-Bc1dE2fG.js"></script>')
    (built / "assets" / "a-Bc1dE2fG.js").write_text('fetch("https://x.supabase.co")\n')
    (built / "assets" / "a-Bc1dE2fG.js.map").write_text("{}")
    out = tmp_path / "out"
    result = run_build_script(built, out)
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr
    assert "__MIKO_ENV__" in result.stderr
    assert served_files(out) == ["assets/a-Bc1dE2fG.js", "index.html"]
    assert served_files(sourcemaps_dir(out)) == ["assets/a-Bc1dE2fG.js.map"]


def test_a_folder_that_is_neither_fails_and_writes_nothing(tmp_path):
    empty = tmp_path / "not-an-app"
    empty.mkdir()
    (empty / "README.md").write_text("nothing to build\n")
    out = tmp_path / "out"
    result = run_build_script(empty, out)
    assert result.returncode != 0
    assert str(empty) in result.stderr
    assert "package.json" in result.stderr
    assert "index.html" in result.stderr
    assert not out.exists()
    assert not sourcemaps_dir(out).exists()


def test_a_non_empty_out_dir_is_refused(fixture_dist, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier build\n")
    result = run_build_script(fixture_dist, out)
    assert result.returncode != 0
    assert str(out) in result.stderr
    assert served_files(out) == ["stale.txt"]


def test_build_time_env_in_html_fails_the_build(tmp_path):
    """`%VITE_X%` in index.html is Vite's build-time replacement: refused, named."""
    source = tmp_path / "clinic"
    copy_fixture(source)
    index = source / "index.html"
    index.write_text(index.read_text().replace("<title>", "<title>%VITE_APP_TITLE% "))
    out = tmp_path / "out"
    result = run_build_script(source, out, {"VITE_APP_TITLE": "built-in"})
    assert result.returncode != 0
    assert "index.html uses %VITE_APP_TITLE%" in result.stderr
    assert not out.exists()


# A clinic config as many are written: TypeScript, a function of the command and mode, with its
# own sourcemap and outDir, which the platform's settings override.
CLINIC_TS_CONFIG = """\
import react from '@vitejs/plugin-react'
import { defineConfig, type UserConfig } from 'vite'

export default defineConfig(({ command, mode }): UserConfig => ({
  plugins: [react()],
  define: { __FIXTURE_RELEASE__: JSON.stringify(`${command}-${mode}`) },
  build: { sourcemap: true, outDir: 'build' },
}))
"""


def test_the_callers_source_is_left_unchanged(tmp_path):
    """A real build (npm ci, vite build) of a copy of the fixture, its config in TypeScript."""
    source = tmp_path / "clinic"
    copy_fixture(source)
    (source / "vite.config.js").unlink()
    (source / "vite.config.ts").write_text(CLINIC_TS_CONFIG)
    before = snapshot(source)
    out = tmp_path / "out"
    result = run_build_script(source, out, {"VITE_SUPABASE_URL": "https://leak.example"})
    assert result.returncode == 0, result.stderr
    assert snapshot(source) == before
    assert not (source / "node_modules").exists()
    assert not (source / "dist").exists()
    # the clinic's config was applied, and the platform's settings over it
    text = served_text(out)
    assert "`build-production`" in text
    assert "leak.example" not in text
    assert "sourceMappingURL" not in text
    assert not [name for name in served_files(out) if name.endswith(".map")]
    assert served_files(sourcemaps_dir(out))
