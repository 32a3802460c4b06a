"""Cloudflare in front of the load balancer: proxied DNS, strict TLS, cache rules, API rate limit.

Each Cloudflare phase gets ONE ruleset holding all of its rules, because the API replaces a
phase's rules as a whole; two rulesets for one phase would overwrite each other. The rules
themselves are built in cdn_rules.py.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

from components.cdn_rules import cache_rules, rate_limit_rules
from components.cloudflare_rulesets import zone_phase_ruleset
from config.sections import EdgeSettings

# Zone-wide TLS settings: origin certificate verified, no TLS below 1.2, every http:// redirected.
ZONE_SETTINGS: dict[str, str] = {
    "ssl": "strict",
    "min_tls_version": "1.2",
    "tls_1_3": "on",
    "always_use_https": "on",
    "automatic_https_rewrites": "on",
}


@dataclass
class CdnArgs:
    zone_id: pulumi.Input[str]
    """Cloudflare zone that holds the site hostname."""
    site_hostname: pulumi.Input[str]
    """Public site hostname, e.g. app.example.com (the proxied CNAME's name)."""
    origin_dns_name: pulumi.Input[str]
    """DNS name of the load balancer the CNAME points at."""
    settings: EdgeSettings
    """The /api/* rate limit: requests per period, period and block time."""


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
            name=args.site_hostname,
            type="CNAME",
            content=args.origin_dns_name,
            proxied=True,
            ttl=1,
            comment="Site hostname, proxied to the load balancer (managed by Pulumi)",
            opts=child,
        )
        self._create_zone_settings(name, args.zone_id, child)
        cache = zone_phase_ruleset(
            f"{name}-cache-rules",
            zone_id=args.zone_id,
            phase="http_request_cache_settings",
            name="Cache rules",
            description="Fingerprinted assets a year, HTML revalidated, API and health never",
            rules=cache_rules(),
            opts=child,
        )
        rate_limit = zone_phase_ruleset(
            f"{name}-rate-limit-rules",
            zone_id=args.zone_id,
            phase="http_ratelimit",
            name="Rate limiting rules",
            description="Per-client request limit on the API",
            rules=rate_limit_rules(
                args.settings.api_rate_limit_requests,
                args.settings.api_rate_limit_period_seconds,
                args.settings.api_rate_limit_block_seconds,
            ),
            opts=child,
        )

        self.site_url = pulumi.Output.concat("https://", args.site_hostname)
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
