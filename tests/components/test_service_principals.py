"""Every service principal the program writes carries the confused-deputy guard, in both stacks.

Reads the rendered trust, key, topic, queue and bucket policies and asks, of every Allow to a
`Service` principal, for an aws:SourceAccount or aws:SourceArn condition, unless the stack's
policy config records the service, in that kind of policy, as an exception with its reason
(policies/config/*.json), read by the policy's own `exception_reason`.
"""

import json
from typing import Any

import pytest

from plan.mocks import ACCOUNT_ID
from plan.render import Rendering
from policies.evaluate import load_policy_config
from policies.principals import POLICY_PROPERTY, exception_reason, is_guarded

POLICY = "service-principal-source-condition"
# The services each stack's documents grant, guarded or excepted: a new one must be looked at.
EXPECTED_GUARDED = {
    "cloudwatch.amazonaws.com",
    "ecs-tasks.amazonaws.com",
    "events.amazonaws.com",
    "lambda.amazonaws.com",
    "scheduler.amazonaws.com",
    "vpc-flow-logs.amazonaws.com",
}


def service_statements(rendering: Rendering):
    for resource_type, prop in POLICY_PROPERTY.items():
        for resource in rendering.of_type(resource_type):
            text = resource.inputs.get(prop)
            if not isinstance(text, str):
                continue
            for statement in json.loads(text)["Statement"]:
                principal = statement.get("Principal")
                if statement.get("Effect") == "Allow" and isinstance(principal, dict):
                    services = principal.get("Service", [])
                    for service in [services] if isinstance(services, str) else services:
                        yield resource, service, statement


def trust_statements(rendering: Rendering, role_name: str) -> list[dict[str, Any]]:
    (role,) = [r for r in rendering.of_type("aws:iam/role:Role") if r.name == role_name]
    statements: list[dict[str, Any]] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    return statements


def test_every_service_principal_is_guarded_or_a_reasoned_exception(rendering):
    exceptions = load_policy_config(rendering.stack)[POLICY]["serviceExceptions"]
    found = list(service_statements(rendering))
    assert found
    for resource, service, statement in found:
        assert is_guarded(statement) or exception_reason(service, resource.type, exceptions), (
            f"{resource.type} {resource.name}: {service} has no source condition"
        )


def test_guarded_services_carry_this_accounts_source(rendering):
    # One statement per service carrying aws:SourceAccount (the scheduler's queue grant names
    # its schedule by aws:SourceArn instead; its role trust names the account).
    guarded = {
        service: statement
        for _, service, statement in service_statements(rendering)
        if "aws:SourceAccount" in statement.get("Condition", {}).get("StringEquals", {})
    }
    assert set(guarded) >= EXPECTED_GUARDED
    for service in EXPECTED_GUARDED:
        assert guarded[service]["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT_ID


@pytest.mark.parametrize(
    "role_name",
    [
        "app-execution",
        "app-task",
        "network-flow-logs",
        "backups-jobs-execution",
        "backups-jobs-task",
        "backups-jobs-scheduler",
        "synthetic-journey-role",
    ],
)
def test_service_roles_trust_only_this_account(rendering, role_name):
    (statement,) = trust_statements(rendering, role_name)
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}


def test_backup_role_is_the_recorded_exception(rendering):
    (statement,) = trust_statements(rendering, "backups-vault-role")
    assert "Condition" not in statement
    exceptions = load_policy_config(rendering.stack)[POLICY]["serviceExceptions"]
    assert exceptions["backup.amazonaws.com in aws:iam/role:Role"].strip()
