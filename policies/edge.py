"""Cloudflare: response security headers, cache rules around the API, rate limiting, zone TLS."""

import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from policies._cf_expression import evaluate_expression, request_fields
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
}
API_SCHEMA: ConfigSchema = {
    "apiPrefix": string_setting(
        description="Path prefix of the API; sample requests under it must never be cached "
        "and must be rate limited.",
        default="/api/",
    )
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


def _rulesets(args: StackValidationArgs, phase: str) -> list[PolicyResource]:
    return [r for r in resources_of(args, RULESET) if lookup(plain(r.props), "phase") == phase]


def _known_rulesets(args: StackValidationArgs, phase: str) -> list[PolicyResource] | None:
    """The rulesets of `phase`; None while some rule is not known yet (preview): the phase's
    checks are then skipped."""
    rulesets = _rulesets(args, phase)
    if any(contains_unknown(lookup(plain(r.props), "rules")) for r in rulesets):
        return None
    return rulesets


def _results(rule: dict[str, Any], paths: list[str]) -> list[bool | None]:
    expression = rule.get("expression")
    if not isinstance(expression, str) or is_unknown(expression):
        return [None for _ in paths]
    return [evaluate_expression(expression, request_fields(*path.split("?", 1))) for path in paths]


def _api_samples(config: Any) -> list[str]:
    prefix = config_value(config, API_SCHEMA, "apiPrefix")
    return [prefix + suffix for suffix in API_SAMPLE_SUFFIXES]


def _sent_headers(args: StackValidationArgs) -> dict[str, str]:
    """Lower-cased header name to value, set by rules that may apply to every page."""
    headers: dict[str, str] = {}
    for ruleset in _rulesets(args, HEADERS_PHASE):
        for _label, rule in _rules(ruleset):
            if rule.get("action") != "rewrite" or False in _results(rule, list(SITE_SAMPLE_PATHS)):
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
    report_only_ok = bool(config_value(args.get_config(), HEADERS_SCHEMA, "allowCspReportOnly"))
    missing = _header_problems(_sent_headers(args), min_age, report_only_ok)
    if missing:
        report(
            f"Cloudflare ruleset {rulesets[0].urn} must set on every response: "
            f"{'; '.join(missing)}.",
            rulesets[0].urn,
        )


def _check_api_not_cached(args: StackValidationArgs, report: ReportViolation) -> None:
    samples = _api_samples(args.get_config())
    rulesets = _known_rulesets(args, CACHE_PHASE)
    if rulesets is None:
        return
    has_bypass = False
    for ruleset in rulesets:
        for label, rule in _rules(ruleset):
            if rule.get("action") != "set_cache_settings":
                continue
            cache = lookup(rule, "actionParameters", "cache")
            results = _results(rule, samples)
            if cache is True and any(result is not False for result in results):
                report(
                    f"Cache rule '{label}' in {ruleset.urn} can match {samples[0]} paths: add "
                    f'`and not starts_with(http.request.uri.path, "{samples[0]}")` to its '
                    "expression.",
                    ruleset.urn,
                )
            has_bypass = has_bypass or (
                cache is False and all(result is True for result in results)
            )
    if not has_bypass:
        report(
            f"No cache rule bypasses the cache for {samples[0]}*: add a set_cache_settings "
            f'rule with cache=false matching starts_with(http.request.uri.path, "{samples[0]}").',
            None,
        )


def _check_api_rate_limited(args: StackValidationArgs, report: ReportViolation) -> None:
    samples = _api_samples(args.get_config())
    rulesets = _known_rulesets(args, RATE_LIMIT_PHASE)
    if rulesets is None:
        return
    for ruleset in rulesets:
        for _label, rule in _rules(ruleset):
            limits = rule.get("action") not in (None, "log") and rule.get("ratelimit")
            if limits and all(result is True for result in _results(rule, samples)):
                return
    report(
        f"No Cloudflare rate-limit rule covers {samples[0]}*: add an {RATE_LIMIT_PHASE} "
        "ruleset rule with ratelimit settings whose expression matches the API prefix.",
        None,
    )


def _check_zone_settings(args: StackValidationArgs, report: ReportViolation) -> None:
    required = config_value(args.get_config(), ZONE_SCHEMA, "requiredZoneSettings")
    settings = list(resources_of(args, ZONE_SETTING))
    for setting_id, allowed in required.items():
        matching = [s for s in settings if lookup(plain(s.props), "settingId") == setting_id]
        values = [lookup(plain(s.props), "value") for s in matching]
        if any(is_unknown(value) or value in allowed for value in values):
            continue
        urn = matching[0].urn if matching else None
        where = f" ({urn})" if urn else ""
        report(
            f"Cloudflare zone setting '{setting_id}'{where} must be set to one of "
            f"{', '.join(allowed)} with a cloudflare.ZoneSetting.",
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
