"""The rotation helper passes values only on stdin and changes nothing when it refuses."""

import datetime

import yaml

from config.secrets import SECRET_KEYS
from plan.project import PROJECT_DIR, declared_secret_keys

NEW_VALUE = "staging-anon-rotated-7f3a"


def test_rotation_sets_the_secret_through_stdin_and_stamps_the_date(project):
    result = project.rotate("--stack", "staging", "supabaseAnonKey", stdin=NEW_VALUE + "\n")

    assert result.returncode == 0, result.stderr
    set_calls = [call for call in project.calls() if call["argv"][:2] == ["config", "set"]]
    assert set_calls[0]["argv"] == [
        "config",
        "set",
        "--secret",
        "supabaseAnonKey",
        "--stack",
        "staging",
    ]
    assert set_calls[0]["stdin"] == NEW_VALUE
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    assert set_calls[1]["argv"] == [
        "config",
        "set",
        "supabaseAnonKeyRotatedOn",
        today,
        "--stack",
        "staging",
    ]
    config = yaml.safe_load((project.directory / "Pulumi.staging.yaml").read_text())["config"]
    assert config["miko-platform:supabaseAnonKey"] == {"secure": "enc:" + NEW_VALUE}
    assert config["miko-platform:supabaseAnonKeyRotatedOn"] == today


def test_the_value_never_appears_in_arguments_or_output(project):
    result = project.rotate("--stack", "staging", "supabaseAnonKey", stdin=NEW_VALUE)

    assert result.returncode == 0, result.stderr
    assert all(NEW_VALUE not in " ".join(call["argv"]) for call in project.calls())
    assert NEW_VALUE not in result.stdout + result.stderr
    assert "secret version" in result.stdout
    assert "pulumi preview --diff --stack staging" in result.stdout


def assert_refused(project, result, message):
    assert result.returncode == 1
    assert message in result.stderr
    assert not [call for call in project.calls() if call["argv"][:2] == ["config", "set"]]


def test_unknown_secret_is_refused_and_nothing_changes(project):
    before = project.stack_files()
    result = project.rotate("--stack", "staging", "supabaseAnonKeyy", stdin=NEW_VALUE)
    assert_refused(project, result, "unknown secret 'supabaseAnonKeyy'; known: googleApiKey")
    assert project.stack_files() == before


def test_plain_config_keys_are_not_rotatable(project):
    result = project.rotate("--stack", "staging", "owner", stdin=NEW_VALUE)
    assert_refused(project, result, "unknown secret 'owner'")


def test_empty_value_is_refused_and_nothing_changes(project):
    before = project.stack_files()
    result = project.rotate("--stack", "staging", "supabaseAnonKey", stdin="  \n")
    assert_refused(project, result, "empty value for supabaseAnonKey")
    assert project.stack_files() == before


def test_value_equal_to_the_other_stacks_is_refused_and_nothing_changes(project):
    before = project.stack_files()
    result = project.rotate("--stack", "staging", "supabaseAnonKey", stdin="prod-anon-current")
    assert_refused(project, result, "equals the one in stack prod")
    assert project.stack_files() == before
    assert "prod-anon-current" not in result.stderr + result.stdout


def test_unknown_stack_is_refused_and_nothing_changes(project):
    before = project.stack_files()
    result = project.rotate("--stack", "production", "supabaseAnonKey", stdin=NEW_VALUE)
    assert_refused(project, result, "unknown stack 'production'; known: prod, staging")
    assert project.stack_files() == before


def test_the_value_cannot_be_given_on_the_command_line(project):
    result = project.rotate("--stack", "staging", "supabaseAnonKey", NEW_VALUE, stdin="")
    assert result.returncode == 2
    assert not project.calls()


def test_every_rotatable_secret_has_a_declared_rotation_date():
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    assert {f"{key}RotatedOn" for key in declared_secret_keys()} <= set(project)
    assert sorted(declared_secret_keys()) == sorted(SECRET_KEYS)
