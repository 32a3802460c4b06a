"""The origin proof and the Host check on internet-facing HTTPS listeners (policies/origin.py)."""

from typing import Any

import pytest

from tests.policies.conftest import stack_resource

LB_ARN = "arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/app/miko/1"
LISTENER_ARN = "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/miko/1/2"
TG_ARN = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/app/3"
FORWARD = [{"type": "forward", "targetGroupArn": TG_ARN}]
REFUSE = [
    {
        "type": "fixed-response",
        "fixedResponse": {"contentType": "application/json", "statusCode": "403"},
    }
]
HOST = {"hostHeader": {"values": ["www.mikoplasticsurgery.com"]}}
# The offline plan shows the secret values as `[secret]`; the engine sends them in clear.
ORIGIN_PROOF = {"httpHeader": {"httpHeaderName": "x-miko-origin-auth", "values": "[secret]"}}
HIDE_METRICS = {"pathPattern": {"values": ["/metrics", "/metrics/*"]}}
NOT_FOUND = [{"type": "fixed-response", "fixedResponse": {"statusCode": "404"}}]


def load_balancer(internal: bool = False) -> Any:
    return stack_resource(
        "aws:lb/loadBalancer:LoadBalancer",
        {"arn": LB_ARN, "internal": internal, "loadBalancerType": "application"},
        name="alb",
    )


def listener(default_actions: list[dict[str, Any]], protocol: str = "HTTPS") -> Any:
    return stack_resource(
        "aws:lb/listener:Listener",
        {
            "arn": LISTENER_ARN,
            "loadBalancerArn": LB_ARN,
            "port": 443,
            "protocol": protocol,
            "defaultActions": default_actions,
        },
        name="https",
    )


def rule(conditions: list[dict[str, Any]], actions: Any = None, name: str = "forward") -> Any:
    return stack_resource(
        "aws:lb/listenerRule:ListenerRule",
        {
            "listenerArn": LISTENER_ARN,
            "priority": 100,
            "conditions": conditions,
            "actions": FORWARD if actions is None else actions,
        },
        name=name,
    )


def stack(default_actions=REFUSE, conditions=(HOST, ORIGIN_PROOF), internal=False) -> list[Any]:
    return [
        load_balancer(internal),
        listener(default_actions),
        rule([HIDE_METRICS], NOT_FOUND, name="hide-metrics"),
        rule(list(conditions)),
    ]


PROOF = "alb-origin-proof-required"
HOST_CHECK = "alb-origin-host-check"
LISTENER = "aws:lb/listener:Listener"
RULE = "aws:lb/listenerRule:ListenerRule"


def host_check(run_resource, resources: list[Any]) -> list[str]:
    """The resource policy over each listener and rule of `resources`."""
    return [
        message
        for resource in resources
        if resource.resource_type in (LISTENER, RULE)
        for message in run_resource(
            HOST_CHECK, resource.resource_type, dict(resource.props), name=resource.name
        )
    ]


def test_a_listener_that_forwards_only_with_the_proof_and_the_host_passes(run_stack, run_resource):
    assert run_stack(PROOF, stack()) == []
    assert host_check(run_resource, stack()) == []


def test_a_listener_forwarding_by_default_is_reported(run_stack, run_resource):
    [(message, urn)] = run_stack(PROOF, stack(default_actions=FORWARD))
    assert "forwards by default" in message
    assert urn.endswith("::https")
    [message] = host_check(run_resource, stack(default_actions=FORWARD))
    assert "forwards every Host by default" in message


def test_an_internal_load_balancer_needs_no_origin_proof(run_stack):
    assert run_stack(PROOF, stack(default_actions=FORWARD, conditions=(), internal=True)) == []


def test_the_offline_plans_masked_conditions_count_as_the_proof(run_stack):
    """The plan masks a whole property holding a secret; only the origin secret is one here."""
    assert run_stack(PROOF, stack(conditions=["[secret]"])) == []


def test_a_forwarding_rule_without_the_origin_header_is_reported(run_stack):
    [(message, urn)] = run_stack(PROOF, stack(conditions=(HOST,)))
    assert "without the origin proof" in message
    assert "x-miko-origin-auth" in message
    assert urn.endswith("::forward")


def test_a_header_condition_on_another_header_is_no_proof(run_stack):
    other = {"httpHeader": {"httpHeaderName": "x-forwarded-host", "values": ["x"]}}
    reported = run_stack(PROOF, stack(conditions=(HOST, other)))
    assert len(reported) == 1


def test_the_header_name_is_matched_in_any_case(run_stack):
    upper = {"httpHeader": {"httpHeaderName": "X-Miko-Origin-Auth", "values": ["[secret]"]}}
    assert run_stack(PROOF, stack(conditions=(HOST, upper))) == []


@pytest.mark.parametrize(
    "conditions",
    [
        (ORIGIN_PROOF,),
        ({"hostHeader": {"values": []}}, ORIGIN_PROOF),
        ({"hostHeader": {"values": ["*"]}}, ORIGIN_PROOF),
    ],
    ids=["no-host-condition", "no-host-values", "bare-wildcard"],
)
def test_a_forwarding_rule_without_a_host_check_is_reported(run_resource, conditions):
    [message] = host_check(run_resource, stack(conditions=conditions))
    assert "Listener rule 'forward' forwards without a Host check" in message


def test_rules_that_answer_themselves_need_neither(run_stack, run_resource):
    resources = [load_balancer(), listener(REFUSE), rule([HIDE_METRICS], NOT_FOUND)]
    assert run_stack(PROOF, resources) == []
    assert host_check(run_resource, resources) == []


def test_plain_http_listeners_are_left_to_the_redirect_policy(run_stack, run_resource):
    resources = [load_balancer(), listener(FORWARD, protocol="HTTP")]
    assert run_stack(PROOF, resources) == []
    assert host_check(run_resource, resources) == []
