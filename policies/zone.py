"""The zone-level Cloudflare rules of the edge stack: scoped to a hostname, a managed WAF the
plan allows, and the origin proof set on every request forwarded to an origin.

One zone serves several environments (staging, prod) and may hold hostnames this project does not
manage, so every rule of a zone entry-point ruleset must say which hostname it acts on. Each
policy runs only where the stack's policy config lists the hostnames it serves (`zoneHostnames`;
empty: the policy has nothing to check, as in the environment stacks, which own no zone ruleset).

A rule is proven scoped when its expression is a top-level `and` chain (`not` binds tighter than
`and`, `or`/`xor` looser) with a conjunct `http.host eq "<h>"` (or `==`, or `in {"<h>"}`), possibly
inside redundant parentheses. Anything else, `http.host contains ...`, an `or` at the top level,
a host set of two, is not proven and is a violation: conservative on purpose. The one exception is
a rule executing a WAF managed ruleset, which may name several served hostnames in one
`http.host in {...}`: "At the zone level, each WAF managed ruleset can only be deployed once"
(https://developers.cloudflare.com/waf/account/managed-rulesets/), so one rule must cover them all.

Managed rulesets (https://developers.cloudflare.com/waf/managed-rules/): the Cloudflare Managed
Ruleset and the Cloudflare OWASP Core Ruleset need Pro or above; the Cloudflare Free Managed
Ruleset is "Available on all Cloudflare plans".
"""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from components.origin_auth import ORIGIN_AUTH_HEADER
from policies._props import (
    REDACTION_MARKER,
    UNKNOWN,
    ConfigSchema,
    config_value,
    contains_unknown,
    is_unknown,
    items,
    lookup,
    plain,
    resources_of,
    stack_policy,
    string_list_setting,
)

RULESET = "cloudflare:index/ruleset:Ruleset"
WAF_PHASE = "http_request_firewall_managed"
ORIGIN_PROOF_PHASE = "http_request_late_transform"
PLANS = ("free", "pro", "business", "enterprise")


@dataclass(frozen=True)
class ManagedRuleset:
    id: str
    name: str
    minimum_plan: str


MANAGED_RULESETS: Mapping[str, ManagedRuleset] = {
    ruleset.id: ruleset
    for ruleset in (
        ManagedRuleset("efb7b8c949ac4650a09736fc376e9aee", "Cloudflare Managed Ruleset", "pro"),
        ManagedRuleset("4814384a9e5d4991b9815dcfc25d2f1f", "Cloudflare OWASP Core Ruleset", "pro"),
        ManagedRuleset(
            "77454fe2d30c4220b5701f6fdfb893ba", "Cloudflare Free Managed Ruleset", "free"
        ),
    )
}

HOSTNAMES_SETTING = string_list_setting(
    description="Hostnames the stack's zone rulesets serve; every zone rule must be scoped to "
    "one of them. Empty: the policy does not apply (the stack owns no zone ruleset).",
    default=[],
)
SCOPE_SCHEMA: ConfigSchema = {"zoneHostnames": HOSTNAMES_SETTING}
WAF_SCHEMA: ConfigSchema = {
    "zoneHostnames": HOSTNAMES_SETTING,
    "cloudflarePlan": {
        "type": "string",
        "enum": list(PLANS),
        "description": "The zone's Cloudflare plan: which managed WAF rulesets it may execute.",
        "default": "free",
    },
}
ORIGIN_PROOF_SCHEMA: ConfigSchema = {"zoneHostnames": HOSTNAMES_SETTING}


# --- the top level of an expression ----------------------------------------------------------

_RAW_STRING = re.compile(r'r(#*)"')
_HOST_EQ = re.compile(r'^http\.host\s*(?:eq|==)\s*"((?:[^"\\]|\\.)*)"$')
_HOST_IN = re.compile(r'^http\.host\s+in\s*\{((?:\s*"(?:[^"\\]|\\.)*")+)\s*\}$')
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_AND, _OR = ("and", "&&"), ("or", "||", "xor", "^^")


class _Opaque(Exception):
    """The expression cannot be split safely (an unterminated string or bracket)."""


def _skip_string(text: str, start: int) -> int:
    """Index just past the string literal starting at `start` (quoted or raw)."""
    raw = _RAW_STRING.match(text, start)
    if raw:
        closing = '"' + raw.group(1)
        end = text.find(closing, raw.end())
        if end < 0:
            raise _Opaque
        return end + len(closing)
    index = start + 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == '"':
            return index + 1
        index += 1
    raise _Opaque


def _top_level_split(text: str) -> tuple[list[str], bool]:
    """The parts of `text` between top-level `and`s, and whether a top-level `or`/`xor` exists."""
    parts: list[str] = []
    depth, start, index, has_or = 0, 0, 0, False
    while index < len(text):
        char = text[index]
        if _string_starts(text, index):
            index = _skip_string(text, index)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth < 0:
                raise _Opaque
        elif depth == 0:
            operator = _operator_at(text, index)
            if operator in _AND:
                parts.append(text[start:index])
                index += len(operator)
                start = index
                continue
            if operator in _OR:
                has_or = True
        index += 1
    if depth != 0:
        raise _Opaque
    parts.append(text[start:])
    return [part.strip() for part in parts], has_or


