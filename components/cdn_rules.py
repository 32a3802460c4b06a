"""The Cloudflare rules of one hostname: cache rules by path, and the rate limit on the API.

Pure builders of `cloudflare.RulesetRuleArgsDict` lists, tested without Pulumi by evaluating their
expressions with the policy pack's Rules-language evaluator. One zone serves several hostnames
(staging, www) and a phase has one entry-point ruleset for all of them (components/
zone_rulesets.py), so every builder takes the hostname: each expression starts with
`http.host eq "<hostname>"` and each `ref` with a prefix naming its environment, unique in the
ruleset. Without a hostname the bare path expressions are returned (the tests' form).
"""

import pulumi
import pulumi_cloudflare as cloudflare

from app.contract import API_PREFIX, ASSETS_PREFIX, HEALTH_PATH, RUNTIME_CONFIG_PATH

# The app decides which files under /assets/ are fingerprinted (app/static_files.py: Vite's
# `[name]-[hash]` names get a year, `immutable`; anything else an hour; a missing file `no-store`),
# and the edge follows its Cache-Control instead of deciding again: a regex on the hash would need
# the `matches` operator, which Cloudflare reserves for Business and Enterprise plans
# (https://developers.cloudflare.com/ruleset-engine/rules-language/operators/#comparison-operators),
# and a prefix rule with its own TTL gave an unhashed file a year. So an asset missing on one task
# during a rolling deploy is never kept at the edge.
STATIC_ASSET_EXTENSIONS = (
    "avif",
    "css",
    "gif",
    "ico",
    "jpeg",
    "jpg",
    "js",
    "mjs",
    "png",
    "svg",
    "webp",
    "woff",
    "woff2",
)

API_PATHS = (
    f'http.request.uri.path eq "{API_PREFIX}"'
    f' or starts_with(http.request.uri.path, "{API_PREFIX}/")'
)
HEALTH_PATHS = f'starts_with(http.request.uri.path, "{HEALTH_PATH}")'
RUNTIME_CONFIG = f'http.request.uri.path eq "{RUNTIME_CONFIG_PATH}"'
# Caching rules exclude the never-cached paths themselves, so that no ordering or later edit of
# the bypass rules can let an API or health response be cached.
NEVER_CACHED_EXCLUSION = f"not ({API_PATHS}) and not {HEALTH_PATHS} and not {RUNTIME_CONFIG}"

# Cloudflare requires cf.colo.id among the counting characteristics of every rate-limiting rule:
# https://developers.cloudflare.com/waf/rate-limiting-rules/parameters/#with-the-same-characteristics
RATE_LIMIT_CHARACTERISTICS = ("ip.src", "cf.colo.id")


def scoped(hostname: str | None, expression: str) -> str:
    """`expression` restricted to requests for `hostname` (unchanged without one)."""
    if hostname is None:
        return expression
    host = f'http.host eq "{hostname}"'
    return host if expression == "true" else f"{host} and ({expression})"


def _ref(prefix: str, ref: str) -> str:
    return f"{prefix}_{ref}" if prefix else ref


def _static_assets_expression() -> str:
    extensions = " ".join(f'"{extension}"' for extension in STATIC_ASSET_EXTENSIONS)
    return (
        f'starts_with(http.request.uri.path, "{ASSETS_PREFIX}")'
        f" and http.request.uri.path.extension in {{{extensions}}}"
        f" and {NEVER_CACHED_EXCLUSION}"
    )


def _html_documents_expression() -> str:
    # Single-page-app routes have no extension (/, /booking); the shell itself is index.html.
    # Extension-less API routes (/api/leads) and /health would match too without the exclusion.
    return (
        '(http.request.uri.path.extension eq "" or http.request.uri.path.extension eq "html")'
        f" and {NEVER_CACHED_EXCLUSION}"
    )


def cache_rules(
    hostname: str | None = None, ref_prefix: str = ""
) -> list[cloudflare.RulesetRuleArgsDict]:
    """Cache rules of `hostname` in evaluation order.

    Cache rules stack and, for a conflicting setting, the LAST matching rule wins
    (https://developers.cloudflare.com/cache/how-to/cache-rules/order/), so the never-cache
    rules for /api and /health come last: nothing placed before them can make those cacheable.
    Rules of another hostname never match this one's requests, so hostnames do not interfere.

    No `origin_cache_control`: that setting is Enterprise-only, and on Free, Pro and Business
    Cloudflare already follows the origin's Cache-Control ("Origin Cache Control ... Free, Pro
    and Business customers have this feature enabled by default",
    https://developers.cloudflare.com/cache/concepts/cache-control/).
    """
    rules: list[cloudflare.RulesetRuleArgsDict] = [
        {
            "ref": "cache_static_assets",
            "description": "Build assets: cached as the app says (a year only if hashed)",
            "expression": _static_assets_expression(),
            "action": "set_cache_settings",
            "action_parameters": {
                "cache": True,
                "edge_ttl": {"mode": "respect_origin"},
                "browser_ttl": {"mode": "respect_origin"},
            },
        },
        {
            "ref": "revalidate_html",
            "description": "HTML: cached only as the origin allows (no-cache), so revalidated",
            "expression": _html_documents_expression(),
            "action": "set_cache_settings",
            "action_parameters": {
                "cache": True,
                # Without a Cache-Control header from the origin, bypass rather than apply
                # Cloudflare's default TTLs to HTML.
                "edge_ttl": {"mode": "bypass_by_default"},
                "browser_ttl": {"mode": "respect_origin"},
                "respect_strong_etags": True,
            },
        },
        {
            "ref": "never_cache_api",
            "description": "API responses are never cached",
            "expression": API_PATHS,
            "action": "set_cache_settings",
            "action_parameters": {"cache": False},
        },
        {
            "ref": "never_cache_health",
            "description": "Health checks always reach the origin",
            "expression": HEALTH_PATHS,
            "action": "set_cache_settings",
            "action_parameters": {"cache": False},
        },
        {
            "ref": "never_cache_runtime_config",
            "description": "SPA runtime configuration: a rotated value shows on the next load",
            "expression": RUNTIME_CONFIG,
            "action": "set_cache_settings",
            "action_parameters": {"cache": False},
        },
    ]
    return [_for_host(rule, hostname, ref_prefix) for rule in rules]


def _for_host(
    rule: cloudflare.RulesetRuleArgsDict, hostname: str | None, ref_prefix: str
) -> cloudflare.RulesetRuleArgsDict:
    expression = str(rule["expression"])
    described = f"{hostname}: {rule['description']}" if hostname else rule["description"]
    return {
        **rule,
        "ref": _ref(ref_prefix, str(rule["ref"])),
        "description": described,
        "expression": scoped(hostname, expression),
    }


def rate_limit_rules(
    requests_per_period: pulumi.Input[int],
    period_seconds: pulumi.Input[int],
    block_seconds: pulumi.Input[int],
    hostname: str | None = None,
    ref_prefix: str = "",
) -> list[cloudflare.RulesetRuleArgsDict]:
    """The /api rate limit of `hostname`: one rule (plans count rate-limiting rules)."""
    rule: cloudflare.RulesetRuleArgsDict = {
        "ref": "rate_limit_api",
        "description": "Block a client that sends too many /api requests",
        "expression": API_PATHS,
        "action": "block",
        "ratelimit": {
            "characteristics": list(RATE_LIMIT_CHARACTERISTICS),
            "period": period_seconds,
            "requests_per_period": requests_per_period,
            "mitigation_timeout": block_seconds,
        },
    }
    return [_for_host(rule, hostname, ref_prefix)]
