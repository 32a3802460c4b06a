"""The environment's hostname on Cloudflare: its proxied DNS record, and nothing zone-wide.

The zone (mikoplasticsurgery.com) is shared by staging and prod, and a zone has exactly one
entry-point ruleset per phase and one value per zone setting: those belong to the edge stack
(edge/, components/zone_rulesets.py and zone_settings.py), which serves every environment's
hostname from the `edge` output this stack exports (components/edge_export.py). What stays here
is what is this hostname's alone: the proxied record pointing at this stack's load balancer.
"""

from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare


@dataclass
class CdnArgs:
    zone_id: pulumi.Input[str]
    """Cloudflare zone that holds the site hostname."""
    site_hostname: pulumi.Input[str]
    """Public site hostname, e.g. app.example.com (the proxied CNAME's name)."""
    origin_dns_name: pulumi.Input[str]
    """DNS name of the load balancer the CNAME points at."""


class Cdn(pulumi.ComponentResource):
    """The site's hostname on Cloudflare, proxied to the load balancer."""

    site_url: pulumi.Output[str]
    """https:// URL of the site."""
    record_id: pulumi.Output[str]
    """ID of the proxied CNAME record."""

    def __init__(
        self, name: str, args: CdnArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:edge:Cdn", name, None, opts)

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
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.site_url = pulumi.Output.concat("https://", args.site_hostname)
        self.record_id = record.id
        self.register_outputs({"site_url": self.site_url, "record_id": self.record_id})