def _string_starts(text: str, index: int) -> bool:
    if text[index] == '"':
        return True
    return bool(_RAW_STRING.match(text, index)) and (index == 0 or not _word(text[index - 1]))


def _word(char: str) -> bool:
    return char.isalnum() or char in "_."


def _operator_at(text: str, index: int) -> str | None:
    for symbol in ("&&", "||", "^^"):
        if text.startswith(symbol, index):
            return symbol
    if index > 0 and _word(text[index - 1]):
        return None
    for word in ("and", "or", "xor"):
        end = index + len(word)
        if text.startswith(word, index) and (end == len(text) or not _word(text[end])):
            return word
    return None


def _unwrapped(term: str) -> str | None:
    """The inside of `( ... )` when those parentheses enclose the whole term."""
    if not (term.startswith("(") and term.endswith(")")):
        return None
    depth, index = 0, 0
    while index < len(term):
        if _string_starts(term, index):
            index = _skip_string(term, index)
            continue
        if term[index] == "(":
            depth += 1
        elif term[index] == ")":
            depth -= 1
            if depth == 0 and index != len(term) - 1:
                return None
        index += 1
    return term[1:-1].strip()


def _conjuncts(expression: str) -> list[str]:
    """The terms every match must satisfy (a top-level `and` chain, flattened through
    parentheses); an expression with a top-level `or`/`xor` is one opaque term."""
    parts, has_or = _top_level_split(expression.strip())
    if has_or:
        return [expression.strip()]
    terms: list[str] = []
    for part in parts:
        inner = _unwrapped(part)
        terms.extend(_conjuncts(inner) if inner is not None else [part])
    return terms


def scoped_hosts(expression: str) -> frozenset[str] | None:
    """The hostnames a rule can match, when its expression proves a bound (the intersection of
    its top-level `http.host` terms); None when it does not."""
    try:
        terms = _conjuncts(expression)
    except _Opaque:
        return None
    bound: frozenset[str] | None = None
    for term in terms:
        equal, member = _HOST_EQ.match(term), _HOST_IN.match(term)
        if equal:
            hosts = frozenset({equal.group(1)})
        elif member:
            hosts = frozenset(_QUOTED.findall(member.group(1)))
        else:
            continue
        bound = hosts if bound is None else bound & hosts
    return bound


# --- reading rulesets ------------------------------------------------------------------------


def _zone_rulesets(args: StackValidationArgs, phase: str | None = None) -> list[PolicyResource]:
    found = []
    for ruleset in resources_of(args, RULESET):
        props = plain(ruleset.props)
        if lookup(props, "kind") != "zone":
            continue
        if phase is None or lookup(props, "phase") == phase:
            found.append(ruleset)
    return found


def _rules_of(ruleset: PolicyResource) -> Any:
    """The ruleset's rules; UNKNOWN also when the offline plan shows them as `[secret]` (a rule
    carrying a secret, like the origin proof, makes the whole output secret there)."""
    rules = lookup(plain(ruleset.props), "rules")
    return UNKNOWN if rules == REDACTION_MARKER else rules


def _unknown_rules(rulesets: list[PolicyResource]) -> bool:
    return any(contains_unknown(_rules_of(ruleset)) for ruleset in rulesets)


def _rules(ruleset: PolicyResource) -> Iterator[tuple[str, dict[str, Any]]]:
    for index, rule in enumerate(items(_rules_of(ruleset))):
        if isinstance(rule, dict):
            label = rule.get("description") or rule.get("ref") or f"#{index + 1}"
            yield str(label), rule


def _hostnames(args: StackValidationArgs, schema: ConfigSchema) -> list[str]:
    return [str(host) for host in config_value(args.get_config(), schema, "zoneHostnames") or []]


def _enabled(rule: Mapping[str, Any]) -> bool:
    return rule.get("enabled") is not False


def _executes_managed(phase: Any, rule: Mapping[str, Any]) -> bool:
    return rule.get("action") == "execute" and isinstance(phase, str) and phase.endswith("_managed")


# --- policies ------------------------------------------------------------------------------


def _check_hostname_scope(args: StackValidationArgs, report: ReportViolation) -> None:
    served = _hostnames(args, SCOPE_SCHEMA)
    if not served:
        return
    for ruleset in _zone_rulesets(args):
        phase = lookup(plain(ruleset.props), "phase")
        for label, rule in _rules(ruleset):
            expression = rule.get("expression")
            if is_unknown(expression):
                continue
            problem = _scope_problem(expression, served, _executes_managed(phase, rule))
            if problem:
                report(
                    f"Rule '{label}' of the {phase} zone ruleset {ruleset.urn} {problem}; "
                    f'start its expression with `http.host eq "<hostname>" and (...)`, '
                    f"one of {', '.join(served)}.",
                    ruleset.urn,
                )


