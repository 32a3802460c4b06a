"""Security headers set at the Cloudflare edge, from the same function the service uses.

The edge sets them too so that responses Cloudflare serves from cache or generates itself (error
pages) carry the same headers as the service's own responses.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

from app.security_headers import security_headers
from components.cloudflare_rulesets import zone_phase_ruleset
from config.sections import EdgeSettings

# Headers that reveal the origin's software. Cloudflare does not let a transform rule modify or
# remove `Server` (it always answers `Server: cloudflare`), so only these are removed:
# https://developers.cloudflare.com/rules/transform/response-header-modification/#important-remarks
REMOVED_HEADERS = ("X-Powered-By",)


@dataclass
class SecurityHeadersArgs:
    zone_id: pulumi.Input[str]
    """Cloudflare zone the header rule applies to."""
    settings: EdgeSettings
    """Its connectOrigins: origins the browser app calls, for the CSP connect-src (plain)."""


def _header_operations(
    connect_origins: Sequence[str],
) -> dict[str, cloudflare.RulesetRuleActionParametersHeadersArgsDict]:
    """Header name to Cloudflare operation: set every security header, remove the revealing ones."""
    operations: dict[str, cloudflare.RulesetRuleActionParametersHeadersArgsDict] = {
        header: {"operation": "set", "value": value}
        for header, value in security_headers(connect_origins).items()
    }
    operations.update({header: {"operation": "remove"} for header in REMOVED_HEADERS})
    return operations


def _security_header_rules(connect_origins: Sequence[str]) -> list[cloudflare.RulesetRuleArgsDict]:
    return [
        {
            "ref": "security_headers",
            "description": "Security headers on every response (app.security_headers)",
            "expression": "true",
            "action": "rewrite",
            "action_parameters": {"headers": _header_operations(connect_origins)},
        }
    ]


class SecurityHeaders(pulumi.ComponentResource):
    """One http_response_headers_transform ruleset holding the security-header rule."""

    ruleset_id: pulumi.Output[str]
    """ID of the http_response_headers_transform ruleset."""

    def __init__(
        self, name: str, args: SecurityHeadersArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:edge:SecurityHeaders", name, None, opts)

        # The integration URLs are secret config, but a CSP lists origins the browser fetches, so
        # they are public by nature. Taking plain origins (config key connectOrigins) keeps every
        # secret value out of this resource's inputs and out of readable previews.
        ruleset = zone_phase_ruleset(
            f"{name}-response-headers",
            zone_id=args.zone_id,
            phase="http_response_headers_transform",
            name="Security headers",
            description="Same header set as the service, from app.security_headers",
            rules=_security_header_rules(args.settings.connect_origins),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.ruleset_id = ruleset.id
        self.register_outputs({"ruleset_id": self.ruleset_id})
