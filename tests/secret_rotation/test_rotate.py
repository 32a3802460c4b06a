"""The rotation helper passes values only on stdin and changes nothing when it refuses."""

import datetime

import pytest
import yaml

from components.origin_auth import origin_secret_problem
from config.secrets import OPTIONAL_SECRET_KEYS, SECRET_KEYS
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
    rotated = set(declared_secret_keys()) - set(OPTIONAL_SECRET_KEYS)
    assert {f"{key}RotatedOn" for key in rotated} <= set(project)
    assert sorted(declared_secret_keys()) == sorted(SECRET_KEYS)
    # The previous origin secret is a copy made by a rotation: no date of its own.
    assert "originAuthSecretPreviousRotatedOn" not in project


# --- the origin secret: two steps, a generated value -----------------------------------------

OLD_ORIGIN = "StagingOriginSecretBeforeRotation0000"
PROD_ORIGIN = "ProdOriginSecretThatStagingMustNotReuse"


@pytest.fixture
def origin_project(project):
    """The scratch project with both origin keys declared and set as a deployed stack has them."""
    with (project.directory / "Pulumi.yaml").open("a") as declared:
        for key in ("originAuthSecret", "originAuthSecretPrevious"):
            declared.write(f"  {key}:\n    type: string\n    secret: true\n")
    for stack, current in (("staging", OLD_ORIGIN), ("prod", PROD_ORIGIN)):
        path = project.directory / f"Pulumi.{stack}.yaml"
        document = yaml.safe_load(path.read_text())
        document["config"]["miko-platform:originAuthSecret"] = {"secure": "enc:" + current}
        document["config"]["miko-platform:originAuthSecretPrevious"] = {"secure": "enc:"}
        path.write_text(yaml.safe_dump(document))
    return project


def stack_config(project, stack="staging"):
    path = project.directory / f"Pulumi.{stack}.yaml"
    return yaml.safe_load(path.read_text())["config"]


def secure(config, key):
    return config[f"miko-platform:{key}"]["secure"].removeprefix("enc:")


def test_origin_rotation_generates_a_value_and_keeps_the_old_one_accepted(origin_project):
    result = origin_project.rotate("--stack", "staging", "originAuthSecret", stdin="")

    assert result.returncode == 0, result.stderr
    config = stack_config(origin_project)
    new = secure(config, "originAuthSecret")
    assert origin_secret_problem("originAuthSecret", new) is None
    assert new not in (OLD_ORIGIN, PROD_ORIGIN)
    assert secure(config, "originAuthSecretPrevious") == OLD_ORIGIN
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    assert config["miko-platform:originAuthSecretRotatedOn"] == today
    # Values only on stdin, never in arguments or output.
    for value in (new, OLD_ORIGIN):
        assert all(value not in " ".join(call["argv"]) for call in origin_project.calls())
        assert value not in result.stdout + result.stderr
    assert "2. pulumi up of the edge stack" in result.stdout
    assert "--finish originAuthSecret" in result.stdout


def test_origin_rotation_then_finish_leaves_only_the_new_value(origin_project):
    assert origin_project.rotate("--stack", "staging", "originAuthSecret", stdin="").returncode == 0
    result = origin_project.rotate("--stack", "staging", "--finish", "originAuthSecret", stdin="")

    assert result.returncode == 0, result.stderr
    config = stack_config(origin_project)
    assert secure(config, "originAuthSecretPrevious") == ""
    assert secure(config, "originAuthSecret") not in (OLD_ORIGIN, "")
    assert "after the edge stack's deployment has finished" in result.stdout


def test_a_second_origin_rotation_before_finishing_is_refused(origin_project):
    assert origin_project.rotate("--stack", "staging", "originAuthSecret", stdin="").returncode == 0
    before = origin_project.stack_files()
    result = origin_project.rotate("--stack", "staging", "originAuthSecret", stdin="")
    assert result.returncode == 1
    assert "a rotation of originAuthSecret is under way in staging" in result.stderr
    assert origin_project.stack_files() == before


def test_finishing_without_a_rotation_is_refused(origin_project):
    before = origin_project.stack_files()
    result = origin_project.rotate("--stack", "staging", "--finish", "originAuthSecret", stdin="")
    assert_refused(origin_project, result, "no rotation of originAuthSecret is under way")
    assert origin_project.stack_files() == before


@pytest.mark.parametrize(
    "value",
    ["Wildcard*OriginSecretThatIsLongEnough000", "short0", "with space origin secret long enough"],
)
def test_a_piped_origin_secret_that_is_not_32_letters_and_digits_is_refused(origin_project, value):
    before = origin_project.stack_files()
    result = origin_project.rotate("--stack", "staging", "originAuthSecret", stdin=value)
    assert_refused(origin_project, result, "at least 32 letters and digits")
    assert value not in result.stderr
    assert origin_project.stack_files() == before


def test_a_piped_origin_secret_equal_to_the_other_stacks_is_refused(origin_project):
    result = origin_project.rotate("--stack", "staging", "originAuthSecret", stdin=PROD_ORIGIN)
    assert_refused(origin_project, result, "equals the one in stack prod")


def test_the_previous_origin_secret_is_not_rotated_by_hand(origin_project):
    result = origin_project.rotate(
        "--stack", "staging", "originAuthSecretPrevious", stdin=OLD_ORIGIN
    )
    assert_refused(origin_project, result, "is set by the rotation of originAuthSecret")


def test_finish_is_only_for_the_origin_secret(origin_project):
    result = origin_project.rotate("--stack", "staging", "--finish", "supabaseAnonKey", stdin="x")
    assert_refused(origin_project, result, "--finish is for originAuthSecret only")
