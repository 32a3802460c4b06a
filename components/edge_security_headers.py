"""Security headers set at the Cloudflare edge, from the same function and inputs the service uses.

The edge sets them too so that responses Cloudflare serves from cache or generates itself (error
pages) carry the same headers as the service's own responses. The inputs are the SPA's runtime
configuration as the stack routes it (frontend settings and the browser-visible secrets) and the
CSP mode: what the app computes from its container environment, so the two cannot drift (tests
compare the edge stack's rendered rule with the app's headers for each hostname).

The environment stack builds the header map (`edge_headers`) and exports it in its `edge` output;
the edge stack turns each hostname's map into that hostname's rule (`security_header_rules`) in
the zone's one http_response_headers_transform ruleset (components/zone_rulesets.py).
"""

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_cloudflare as cloudflare

from app.security_headers import security_headers
from components.cdn_rules import scoped
from config.sections import FrontendSettings

# Headers that reveal the origin's software. Cloudflare does not let a transform rule modify or
# remove `Server` (it always answers `Server: cloudflare`), so only these are removed:
# https://developers.cloudflare.com/rules/transform/response-header-modification/#important-remarks
REMOVED_HEADERS = ("X-Powered-By",)


def header_operations(
    headers: Mapping[str, str],
) -> dict[str, cloudflare.RulesetRuleActionParametersHeadersArgsDict]:
    """Header name to Cloudflare operation: set every security header, remove the revealing ones."""
    operations: dict[str, cloudflare.RulesetRuleActionParametersHeadersArgsDict] = {
        header: {"operation": "set", "value": value} for header, value in headers.items()
    }
    operations.update({header: {"operation": "remove"} for header in REMOVED_HEADERS})
    return operations


def security_header_rules(
    headers: Mapping[str, str], hostname: str | None = None, ref_prefix: str = ""
) -> list[cloudflare.RulesetRuleArgsDict]:
    """The rewrite rule setting `headers` on every response of `hostname`."""
    where = f"{hostname}: s" if hostname else "S"
    return [
        {
            "ref": f"{ref_prefix}_security_headers" if ref_prefix else "security_headers",
            "description": f"{where}ecurity headers on every response (app.security_headers)",
            "expression": scoped(hostname, "true"),
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
