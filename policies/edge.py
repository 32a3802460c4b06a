"""Cloudflare: response security headers, cache rules around the API, rate limiting, zone TLS.

They apply to the stack that owns the zone's zone-level configuration (the edge stack, edge/:
any zone ruleset or zone setting); an environment stack has none of these by design (its `edge`
output feeds the edge stack) and is skipped. Rules are scoped to hostnames (`http.host eq`),
so each check runs once per hostname the rules name, with that host in the sample requests.
"""

import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from policies._cf_expression import PLANS, evaluate_expression, expression_errors, request_fields
from policies._props import (
    ConfigSchema,
    boolean_setting,
    config_value,
    contains_unknown,
    integer_setting,
    is_unknown,
    items,
    lookup,
    object_setting,
    plain,
    resources_of,
    stack_policy,
    string_setting,
)

RULESET = "cloudflare:index/ruleset:Ruleset"
ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
HEADERS_PHASE = "http_response_headers_transform"
CACHE_PHASE = "http_request_cache_settings"
RATE_LIMIT_PHASE = "http_ratelimit"
CONFIG_PHASE = "http_config_settings"
# Zone settings a Configuration Rule (set_config) may set per hostname instead.
PER_HOSTNAME_SETTINGS = ("ssl",)
SCOPED_HOST = re.compile(r'http\.host eq "([^"]+)"')

SITE_SAMPLE_PATHS = ("/", "/index.html", "/assets/app.js", "/api/health")
API_SAMPLE_SUFFIXES = (
    "",
    "health",
    "v1/leads",
    "leads?page=2",
    "app.js",
    "style.css",
    "logo.png",
    "data.json",
)
SAFE_REFERRER_POLICIES = (
    "no-referrer",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
)

# The zone's plan decides what rule expressions may use (the matches operator needs Business):
# policies/_cf_expression.py. Without a value the strictest plan applies.
PLAN_SETTING = string_setting(
    description="The zone's Cloudflare plan (free, pro, business or enterprise); rule "
    "expressions may use only the operators, fields and functions it includes.",
    default="free",
    pattern=f"^({'|'.join(PLANS)})$",
)
HEADERS_SCHEMA: ConfigSchema = {
    "minHstsMaxAgeSeconds": integer_setting(
        minimum=0,
        description="Smallest Strict-Transport-Security max-age the edge may send.",
        default=31_536_000,
    ),
    "allowCspReportOnly": boolean_setting(
        description="Accept a Content-Security-Policy-Report-Only header in place of an "
        "enforced one (cspMode report-only: trying a stricter policy; nothing is blocked).",
        default=False,
    ),
    "cloudflarePlan": PLAN_SETTING,
}
API_SCHEMA: ConfigSchema = {
    "apiPrefix": string_setting(
        description="Path prefix of the API; sample requests under it must never be cached "
        "and must be rate limited.",
        default="/api/",
    ),
    "cloudflarePlan": PLAN_SETTING,
}
ZONE_SCHEMA: ConfigSchema = {
    "requiredZoneSettings": object_setting(
        values={"type": "array", "items": {"type": "string"}},
        description="Zone setting id to the values it may take.",
        default={
            "ssl": ["strict"],
            "min_tls_version": ["1.2", "1.3"],
            "always_use_https": ["on"],
        },
    )
}


def _rules(ruleset: PolicyResource) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, rule) for each enabled rule of a ruleset."""
    for index, rule in enumerate(items(lookup(plain(ruleset.props), "rules"))):
        if isinstance(rule, dict) and rule.get("enabled") is not False:
            label = rule.get("description") or rule.get("ref") or f"#{index + 1}"
            yield str(label), rule


def _owns_zone(args: StackValidationArgs) -> bool:
    """Whether the stack manages zone-level configuration (a zone ruleset or zone setting)."""
    return bool(list(resources_of(args, RULESET)) or list(resources_of(args, ZONE_SETTING)))


def _hostnames(args: StackValidationArgs) -> list[str | None]:
    """The hostnames the stack's rules are scoped to; [None] when no rule names one."""
    found: set[str] = set()
    for ruleset in resources_of(args, RULESET):
        for _label, rule in _rules(ruleset):
            expression = rule.get("expression")
            if isinstance(expression, str) and not is_unknown(expression):
                found.update(SCOPED_HOST.findall(expression))
    return [*sorted(found)] or [None]


