"""The database password reaches pg_dump only through its environment: never argv, never output."""

import json
import shutil
import stat
from urllib.parse import quote

import pytest

from tests.pg_cluster import SUPERUSER_PASSWORD

pytestmark = pytest.mark.postgres

PASSWORD_FORMS = (SUPERUSER_PASSWORD, quote(SUPERUSER_PASSWORD, safe=""))


@pytest.fixture
def recording_pg_dump(tmp_path, job):
    """A pg_dump on PATH that records its argv and environment names, then runs the real one."""
    real = shutil.which("pg_dump")
    assert real, "pg_dump not on PATH: run scripts/install-system-deps"
    record = tmp_path / "record.json"
    wrapper = tmp_path / "bin" / "pg_dump"
    wrapper.parent.mkdir()
    wrapper.write_text(
        "#!/usr/bin/env python3\n"
        "import json, os, sys\n"
        f"with open({str(record)!r}, 'a') as out:\n"
        "    print(json.dumps({'argv': sys.argv, 'env': sorted(os.environ)}), file=out)\n"
        f"os.execv({real!r}, [{real!r}, *sys.argv[1:]])\n"
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    job.env.setenv("PATH", f"{wrapper.parent}:/usr/bin:/bin")
    return record


def test_password_is_passed_by_environment_not_argv(job, recording_pg_dump, run_backup_process):
    run = run_backup_process("dump")

    assert run.exit_code == 0, run.stderr  # the real pg_dump authenticated with scram-sha-256
    calls = [json.loads(line) for line in recording_pg_dump.read_text().splitlines()]
    assert any("--format=custom" in call["argv"] for call in calls)
    for call in calls:
        command_line = " ".join(call["argv"])
        assert "postgresql://" not in command_line
        assert not any(password in command_line for password in PASSWORD_FORMS)
        assert "PGPASSWORD" in call["env"]
        withheld = {"DATABASE_URL", "SCRATCH_DATABASE_URL", "AWS_SECRET_ACCESS_KEY"}
        assert not withheld & set(call["env"])
    assert not any(password in run.stdout + run.stderr for password in PASSWORD_FORMS)


def test_rejected_password_is_not_echoed(job, run_backup_process):
    wrong = "wrong-Secret-4711"
    job.env.setenv("DATABASE_URL", job.source.url.replace(PASSWORD_FORMS[1], wrong))

    run = run_backup_process("dump")

    assert run.exit_code == 1
    assert run.result["error"] == "database_auth_failed"
    assert wrong not in run.stdout + run.stderr
    assert "Traceback" not in run.stderr
