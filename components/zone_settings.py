"""The zone settings the edge stack keeps zone-wide, on purpose.

A zone setting has one value for every hostname of the zone (the clinic's other hostnames as
well as staging and www), so only settings that are right for every one of them are set here;
what is a hostname's own choice is a Configuration Rule in components/zone_rulesets.py (SSL mode
strict, Automatic HTTPS Rewrites). Why each one is zone-wide:

- min_tls_version 1.2: TLS 1.0 and 1.1 are deprecated (RFC 8996) for every hostname, and
  Configuration Rules cannot set a minimum TLS version per hostname on this plan;
- tls_1_3 on: only adds the newer protocol; no client loses access;
- always_use_https on: none of the clinic's hostnames should answer in plain HTTP (forms carry
  patient data); Cloudflare still serves ACME HTTP-01 challenges of its own certificates.

Not set here: `ssl` (per hostname, strict, by Configuration Rule, so a hostname whose origin has
no valid certificate keeps working under the zone's own mode).
"""

from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

ZONE_SETTINGS: dict[str, str] = {
    "min_tls_version": "1.2",
    "tls_1_3": "on",
    "always_use_https": "on",
}


@dataclass
class ZoneSettingsArgs:
    zone_id: pulumi.Input[str]


class ZoneSettings(pulumi.ComponentResource):
    """One cloudflare.ZoneSetting per zone-wide setting (ZONE_SETTINGS)."""

    setting_ids: pulumi.Output[dict[str, str]]

    def __init__(
        self, name: str, args: ZoneSettingsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:edge:ZoneSettings", name, None, opts)
        settings = [
            cloudflare.ZoneSetting(
                f"{name}-{setting_id.replace('_', '-')}",
                zone_id=args.zone_id,
                setting_id=setting_id,
                value=value,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for setting_id, value in ZONE_SETTINGS.items()
        ]
        self.setting_ids = pulumi.Output.all(*[s.id for s in settings]).apply(
            lambda ids: dict(zip(ZONE_SETTINGS, ids, strict=True))
        )
        self.register_outputs({"setting_ids": self.setting_ids})