def _on(host: str | None) -> str:
    return f" on {host}" if host else ""


def _rulesets(args: StackValidationArgs, phase: str) -> list[PolicyResource]:
    return [r for r in resources_of(args, RULESET) if lookup(plain(r.props), "phase") == phase]


def _known_rulesets(args: StackValidationArgs, phase: str) -> list[PolicyResource] | None:
    """The rulesets of `phase`; None while some rule is not known yet (preview): the phase's
    checks are then skipped."""
    rulesets = _rulesets(args, phase)
    if any(contains_unknown(lookup(plain(r.props), "rules")) for r in rulesets):
        return None
    return rulesets


def _results(rule: dict[str, Any], paths: list[str], host: str | None = None) -> list[bool | None]:
    expression = rule.get("expression")
    if not isinstance(expression, str) or is_unknown(expression):
        return [None for _ in paths]
    return [evaluate_expression(expression, _request(path, host)) for path in paths]


def _request(path: str, host: str | None) -> dict[str, Any]:
    """A sample request's fields: the path's, and `http.host` when a host is given."""
    fields = request_fields(*path.split("?", 1))
    return {**fields, "http.host": host} if host else fields


def _expression_problems(rule: dict[str, Any], plan: str) -> list[str]:
    """Why Cloudflare would refuse the rule's expression on a zone of `plan`."""
    expression = rule.get("expression")
    if not isinstance(expression, str) or is_unknown(expression):
        return []
    return expression_errors(expression, plan)


def _report_invalid_expressions(
    rulesets: list[PolicyResource], plan: str, report: ReportViolation
) -> None:
    """One violation per rule whose expression Cloudflare would refuse; callers then leave those
    rules out (the ruleset would not deploy)."""
    for ruleset in rulesets:
        for label, rule in _rules(ruleset):
            problems = _expression_problems(rule, plan)
            if problems:
                report(
                    f"Cloudflare rule '{label}' in {ruleset.urn} has an expression Cloudflare "
                    f"refuses on the {plan} plan: {'; '.join(problems)}.",
                    ruleset.urn,
                )


def _api_samples(config: Any) -> list[str]:
    prefix = config_value(config, API_SCHEMA, "apiPrefix")
    return [prefix + suffix for suffix in API_SAMPLE_SUFFIXES]


def _sent_headers(args: StackValidationArgs, plan: str, host: str | None) -> dict[str, str]:
    """Lower-cased header name to value, set by valid rules that may apply to every page of
    `host`."""
    headers: dict[str, str] = {}
    for ruleset in _rulesets(args, HEADERS_PHASE):
        for _label, rule in _rules(ruleset):
            if (
                rule.get("action") != "rewrite"
                or _expression_problems(rule, plan)
                or False in _results(rule, list(SITE_SAMPLE_PATHS), host)
            ):
                continue
            headers_set = lookup(rule, "actionParameters", "headers")
            for name, header in (headers_set if isinstance(headers_set, dict) else {}).items():
                value = lookup(header, "value")
                if lookup(header, "operation") in ("set", "add") and isinstance(value, str):
                    headers[name.lower()] = value
    return headers


def _hsts_problem(value: str | None, min_age: int) -> str | None:
    match = re.search(r"max-age=(\d+)", value or "")
    if (
        not match
        or int(match.group(1)) < min_age
        or "includesubdomains" not in (value or "").lower()
    ):
        return f"Strict-Transport-Security with max-age >= {min_age} and includeSubDomains"
    return None


