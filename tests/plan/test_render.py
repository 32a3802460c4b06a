"""The offline renderer: config assembly, secret masking, failures, repeatability."""

import textwrap

import pytest
from pulumi.runtime import MockCallArgs

from plan.mocks import PlatformMocks
from plan.render import SECRET_SIG, SIG_KEY, RenderFailed, mask_secrets, render_stack, stack_config

PROJECT_YAML = """\
name: miko-platform
runtime: python
config:
  size:
    type: integer
    default: 1
  names:
    type: array
    default: [a]
  token:
    type: string
    secret: true
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text(PROJECT_YAML)
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  miko-platform:size: 2\n  miko-platform:flag: true\n"
        "  miko-platform:token:\n    secure: v1:ciphertext\n"
    )
    return tmp_path


def write_program(project, body):
    (project / "__main__.py").write_text(textwrap.dedent(body))


def test_stack_config_layers_defaults_stack_overrides_and_secrets(project):
    values, secret_keys = stack_config(
        "dev", {"names": ["x", "y"], "size": None}, {"other": "s3cret"}, project
    )
    assert values == {
        "miko-platform:names": '["x", "y"]',
        "miko-platform:flag": "true",
        "miko-platform:token": "v1:ciphertext",
        "miko-platform:other": "s3cret",
    }
    assert secret_keys == {"miko-platform:token", "miko-platform:other"}


def test_mask_secrets_replaces_wrapped_values_and_records_paths():
    paths: set[str] = set()
    wire = {
        "a": {SIG_KEY: SECRET_SIG, "value": "x"},
        "b": [1.0, {"c": {SIG_KEY: SECRET_SIG, "value": "y"}}],
    }
    assert mask_secrets(wire, "", paths) == {"a": "[secret]", "b": [1, {"c": "[secret]"}]}
    assert paths == {"a", "b[1].c"}


def test_render_records_secret_inputs_and_exports(project):
    write_program(
        project,
        """
        import pulumi
        import pulumi_aws as aws

        config = pulumi.Config()
        token = config.require_secret("token")
        topic = aws.sns.Topic("topic", name="plain", display_name=token)
        pulumi.export("arn", topic.arn)
        pulumi.export("token", token)
        """,
    )
    rendering = render_stack("dev", secret_values={"token": "tok-123"}, project_dir=project)
    topic = rendering.get("aws:sns/topic:Topic", "topic")
    assert topic.inputs == {"name": "plain", "displayName": "[secret]"}
    assert topic.secret_paths == {"displayName"}
    assert topic.outputs["displayName"] == "[secret]"
    assert rendering.exports == {
        "arn": "arn:aws:sns:us-west-2:123456789012:sns/plain",
        "token": "[secret]",
    }
    assert rendering.secret_exports == {"token"}


def test_a_failing_program_reports_what_it_registered(project):
    write_program(
        project,
        """
        import pulumi_aws as aws

        aws.sns.Topic("first")
        raise ValueError("stop here")
        """,
    )
    with pytest.raises(RenderFailed, match="stop here") as failure:
        render_stack("dev", project_dir=project)
    assert [r.name for r in failure.value.resources] == ["first"]


def test_renders_in_a_row_start_from_a_clean_runtime(project):
    write_program(
        project,
        """
        import pulumi
        import pulumi_aws as aws

        size = pulumi.Config().require_int("size")
        for index in range(size):
            aws.sns.Topic(f"topic-{index}")
        pulumi.export("size", size)
        """,
    )
    first = render_stack("dev", project_dir=project)
    second = render_stack("dev", {"size": 1}, project_dir=project)
    assert [r.name for r in first.resources] == ["topic-0", "topic-1"]
    assert [r.name for r in second.resources] == ["topic-0"]
    assert second.exports == {"size": 1}


def test_unknown_provider_functions_fail_loudly():
    with pytest.raises(NotImplementedError, match="aws:index/getAmi:getAmi"):
        PlatformMocks("us-west-2").call(MockCallArgs("aws:index/getAmi:getAmi", {}, ""))
