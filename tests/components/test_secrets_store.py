"""The KMS key and the per-integration secrets, and the container's valueFrom entries."""

import datetime
import json

import pulumi
import pytest
from pulumi.runtime import settings as runtime_settings

from components.policy_documents import account_administers_key
from components.secrets_store import (
    SecretsStore,
    SecretsStoreArgs,
    container_secret_entries,
    key_policy,
)
from config.secrets import INTEGRATION_SECRETS
from plan.mocks import PlatformMocks
from tests.rendered_tasks import main_container

from .conftest import DUMMY_SECRETS

ROTATED_ON = {key: datetime.date(2026, 11, 20) for key in DUMMY_SECRETS}


def test_key_rotates_and_has_an_alias(rendering):
    key = rendering.get("aws:kms/key:Key", "secrets-key")
    assert key.inputs["enableKeyRotation"] is True
    alias = rendering.get("aws:kms/alias:Alias", "secrets-key-alias")
    assert alias.inputs == {
        "name": f"alias/miko-{rendering.stack}",
        "targetKeyId": key.outputs["keyId"],
    }


def test_key_policy_limits_logs_to_this_accounts_log_groups():
    policy = json.loads(key_policy("111122223333", "us-west-2"))
    assert policy["Statement"][0] == account_administers_key("111122223333")
    logs = next(s for s in policy["Statement"] if "Service" in s["Principal"])
    assert logs["Principal"] == {"Service": "logs.us-west-2.amazonaws.com"}
    assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == (
        "arn:aws:logs:us-west-2:111122223333:log-group:*"
    )


def test_one_kms_encrypted_secret_per_integration(rendering):
    secrets = {r.name: r.inputs for r in rendering.of_type("aws:secretsmanager/secret:Secret")}
    assert sorted(secrets) == sorted(f"secrets-{name}" for name in INTEGRATION_SECRETS)
    key_arn = rendering.get("aws:kms/key:Key", "secrets-key").outputs["arn"]
    for name, inputs in secrets.items():
        assert inputs["kmsKeyId"] == key_arn
        assert inputs["name"] == f"miko-{rendering.stack}/{name.removeprefix('secrets-')}"
    assert {inputs["recoveryWindowInDays"] for inputs in secrets.values()} == {
        {"staging": 7, "prod": 30}[rendering.stack]
    }


def test_secret_values_are_sent_as_secrets(rendering):
    for version in rendering.of_type("aws:secretsmanager/secretVersion:SecretVersion"):
        assert version.inputs["secretString"] == "[secret]"
        assert version.secret_paths == {"secretString"}


def test_container_entries_read_one_json_key_each():
    entries = container_secret_entries(
        {"supabase": "arn:s", "sentry": "arn:t"},
        {
            "supabase": {"SUPABASE_URL": "supabaseUrl", "SUPABASE_ANON_KEY": "supabaseAnonKey"},
            "sentry": {"SENTRY_DSN": "sentryDsn"},
        },
    )
    assert entries == [
        {"name": "SENTRY_DSN", "valueFrom": "arn:t:SENTRY_DSN::"},
        {"name": "SUPABASE_ANON_KEY", "valueFrom": "arn:s:SUPABASE_ANON_KEY::"},
        {"name": "SUPABASE_URL", "valueFrom": "arn:s:SUPABASE_URL::"},
    ]


@pytest.fixture
def component_mocks():
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        PlatformMocks("us-west-2"), project="miko-platform", stack="staging", preview=False
    )
    yield
    runtime_settings.ROOT.set(None)


@pulumi.runtime.test
def test_secret_json_keys_are_the_container_variables(component_mocks):
    store = SecretsStore(
        "store",
        SecretsStoreArgs(
            prefix="miko-test",
            region="us-west-2",
            account_id="111122223333",
            secret_values={
                key: pulumi.Output.secret(value) for key, value in DUMMY_SECRETS.items()
            },
            recovery_window_days=7,
            rotated_on=ROTATED_ON,
            protect=False,
            integrations={"supabase": INTEGRATION_SECRETS["supabase"]},
        ),
    )

    def check(values):
        secrets, version_ids = values
        assert [entry["name"] for entry in secrets] == ["SUPABASE_ANON_KEY", "SUPABASE_URL"]
        assert all(entry["valueFrom"].startswith("arn:aws:secretsmanager:") for entry in secrets)
        assert set(version_ids) == {"supabase"}

    scope = store.scope(["supabase"])
    return pulumi.Output.all(scope.container_secrets, scope.version_ids).apply(check)


def test_each_secret_is_tagged_with_its_oldest_rotation_date(render_with):
    rendering = render_with("prod", {"supabaseAnonKeyRotatedOn": "2026-09-01"})
    tags = {
        r.name: r.inputs["tags"]["rotated-on"]
        for r in rendering.of_type("aws:secretsmanager/secret:Secret")
    }
    assert tags["secrets-supabase"] == "2026-09-01"
    assert tags["secrets-n8n"] == "2026-11-20"


def test_key_and_secrets_are_protected_where_the_stack_asks(rendering):
    expected = rendering.stack == "prod"
    stateful = [
        *rendering.of_type("aws:secretsmanager/secret:Secret"),
        rendering.get("aws:kms/key:Key", "secrets-key"),
    ]
    assert {resource.protect for resource in stateful} == {expected}


def test_a_scope_sees_only_its_integrations(rendering):
    app = rendering.get("aws:ecs/taskDefinition:TaskDefinition", "app-task")
    container = main_container(app.inputs["containerDefinitions"])
    names = {entry["name"] for entry in container["secrets"]}
    assert "SCRATCH_DATABASE_URL" not in names
    assert "DATABASE_URL" in names
