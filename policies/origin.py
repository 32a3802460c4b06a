"""The origin only this zone's edge can reach: what an internet-facing HTTPS listener forwards.

Cloudflare's address ranges are shared by every Cloudflare customer, so the security group proves
nothing about the zone. A listener may forward to the app only through a rule that requires the
origin secret Cloudflare adds (components/origin_auth.py) and the site's Host; by default it
answers itself.
"""

from collections.abc import Iterator
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from components.origin_auth import ORIGIN_AUTH_HEADER
from policies._props import (
    REDACTION_MARKER,
    UNKNOWN,
    Props,
    Report,
    is_unknown,
    items,
    lookup,
    plain,
    references,
    resource_policy,
    resources_of,
    stack_policy,
    strings,
)

LISTENER_TYPES = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
LISTENER_RULE_TYPES = ("aws:lb/listenerRule:ListenerRule", "aws:alb/listenerRule:ListenerRule")
LOAD_BALANCER_TYPES = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")


def _forwards(actions: Any) -> Any:
    """True when an action forwards to a target group, False when none does, UNKNOWN when an
    action's type is not known yet."""
    known = [plain_action for plain_action in items(actions) if not is_unknown(plain_action)]
    if actions is UNKNOWN or any(is_unknown(lookup(a, "type")) for a in known):
        return UNKNOWN
    return any(lookup(a, "type") == "forward" or lookup(a, "forward") for a in known)


def _internet_facing_https_listeners(
    args: StackValidationArgs,
) -> Iterator[PolicyResource]:
    """HTTPS listeners whose load balancer is not known to be internal."""
    balancers = list(resources_of(args, *LOAD_BALANCER_TYPES))
    for listener in resources_of(args, *LISTENER_TYPES):
        props = plain(listener.props)
        protocol = lookup(props, "protocol")
        if not isinstance(protocol, str) or protocol.upper() != "HTTPS":
            continue
        own = [lb for lb in balancers if references(listener, "loadBalancerArn", lb)]
        if any(lookup(plain(lb.props), "internal") is True for lb in own):
            continue
        yield listener


def _forwarding_rules(
    args: StackValidationArgs, listener: PolicyResource
) -> Iterator[tuple[PolicyResource, list[Any]]]:
    """The listener's rules that forward, with their (plain) conditions."""
    for rule in resources_of(args, *LISTENER_RULE_TYPES):
        if not references(rule, "listenerArn", listener):
            continue
        props = plain(rule.props)
        if _forwards(lookup(props, "actions")) is True:
            yield rule, items(lookup(props, "conditions"))


def _has_origin_proof(conditions: list[Any]) -> bool:
    if conditions == [REDACTION_MARKER]:
        # The offline plan masks a whole property that holds a secret (the engine sends it in
        # clear). The only secret a listener rule's conditions hold is the origin secret.
        return True
    for condition in conditions:
        header = lookup(condition, "httpHeader")
        name = lookup(header, "httpHeaderName")
        values = lookup(header, "values")
        if is_unknown(name) or is_unknown(values):
            return True  # decided at deployment; the rendered plan knows it
        if isinstance(name, str) and name.lower() == ORIGIN_AUTH_HEADER and items(values):
            return True
    return False


def _host_values(conditions: list[Any]) -> Any:
    """The Host values a rule requires: None when it has no Host condition, UNKNOWN if unknown."""
    for condition in conditions:
        host = lookup(condition, "hostHeader")
        if host is None:
            continue
        values = lookup(host, "values")
        return UNKNOWN if is_unknown(values) else strings(values)
    return None


def _check_origin_proof(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for listener in _internet_facing_https_listeners(args):
        if _forwards(lookup(plain(listener.props), "defaultActions")) is True:
            report_violation(
                f"Internet-facing HTTPS listener '{listener.name}' forwards by default: anyone "
                "who can reach Cloudflare's ranges reaches the app. Make the default action a "
                f"fixed 403 and forward only in a rule requiring header '{ORIGIN_AUTH_HEADER}'.",
                listener.urn,
            )
        for rule, conditions in _forwarding_rules(args, listener):
            if not _has_origin_proof(conditions):
                report_violation(
                    f"Listener rule '{rule.name}' forwards without the origin proof: add an "
                    f"http-header condition on '{ORIGIN_AUTH_HEADER}' with the origin secret.",
                    rule.urn,
                )


def _check_host(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    """On the resource's own inputs (the offline plan masks only the secret header values
    there): a resource policy sees no load balancer, so it holds every HTTPS listener and every
    forwarding rule to it, internal or not; this program has only the internet-facing one."""
    if args.resource_type in LISTENER_TYPES:
        protocol = lookup(props, "protocol")
        if not isinstance(protocol, str) or protocol.upper() != "HTTPS":
            return
        if _forwards(lookup(props, "defaultActions")) is True:
            report(
                f"HTTPS listener '{args.name}' forwards every Host by default: answer with a "
                "fixed response and forward only in a rule with a host-header condition."
            )
        return
    if _forwards(lookup(props, "actions")) is not True:
        return
    hosts = _host_values(items(lookup(props, "conditions")))
    if hosts is UNKNOWN:
        return
    if not hosts or any(not host.strip("*?.") for host in hosts):
        report(
            f"Listener rule '{args.name}' forwards without a Host check: add a host-header "
            "condition naming the site's hostname (no bare wildcard)."
        )


POLICIES = [
    stack_policy(
        "alb-origin-proof-required",
        "Checks whether internet-facing HTTPS listeners forward only requests carrying the "
        "origin secret the zone's edge adds.",
        _check_origin_proof,
    ),
    resource_policy(
        "alb-origin-host-check",
        "Checks whether HTTPS listeners and their rules forward only requests for the site's "
        "hostname.",
        (*LISTENER_TYPES, *LISTENER_RULE_TYPES),
        _check_host,
    ),
]
