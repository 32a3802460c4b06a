"""Security headers set at the Cloudflare edge, from the same function and inputs the service uses.

The edge sets them too so that responses Cloudflare serves from cache or generates itself (error
pages) carry the same headers as the service's own responses. The inputs are the SPA's runtime
configuration as the stack routes it (frontend settings and the browser-visible secrets) and the
CSP mode: what the app computes from its container environment, so the two cannot drift (tests
compare the rendered rule with the app's headers for each stack).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

from app.security_headers import security_headers
from components.cloudflare_rulesets import zone_phase_ruleset
from config.sections import FrontendSettings

# Headers that reveal the origin's software. Cloudflare does not let a transform rule modify or
# remove `Server` (it always answers `Server: cloudflare`), so only these are removed:
# https://developers.cloudflare.com/rules/transform/response-header-modification/#important-remarks
REMOVED_HEADERS = ("X-Powered-By",)


@dataclass
class SecurityHeadersArgs:
    zone_id: pulumi.Input[str]
    """Cloudflare zone the header rule applies to."""
    settings: FrontendSettings
    """The browser's runtime configuration routes and the CSP mode."""
    secrets: Mapping[str, pulumi.Output[str]]
    """Secret config values by key; those `settings.browser_secrets` names reach the CSP."""


def header_operations(
    headers: Mapping[str, str],
) -> dict[str, cloudflare.RulesetRuleActionParametersHeadersArgsDict]:
    """Header name to Cloudflare operation: set every security header, remove the revealing ones."""
    operations: dict[str, cloudflare.RulesetRuleActionParametersHeadersArgsDict] = {
        header: {"operation": "set", "value": value} for header, value in headers.items()
    }
    operations.update({header: {"operation": "remove"} for header in REMOVED_HEADERS})
    return operations


def security_header_rules(headers: Mapping[str, str]) -> list[cloudflare.RulesetRuleArgsDict]:
    return [
        {
            "ref": "security_headers",
            "description": "Security headers on every response (app.security_headers)",
            "expression": "true",
            "action": "rewrite",
            "action_parameters": {"headers": header_operations(headers)},
        }
    ]


def edge_headers(
    settings: FrontendSettings, secrets: Mapping[str, pulumi.Output[str]]
) -> pulumi.Output[dict[str, str]]:
    """The header set for the stack's browser configuration, readable in previews.

    The routed secrets are secret config so that they rotate through one flow, but the headers
    carry only their origins, which every page load shows the browser anyway: the result is
    unsecreted so reviewers can read the CSP in a diff. A URL's path (an n8n webhook's path is
    its credential) never reaches it: `connect_origins` keeps scheme, host and port only.
    """
    routed: Sequence[pulumi.Output[str]] = [
        secrets[key] for key in sorted(settings.browser_secrets.values())
    ]
    plain = list(settings.browser_values.values())
    headers = pulumi.Output.all(*routed).apply(
        lambda values: security_headers([*values, *plain], settings.csp_mode)
    )
    return pulumi.Output.unsecret(headers)


class SecurityHeaders(pulumi.ComponentResource):
    """One http_response_headers_transform ruleset holding the security-header rule."""

    ruleset_id: pulumi.Output[str]
    """ID of the http_response_headers_transform ruleset."""

    def __init__(
        self, name: str, args: SecurityHeadersArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:edge:SecurityHeaders", name, None, opts)
        ruleset = zone_phase_ruleset(
            f"{name}-response-headers",
            zone_id=args.zone_id,
            phase="http_response_headers_transform",
            name="Security headers",
            description="Same header set as the service, from app.security_headers",
            rules=edge_headers(args.settings, args.secrets).apply(security_header_rules),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.ruleset_id = ruleset.id
        self.register_outputs({"ruleset_id": self.ruleset_id})
