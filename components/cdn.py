"""Cloudflare in front of the load balancer: proxied DNS, strict TLS, cache rules, API rate limit.

Each Cloudflare phase gets ONE ruleset holding all of its rules, because the API replaces a
phase's rules as a whole; two rulesets for one phase would overwrite each other.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

ONE_YEAR_SECONDS = 31_536_000

# Vite writes only content-hashed files (`[name]-[hash].[ext]`) under /assets/, so the path prefix
# plus a static-file extension is what marks a fingerprinted asset. A regex on the hash would need
# the `matches` operator, which Cloudflare reserves for Business and Enterprise plans:
# https://developers.cloudflare.com/ruleset-engine/rules-language/operators/#comparison-operators
FINGERPRINTED_ASSET_EXTENSIONS = (
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

API_PATHS = 'http.request.uri.path eq "/api" or starts_with(http.request.uri.path, "/api/")'
HEALTH_PATHS = 'starts_with(http.request.uri.path, "/health")'
# Caching rules exclude the never-cached paths themselves, so that no ordering or later edit of
# the bypass rules can let an API or health response be cached.
NEVER_CACHED_EXCLUSION = f"not ({API_PATHS}) and not {HEALTH_PATHS}"

# Zone-wide TLS settings: origin certificate verified, no TLS below 1.2, every http:// redirected.
ZONE_SETTINGS: dict[str, str] = {
    "ssl": "strict",
    "min_tls_version": "1.2",
    "tls_1_3": "on",
    "always_use_https": "on",
    "automatic_https_rewrites": "on",
}

# Cloudflare requires cf.colo.id among the counting characteristics of every rate-limiting rule:
# https://developers.cloudflare.com/waf/rate-limiting-rules/parameters/#with-the-same-characteristics
RATE_LIMIT_CHARACTERISTICS = ("ip.src", "cf.colo.id")


@dataclass
class CdnArgs:
    zone_id: pulumi.Input[str]
    """Cloudflare zone that holds the site hostname."""
    hostname: pulumi.Input[str]
    """Public site hostname, e.g. app.example.com (the proxied CNAME's name)."""
    origin_dns_name: pulumi.Input[str]
    """DNS name of the load balancer the CNAME points at."""
    api_requests_per_period: pulumi.Input[int]
    """Requests one client may send to /api/* per period (per Cloudflare data centre)."""
    api_rate_limit_period_seconds: pulumi.Input[int]
    """Counting period of the /api/* rate limit (10 on Free/Pro plans)."""
    api_rate_limit_block_seconds: pulumi.Input[int]
    """How long a client stays blocked once over the limit (10 on Free/Pro plans)."""


def _fingerprinted_assets_expression() -> str:
    extensions = " ".join(f'"{extension}"' for extension in FINGERPRINTED_ASSET_EXTENSIONS)
    return (
        'starts_with(http.request.uri.path, "/assets/")'
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


def _cache_rules() -> list[cloudflare.RulesetRuleArgsDict]:
    """Cache rules in evaluation order.

    Cache rules stack and, for a conflicting setting, the LAST matching rule wins
    (https://developers.cloudflare.com/cache/how-to/cache-rules/order/), so the never-cache
    rules for /api and /health come last: nothing placed before them can make those cacheable.
    """
    return [
        {
            "ref": "cache_fingerprinted_assets",
            "description": "Fingerprinted assets: cached a year at the edge and in browsers",
            "expression": _fingerprinted_assets_expression(),
            "action": "set_cache_settings",
            "action_parameters": {
                "cache": True,
                "edge_ttl": {"mode": "override_origin", "default": ONE_YEAR_SECONDS},
                "browser_ttl": {"mode": "override_origin", "default": ONE_YEAR_SECONDS},
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
                "origin_cache_control": True,
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
    ]


def _rate_limit_rules(
    requests_per_period: pulumi.Input[int],
    period_seconds: pulumi.Input[int],
    block_seconds: pulumi.Input[int],
) -> list[cloudflare.RulesetRuleArgsDict]:
    return [
        {
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
    ]


class Cdn(pulumi.ComponentResource):
    """The site's hostname on Cloudflare, proxied to the load balancer."""

    site_url: pulumi.Output[str]
    """https:// URL of the site."""
    record_id: pulumi.Output[str]
    """ID of the proxied CNAME record."""
    cache_ruleset_id: pulumi.Output[str]
    """ID of the http_request_cache_settings ruleset."""
    rate_limit_ruleset_id: pulumi.Output[str]
    """ID of the http_ratelimit ruleset."""

    def __init__(
        self, name: str, args: CdnArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:edge:Cdn", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Proxied records must use ttl 1 ("automatic"); Cloudflare answers with its own addresses.
        record = cloudflare.DnsRecord(
            f"{name}-site-record",
            zone_id=args.zone_id,
            name=args.hostname,
            type="CNAME",
            content=args.origin_dns_name,
            proxied=True,
            ttl=1,
            comment="Site hostname, proxied to the load balancer (managed by Pulumi)",
            opts=child,
        )
        self._create_zone_settings(name, args.zone_id, child)
        cache = cloudflare.Ruleset(
            f"{name}-cache-rules",
            zone_id=args.zone_id,
            kind="zone",
            phase="http_request_cache_settings",
            name="Cache rules",
            description="Fingerprinted assets a year, HTML revalidated, API and health never",
            rules=_cache_rules(),
            opts=child,
        )
        rate_limit = cloudflare.Ruleset(
            f"{name}-rate-limit-rules",
            zone_id=args.zone_id,
            kind="zone",
            phase="http_ratelimit",
            name="Rate limiting rules",
            description="Per-client request limit on the API",
            rules=_rate_limit_rules(
                args.api_requests_per_period,
                args.api_rate_limit_period_seconds,
                args.api_rate_limit_block_seconds,
            ),
            opts=child,
        )

        self.site_url = pulumi.Output.concat("https://", args.hostname)
        self.record_id = record.id
        self.cache_ruleset_id = cache.id
        self.rate_limit_ruleset_id = rate_limit.id
        self.register_outputs(
            {
                "site_url": self.site_url,
                "record_id": self.record_id,
                "cache_ruleset_id": self.cache_ruleset_id,
                "rate_limit_ruleset_id": self.rate_limit_ruleset_id,
            }
        )

    def _create_zone_settings(
        self, name: str, zone_id: pulumi.Input[str], child: pulumi.ResourceOptions
    ) -> Sequence[cloudflare.ZoneSetting]:
        return [
            cloudflare.ZoneSetting(
                f"{name}-{setting_id.replace('_', '-')}",
                zone_id=zone_id,
                setting_id=setting_id,
                value=value,
                opts=child,
            )
            for setting_id, value in ZONE_SETTINGS.items()
        ]
