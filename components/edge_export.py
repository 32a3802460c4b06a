"""The `edge` output: what an environment stack tells the edge stack about its hostname.

Both sides read this module: the environment stack builds the output with `edge_export`, the
edge stack reads it back with `read_environment_edge` (through a StackReference). Shape:

    {
      "hostname": "www.mikoplasticsurgery.com",
      "rateLimit": {"requestsPerPeriod": 100, "periodSeconds": 10, "mitigationTimeoutSeconds": 10},
      "responseHeaders": {"Strict-Transport-Security": "...", ...},
      "originAuthSecret": <secret>,
    }

`originAuthSecret` is a secret, so the engine stores the whole output as secret and a
StackReference hands it back secret: the edge stack unsecrets the public fields (readable rules in
previews) and keeps the origin-proof value secret on its own.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from config.edge_stack import EnvironmentReference, RateLimit
from config.sections import EdgeSettings

EDGE_OUTPUT = "edge"
"""The environment stack's export the edge stack reads."""
EDGE_KEYS = ("hostname", "rateLimit", "responseHeaders", "originAuthSecret")


def edge_export(
    settings: EdgeSettings,
    response_headers: pulumi.Input[Mapping[str, str]],
    origin_auth_secret: pulumi.Input[str],
) -> dict[str, Any]:
    """The environment stack's `edge` output (see the module docstring)."""
    return {
        "hostname": settings.site_domain,
        "rateLimit": {
            "requestsPerPeriod": settings.api_rate_limit_requests,
            "periodSeconds": settings.api_rate_limit_period_seconds,
            "mitigationTimeoutSeconds": settings.api_rate_limit_block_seconds,
        },
        "responseHeaders": response_headers,
        "originAuthSecret": pulumi.Output.secret(origin_auth_secret),
    }


@dataclass(frozen=True)
class EnvironmentEdge:
    """One environment's public edge settings, as the edge stack reads them."""

    name: str
    """The environment's name in the edge stack's config (rule refs start with it)."""
    hostname: str
    rate_limit: RateLimit
    response_headers: Mapping[str, str]


class EdgeOutputError(pulumi.RunError):
    """An environment stack's `edge` output is missing or not of the documented shape."""


def parse_edge_output(name: str, stack: str, output: Any) -> EnvironmentEdge:
    """The public part of `output`; EdgeOutputError naming the stack if it has not the shape."""
    missing = [key for key in EDGE_KEYS if not isinstance(output, Mapping) or key not in output]
    if missing:
        raise EdgeOutputError(
            f"environment {name!r}: stack {stack!r} exports no `{EDGE_OUTPUT}` output with "
            f"{', '.join(missing)}; deploy that environment stack first (README, 'How both "
            "environments share the zone')"
        )
    limit = output["rateLimit"]
    return EnvironmentEdge(
        name=name,
        hostname=str(output["hostname"]),
        rate_limit=RateLimit(
            requests_per_period=int(limit["requestsPerPeriod"]),
            period_seconds=int(limit["periodSeconds"]),
            mitigation_timeout_seconds=int(limit["mitigationTimeoutSeconds"]),
        ),
        response_headers={str(k): str(v) for k, v in dict(output["responseHeaders"]).items()},
    )


@dataclass(frozen=True)
class EnvironmentInput:
    """An environment as the edge stack's components take it."""

    name: str
    edge: pulumi.Output[EnvironmentEdge]
    """Public settings (not secret: the rules built from them stay readable in previews)."""
    origin_auth_secret: pulumi.Output[str]
    """The value the edge sets in ORIGIN_AUTH_HEADER for this hostname (secret)."""


def read_environment_edge(
    environment: EnvironmentReference, opts: pulumi.ResourceOptions | None = None
) -> EnvironmentInput:
    """The environment stack's `edge` output, through a StackReference named `<name>-stack`."""
    stack = environment.qualified_stack_name(pulumi.get_organization())
    reference = pulumi.StackReference(f"{environment.name}-stack", stack_name=stack, opts=opts)
    output = reference.require_output(EDGE_OUTPUT)
    public = pulumi.Output.unsecret(output).apply(
        lambda value: parse_edge_output(environment.name, stack, value)
    )
    value: pulumi.Output[str] = output.apply(
        lambda edge: str(edge["originAuthSecret"]) if edge else ""
    )
    secret: pulumi.Output[str] = pulumi.Output.secret(value)
    return EnvironmentInput(environment.name, public, secret)
