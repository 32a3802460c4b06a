"""The offline plan end to end: `python -m plan` in a scratch copy of the project.

The copy is a git repository of its own, so `--base HEAD` renders the committed program and the
tests change the working tree the way a pull request would.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plan.cli import main
from plan.project import PROJECT_DIR

TASK_RULE_FROM_ALB = (
    'self._port_rule(aws.vpc.SecurityGroupIngressRule, "tasks-from-alb", tasks, APP_PORT, alb)'
)
TASK_RULE_FROM_ANYWHERE = """aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-tasks-from-anywhere",
            security_group_id=tasks.id,
            ip_protocol="tcp",
            from_port=APP_PORT,
            to_port=APP_PORT,
            cidr_ipv4="0.0.0.0/0",
            opts=self._child,
        )"""
# Values a CI job may have in its environment or stack files; none may reach the output.
SECRET_ENVIRONMENT = {
    "PULUMI_CONFIG_PASSPHRASE": "passphrase-9d3e1a",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-77c2b0",  # pragma: allowlist secret
    "CLOUDFLARE_API_TOKEN": "cloudflare-token-51aa0f",
}
STACK_FILE_CIPHERTEXT = "v1:ciphertext-of-the-anon-key-3f0c"


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def scratch_project(tmp_path: Path) -> Path:
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for relative in filter(None, listing.split("\0")):
        source = PROJECT_DIR / relative
        if source.is_file():
            target = tmp_path / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
    return tmp_path


def run_plan(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plan", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, **SECRET_ENVIRONMENT},
        check=False,
        timeout=300,
    )


def test_the_committed_stack_plans_clean_and_writes_the_same_content_as_json(tmp_path, capsys):
    json_path = tmp_path / "prod.json"
    assert main(["--stack", "prod", "--json", str(json_path)]) == 0
    text = capsys.readouterr().out
    document = json.loads(json_path.read_text())
    assert text.rstrip().endswith(document["summary"])
    assert "0 mandatory and 0 advisory policy violations" in document["summary"]
    assert len(document["resources"]) == int(document["summary"].split(": ")[1].split()[0])
    # prod promotes staging's image: the plan shows the release staging's own rendering exports.
    release = document["release"]
    assert release["source"] == "promoted from stack staging"
    assert "/miko-staging-app@sha256:" in release["image"]
    assert f"image: {release['image']}" in text


def test_an_unknown_stack_is_refused(capsys):
    assert main(["--stack", "production"]) == 2
    assert "unknown stack 'production'; known: prod, staging" in capsys.readouterr().err


def test_opening_the_task_security_group_shows_in_the_diff_and_is_blocked(scratch_project):
    network = scratch_project / "components" / "network.py"
    source = network.read_text()
    assert TASK_RULE_FROM_ALB in source
    network.write_text(source.replace(TASK_RULE_FROM_ALB, TASK_RULE_FROM_ANYWHERE))

    result = run_plan(scratch_project, "--stack", "staging", "--base", "HEAD")

    assert result.returncode == 1, result.stderr
    out = result.stdout
    diff = out[out.index("Diff against HEAD:") :]
    assert "+ aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule" in diff
    assert "::network-tasks-from-anywhere" in diff
    assert "- aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule" in diff
    assert "::network-tasks-from-alb" in diff
    assert "[mandatory] security-group-no-public-ingress" in out
    blocked = next(line for line in out.splitlines() if "security-group-no-public-ingress" in line)
    assert "network-tasks-from-anywhere" in blocked
    assert "1 to add, 0 to change, 1 to remove" in out.splitlines()[-1]


def test_a_config_mistake_fails_the_plan_naming_the_key(scratch_project):
    stack_file = scratch_project / "Pulumi.staging.yaml"
    stack_file.write_text(stack_file.read_text() + "  miko-platform:taskMemory: 4096\n")

    result = run_plan(scratch_project, "--stack", "staging")

    assert result.returncode == 2
    assert "taskMemory: taskCpu 256 with taskMemory 4096 MiB is not a Fargate size" in result.stderr


def test_the_plan_never_prints_or_writes_a_secret_it_was_given(scratch_project):
    stack_file = scratch_project / "Pulumi.prod.yaml"
    stack_file.write_text(
        stack_file.read_text()
        + f"  miko-platform:supabaseAnonKey:\n    secure: {STACK_FILE_CIPHERTEXT}\n"
    )

    result = run_plan(scratch_project, "--stack", "prod", "--base", "HEAD")

    assert result.returncode == 0, result.stderr
    written = (scratch_project / ".plan" / "prod.json").read_text()
    given = [*SECRET_ENVIRONMENT.values(), STACK_FILE_CIPHERTEXT, "placeholder-"]
    for output in (result.stdout, result.stderr, written):
        assert not [value for value in given if value in output]
    assert "secretString=[secret]" in result.stdout


def test_an_unknown_base_revision_is_named(capsys):
    assert main(["--stack", "staging", "--base", "no-such-revision"]) == 2
    assert "cannot read git revision 'no-such-revision'" in capsys.readouterr().err


def test_the_plan_prints_the_estimated_monthly_cost_and_writes_it_as_json(tmp_path, capsys):
    json_path = tmp_path / "staging.json"
    assert main(["--stack", "staging", "--json", str(json_path)]) == 0
    text = capsys.readouterr().out
    cost = json.loads(json_path.read_text())["cost"]

    block = text[text.index("Estimated monthly cost:") :]
    head = f"Estimated monthly cost: ${cost['total_monthly']:,.2f} (list prices as of "
    assert block.startswith(head)
    assert cost["prices_as_of"] in block.splitlines()[0]
    assert "Usage assumptions (plan/usage.yaml, staging):" in block
    assert "NAT gateway hour: network-nat-0" in block
    assert cost["unclassified_kinds"] == []


def test_the_diff_against_a_base_prints_the_cost_of_the_change(scratch_project):
    stack_file = scratch_project / "Pulumi.staging.yaml"
    source = stack_file.read_text()
    assert "miko-platform:natMode: single\n" in source
    stack_file.write_text(source.replace("natMode: single\n", "natMode: per-az\n"))

    result = run_plan(scratch_project, "--stack", "staging", "--base", "HEAD")

    assert result.returncode == 0, result.stderr
    assert "Against HEAD: +$36.50/month: 1 Elastic IP added, 1 NAT gateway added" in result.stdout
    change = json.loads((scratch_project / ".plan" / "staging.json").read_text())["cost_change"]
    assert change["change_monthly"] == pytest.approx(36.5)
    assert change["kinds"]["NAT gateway"] == {"before": 1, "after": 2}