def _header_problems(headers: dict[str, str], min_age: int, report_only_ok: bool) -> list[str]:
    csp = headers.get("content-security-policy", "")
    if not csp and report_only_ok:
        csp = headers.get("content-security-policy-report-only", "")
    frame_denied = headers.get("x-frame-options", "").upper() == "DENY" or re.search(
        r"frame-ancestors\s+'none'", csp
    )
    checks = [
        (
            _hsts_problem(headers.get("strict-transport-security"), min_age) is None,
            _hsts_problem(None, min_age),
        ),
        ("default-src" in csp, "Content-Security-Policy with a default-src directive"),
        (
            headers.get("x-content-type-options", "").lower() == "nosniff",
            "X-Content-Type-Options: nosniff",
        ),
        (bool(frame_denied), "X-Frame-Options: DENY or CSP frame-ancestors 'none'"),
        (
            headers.get("referrer-policy", "").lower() in SAFE_REFERRER_POLICIES,
            f"Referrer-Policy (one of {', '.join(SAFE_REFERRER_POLICIES)})",
        ),
        (bool(headers.get("permissions-policy")), "Permissions-Policy"),
    ]
    return [message for passed, message in checks if not passed and message]


def _check_security_headers(args: StackValidationArgs, report: ReportViolation) -> None:
    if not _owns_zone(args):
        return
    min_age = config_value(args.get_config(), HEADERS_SCHEMA, "minHstsMaxAgeSeconds")
    rulesets = _known_rulesets(args, HEADERS_PHASE)
    if rulesets is None:
        return
    if not rulesets:
        report(
            f"No Cloudflare ruleset in phase {HEADERS_PHASE}: add one whose rewrite rule sets "
            "the security headers from app.security_headers.",
            None,
        )
        return
    plan = config_value(args.get_config(), HEADERS_SCHEMA, "cloudflarePlan")
    _report_invalid_expressions(rulesets, plan, report)
    report_only_ok = bool(config_value(args.get_config(), HEADERS_SCHEMA, "allowCspReportOnly"))
    for host in _hostnames(args):
        missing = _header_problems(_sent_headers(args, plan, host), min_age, report_only_ok)
        if missing:
            report(
                f"Cloudflare ruleset {rulesets[0].urn} must set on every response{_on(host)}: "
                f"{'; '.join(missing)}.",
                rulesets[0].urn,
            )


def _check_api_not_cached(args: StackValidationArgs, report: ReportViolation) -> None:
    samples = _api_samples(args.get_config())
    rulesets = _known_rulesets(args, CACHE_PHASE)
    if rulesets is None or not _owns_zone(args):
        return
    plan = config_value(args.get_config(), API_SCHEMA, "cloudflarePlan")
    _report_invalid_expressions(rulesets, plan, report)
    reported: set[tuple[str, str]] = set()
    for host in _hostnames(args):
        has_bypass = False
        for ruleset in rulesets:
            for label, rule in _rules(ruleset):
                if rule.get("action") != "set_cache_settings" or _expression_problems(rule, plan):
                    continue
                cache = lookup(rule, "actionParameters", "cache")
                results = _results(rule, samples, host)
                caches_api = cache is True and any(result is not False for result in results)
                if caches_api and (label, ruleset.urn) not in reported:
                    reported.add((label, ruleset.urn))
                    report(
                        f"Cache rule '{label}' in {ruleset.urn} can match {samples[0]} paths: "
                        f'add `and not starts_with(http.request.uri.path, "{samples[0]}")` to '
                        "its expression.",
                        ruleset.urn,
                    )
                has_bypass = has_bypass or (
                    cache is False and all(result is True for result in results)
                )
        if not has_bypass:
            report(
                f"No cache rule bypasses the cache for {samples[0]}*{_on(host)}: add a "
                "set_cache_settings rule with cache=false matching "
                f'starts_with(http.request.uri.path, "{samples[0]}").',
                None,
            )