def _scope_problem(expression: Any, served: list[str], many_allowed: bool) -> str | None:
    if not isinstance(expression, str):
        return "has no expression"
    hosts = scoped_hosts(expression)
    if hosts is None:
        return "is not proven to act on one hostname (no top-level http.host condition)"
    if not hosts:
        return "can match no hostname (its http.host conditions contradict)"
    unknown = sorted(hosts - set(served))
    if unknown:
        return f"acts on hostname(s) the stack does not serve: {', '.join(unknown)}"
    if len(hosts) > 1 and not many_allowed:
        return f"acts on {len(hosts)} hostnames ({', '.join(sorted(hosts))}), not exactly one"
    return None


def _check_managed_waf(args: StackValidationArgs, report: ReportViolation) -> None:
    served = _hostnames(args, WAF_SCHEMA)
    if not served:
        return
    plan = str(config_value(args.get_config(), WAF_SCHEMA, "cloudflarePlan"))
    rulesets = _zone_rulesets(args, WAF_PHASE)
    if _unknown_rules(rulesets):
        return
    covered: set[str] = set()
    for ruleset in rulesets:
        for label, rule in _rules(ruleset):
            if rule.get("action") != "execute" or not _enabled(rule):
                continue
            managed = MANAGED_RULESETS.get(str(lookup(rule, "actionParameters", "id")))
            if managed is None:
                continue
            if PLANS.index(plan) < PLANS.index(managed.minimum_plan):
                report(
                    f"Rule '{label}' of {ruleset.urn} executes the {managed.name} "
                    f"({managed.id}), which needs the {managed.minimum_plan} plan or above; "
                    f"the zone is on {plan} (cloudflarePlan).",
                    ruleset.urn,
                )
                continue
            expression = rule.get("expression")
            hosts = scoped_hosts(expression) if isinstance(expression, str) else None
            covered |= set(hosts or ())
    missing = [host for host in served if host not in covered]
    if missing:
        allowed = [r.name for r in MANAGED_RULESETS.values() if _plan_allows(plan, r)]
        urn = rulesets[0].urn if rulesets else None
        report(
            f"No {WAF_PHASE} zone ruleset executes a managed WAF ruleset on "
            f"{', '.join(missing)}: add an execute rule of one the {plan} plan allows "
            f"({', '.join(allowed)}) whose expression is scoped to the hostname(s).",
            urn,
        )


def _plan_allows(plan: str, ruleset: ManagedRuleset) -> bool:
    return PLANS.index(plan) >= PLANS.index(ruleset.minimum_plan)


def _sets_origin_proof(rule: Mapping[str, Any]) -> bool:
    headers = lookup(rule, "actionParameters", "headers")
    if is_unknown(headers):
        return True
    for name, header in (headers if isinstance(headers, Mapping) else {}).items():
        if str(name).lower() != ORIGIN_AUTH_HEADER:
            continue
        value = lookup(header, "value")
        if lookup(header, "operation") == "set" and (
            is_unknown(value) or (isinstance(value, str) and value.strip())
        ):
            return True
    return False


def _check_origin_proof(args: StackValidationArgs, report: ReportViolation) -> None:
    served = _hostnames(args, ORIGIN_PROOF_SCHEMA)
    if not served:
        return
    rulesets = _zone_rulesets(args, ORIGIN_PROOF_PHASE)
    if _unknown_rules(rulesets):
        return
    proven: set[str] = set()
    for ruleset in rulesets:
        for _label, rule in _rules(ruleset):
            expression = rule.get("expression")
            hosts = scoped_hosts(expression) if isinstance(expression, str) else None
            if (
                _enabled(rule)
                and rule.get("action") == "rewrite"
                and hosts is not None
                and len(hosts) == 1
                and _sets_origin_proof(rule)
            ):
                proven |= hosts
    missing = [host for host in served if host not in proven]
    if missing:
        urn = rulesets[0].urn if rulesets else None
        report(
            f"No {ORIGIN_PROOF_PHASE} rule sets the origin proof header {ORIGIN_AUTH_HEADER} "
            f"for {', '.join(missing)}: add a rewrite rule scoped to the hostname whose "
            f'headers set {ORIGIN_AUTH_HEADER} (operation "set", the current secret as value).',
            urn,
        )


POLICIES = [
    stack_policy(
        "cloudflare-rules-hostname-scoped",
        "Checks whether every rule of a Cloudflare zone ruleset acts on exactly one hostname "
        "the stack serves.",
        _check_hostname_scope,
        SCOPE_SCHEMA,
    ),
    stack_policy(
        "cloudflare-managed-waf",
        "Checks whether a managed WAF ruleset the zone's plan allows runs on every hostname "
        "the stack serves.",
        _check_managed_waf,
        WAF_SCHEMA,
    ),
    stack_policy(
        "cloudflare-origin-proof-header",
        "Checks whether the edge sets the origin proof header on every request to each "
        "hostname the stack serves.",
        _check_origin_proof,
        ORIGIN_PROOF_SCHEMA,
    ),
]
