"""A scratch Pulumi project and a stand-in `pulumi` that records its arguments and stdin."""

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_YAML = """\
name: miko-platform
runtime: python
config:
  supabaseAnonKey:
    type: string
    secret: true
  googleApiKey:
    type: string
    secret: true
  owner:
    type: string
    default: platform-team
"""

STAND_IN = textwrap.dedent(
    """\
    #!{python}
    # Stand-in for the pulumi CLI: `config get` and `config set [--secret]` on Pulumi.<stack>.yaml.
    import json, os, sys
    import yaml

    argv = sys.argv[1:]
    stdin = "" if sys.stdin.isatty() else sys.stdin.read()
    with open(os.environ["PULUMI_STAND_IN_LOG"], "a") as log:
        log.write(json.dumps({{"argv": argv, "stdin": stdin}}) + "\\n")
    stack = argv[argv.index("--stack") + 1]
    words = [w for i, w in enumerate(argv) if w != "--stack" and argv[i - 1] != "--stack"]
    path = f"Pulumi.{{stack}}.yaml"
    doc = yaml.safe_load(open(path)) or {{}}
    config = doc.setdefault("config", {{}})
    key = "miko-platform:" + [w for w in words[2:] if not w.startswith("--")][0]
    if words[:2] == ["config", "get"]:
        if key not in config:
            sys.exit(f"error: configuration key '{{key}}' not found for stack '{{stack}}'")
        value = config[key]
        print(value["secure"].removeprefix("enc:") if isinstance(value, dict) else value)
    elif words[:2] == ["config", "set"]:
        positional = [w for w in words[2:] if not w.startswith("--")]
        value = positional[1] if len(positional) > 1 else stdin
        config[key] = {{"secure": "enc:" + value}} if "--secret" in words else value
        yaml.safe_dump(doc, open(path, "w"))
    else:
        sys.exit("stand-in pulumi: unsupported " + " ".join(argv))
    """
)


@dataclass
class ScratchProject:
    directory: Path
    log: Path
    env: dict[str, str]

    def stack_files(self) -> dict[str, bytes]:
        return {path.name: path.read_bytes() for path in self.directory.glob("Pulumi.*.yaml")}

    def calls(self) -> list[dict[str, object]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def rotate(self, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "secret_rotation", "--project-dir", str(self.directory)]
        return subprocess.run(
            [*command, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
            timeout=60,
        )


@pytest.fixture
def project(tmp_path: Path) -> ScratchProject:
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / "Pulumi.yaml").write_text(PROJECT_YAML)
    (directory / "Pulumi.staging.yaml").write_text(
        "config:\n  miko-platform:supabaseAnonKey:\n    secure: enc:staging-anon-old\n"
    )
    (directory / "Pulumi.prod.yaml").write_text(
        "config:\n  miko-platform:supabaseAnonKey:\n    secure: enc:prod-anon-current\n"
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "pulumi"
    stand_in.write_text(STAND_IN.format(python=sys.executable))
    stand_in.chmod(0o755)
    log = tmp_path / "pulumi-calls.jsonl"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PULUMI_STAND_IN_LOG": str(log),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    return ScratchProject(directory=directory, log=log, env=env)