def _rate_limits(
    rulesets: list[PolicyResource], plan: str, samples: list[str], host: str | None
) -> bool:
    """Whether a valid rate-limiting rule covers every API sample of `host`."""
    for ruleset in rulesets:
        for _label, rule in _rules(ruleset):
            if _expression_problems(rule, plan):
                continue
            limits = rule.get("action") not in (None, "log") and rule.get("ratelimit")
            if limits and all(result is True for result in _results(rule, samples, host)):
                return True
    return False


def _check_api_rate_limited(args: StackValidationArgs, report: ReportViolation) -> None:
    samples = _api_samples(args.get_config())
    rulesets = _known_rulesets(args, RATE_LIMIT_PHASE)
    if rulesets is None or not _owns_zone(args):
        return
    plan = config_value(args.get_config(), API_SCHEMA, "cloudflarePlan")
    _report_invalid_expressions(rulesets, plan, report)
    for host in _hostnames(args):
        if not _rate_limits(rulesets, plan, samples, host):
            report(
                f"No Cloudflare rate-limit rule covers {samples[0]}*{_on(host)}: add an "
                f"{RATE_LIMIT_PHASE} ruleset rule with ratelimit settings whose expression "
                "matches the API prefix.",
                None,
            )


def _set_per_hostname(args: StackValidationArgs, setting_id: str, allowed: list[str]) -> bool:
    """Whether Configuration Rules set `setting_id` to an allowed value for every page of every
    hostname the stack's rules name (the per-hostname form of a zone setting)."""
    if setting_id not in PER_HOSTNAME_SETTINGS:
        return False
    rules = [rule for ruleset in _rulesets(args, CONFIG_PHASE) for _label, rule in _rules(ruleset)]
    setting_rules = [
        rule
        for rule in rules
        if rule.get("action") == "set_config"
        and lookup(rule, "actionParameters", setting_id) in allowed
    ]
    return bool(setting_rules) and all(
        any(False not in _results(rule, list(SITE_SAMPLE_PATHS), host) for rule in setting_rules)
        for host in _hostnames(args)
    )


def _check_zone_settings(args: StackValidationArgs, report: ReportViolation) -> None:
    if not _owns_zone(args):
        return
    required = config_value(args.get_config(), ZONE_SCHEMA, "requiredZoneSettings")
    settings = list(resources_of(args, ZONE_SETTING))
    for setting_id, allowed in required.items():
        matching = [s for s in settings if lookup(plain(s.props), "settingId") == setting_id]
        values = [lookup(plain(s.props), "value") for s in matching]
        if any(is_unknown(value) or value in allowed for value in values):
            continue
        if not matching and _set_per_hostname(args, setting_id, allowed):
            continue
        urn = matching[0].urn if matching else None
        where = f" ({urn})" if urn else ""
        report(
            f"Cloudflare zone setting '{setting_id}'{where} must be set to one of "
            f"{', '.join(allowed)} with a cloudflare.ZoneSetting"
            + (
                " or per hostname with a Configuration Rule."
                if setting_id in PER_HOSTNAME_SETTINGS
                else "."
            ),
            urn,
        )


POLICIES = [
    stack_policy(
        "cloudflare-security-headers",
        "Checks whether the edge sets HSTS, CSP, nosniff, frame denial, referrer and permissions "
        "policy headers on every response.",
        _check_security_headers,
        HEADERS_SCHEMA,
    ),
    stack_policy(
        "cloudflare-api-never-cached",
        "Checks whether no Cloudflare cache rule can cache API paths and one rule bypasses them.",
        _check_api_not_cached,
        API_SCHEMA,
    ),
    stack_policy(
        "cloudflare-api-rate-limited",
        "Checks whether a Cloudflare rate-limiting rule covers every API path.",
        _check_api_rate_limited,
        API_SCHEMA,
    ),
    stack_policy(
        "cloudflare-zone-tls-settings",
        "Checks whether the Cloudflare zone enforces strict origin TLS, TLS 1.2+ and HTTPS.",
        _check_zone_settings,
        ZONE_SCHEMA,
    ),
]
