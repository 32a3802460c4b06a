"""`make run [FRONTEND=<SPA source or dist>] [STACK=staging|prod]`: the service on 127.0.0.1:8080.

With FRONTEND, the SPA is built exactly as the image builds it (scripts/build-frontend: npm ci,
its build script, the platform's Vite settings, source maps kept out) and served under the
headers production sends: the runtime-config routes, plain browser values and CSP mode come from
the stack's Pulumi.<stack>.yaml through the same functions the program uses, and the headers from
the same function the app and the edge use. The routed secret values (SUPABASE_URL, ...) come
from your own environment, as they would from Secrets Manager: nothing is read from the stack's
secrets. APP_ENV stays `development`, so nothing else is required.
"""

import argparse
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import yaml

from components.app_container import browser_environment
from config.sections import FrontendSettings

PROJECT = Path(__file__).resolve().parent.parent
BUILD_CACHE = PROJECT / ".frontend-build"
CONFIG_PREFIX = "miko-platform:"


def stack_frontend(stack: str) -> FrontendSettings:
    """The stack's frontend section, read from its committed stack file."""
    document = yaml.safe_load((PROJECT / f"Pulumi.{stack}.yaml").read_text())
    flat = {key.removeprefix(CONFIG_PREFIX): value for key, value in document["config"].items()}
    return FrontendSettings.model_validate(flat)


def build(frontend: Path) -> Path:
    """The served directory for a source or dist, built once per content (cached by digest)."""
    if not frontend.is_dir():
        raise SystemExit(f"FRONTEND={frontend}: not a directory")
    digest = hashlib.sha256()
    for path in sorted(frontend.rglob("*")):
        relative = path.relative_to(frontend)
        if path.is_file() and not {"node_modules", "dist", ".git"} & set(relative.parts):
            digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes())
    out = BUILD_CACHE / digest.hexdigest()[:16]
    if not out.is_dir():
        script = PROJECT / "scripts" / "build-frontend"
        subprocess.run(["bash", str(script), str(frontend), str(out)], check=True)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frontend", type=Path, help="SPA source (package.json) or dist")
    parser.add_argument("--stack", default="staging", help="stack whose browser config to use")
    args = parser.parse_args(argv)
    environment = dict(os.environ)
    environment.update(browser_environment(stack_frontend(args.stack)))
    if args.frontend is not None:
        environment["STATIC_DIR"] = str(build(args.frontend.resolve()))
    command = [sys.executable, "-m", "app", "serve"]
    print(f"serving {environment.get('STATIC_DIR', 'the placeholder')} with {args.stack}'s headers")
    return subprocess.run(command, env=environment, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
