"""The CI secret scan passes a clean tree and fails on an added credential-looking string."""

import subprocess
import sys
from pathlib import Path

SCAN = Path(__file__).resolve().parents[2] / "scripts" / "scan_secrets.py"
DETECT_SECRETS = Path(sys.executable).with_name("detect-secrets")
# Assembled at run time so this file itself holds no credential-looking literal.
LEAK = "aws_secret_access_key = " + '"' + "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEYzz" + '"\n'


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def scan(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCAN)], cwd=repo, capture_output=True, text=True, check=False
    )


def test_a_clean_tree_passes_and_an_added_credential_fails(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "settings.py").write_text('REGION = "us-west-2"\n')
    baseline = subprocess.run(
        [str(DETECT_SECRETS), "scan", "settings.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (tmp_path / ".secrets.baseline").write_text(baseline)
    git(tmp_path, "add", "-A")

    assert scan(tmp_path).returncode == 0

    (tmp_path / "deploy.py").write_text(LEAK)
    result = scan(tmp_path)

    assert result.returncode == 1
    assert "Rotate it if it is real" in result.stderr


def test_a_reviewed_finding_that_moved_lines_still_passes_and_the_baseline_is_untouched(tmp_path):
    git(tmp_path, "init", "-q")
    reviewed = tmp_path / "fixture.py"
    reviewed.write_text(LEAK)
    (tmp_path / ".secrets.baseline").write_text(
        subprocess.run(
            [str(DETECT_SECRETS), "scan", "fixture.py"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    git(tmp_path, "add", "-A")
    committed = (tmp_path / ".secrets.baseline").read_text()
    reviewed.write_text('"""A docstring that moves the reviewed line down."""\n' + LEAK)

    assert scan(tmp_path).returncode == 0
    assert (tmp_path / ".secrets.baseline").read_text() == committed
