"""The offline plan's output: a resource tree by component, the policy report, the diff, a summary.

The same content is produced as text for people and as a JSON document for machines.
"""

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from plan.cost import CostDelta, CostEstimate, cost_section
from plan.diff import ResourceChange
from plan.render import SECRET_MARK, RenderedResource

# Inputs a reviewer looks at first, per resource type; other types show their first few scalars.
KEY_PROPERTIES: Mapping[str, tuple[str, ...]] = {
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZone", "mapPublicIpOnLaunch"),
    "aws:ec2/securityGroup:SecurityGroup": ("description",),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "fromPort",
        "toPort",
        "cidrIpv4",
        "cidrIpv6",
        "referencedSecurityGroupId",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        "fromPort",
        "toPort",
        "cidrIpv4",
        "referencedSecurityGroupId",
    ),
    "aws:lb/loadBalancer:LoadBalancer": ("internal", "dropInvalidHeaderFields", "idleTimeout"),
    "aws:lb/listener:Listener": ("port", "protocol", "sslPolicy"),
    "aws:lb/targetGroup:TargetGroup": ("port", "targetType", "deregistrationDelay"),
    "aws:ecs/service:Service": ("launchType", "desiredCount", "healthCheckGracePeriodSeconds"),
    "aws:ecs/taskDefinition:TaskDefinition": ("cpu", "memory", "family"),
    "aws:ecr/repository:Repository": ("imageTagMutability",),
    "aws:kms/key:Key": ("enableKeyRotation", "deletionWindowInDays"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("threshold", "comparisonOperator", "metricName"),
    "aws:cloudwatch/logGroup:LogGroup": ("retentionInDays",),
    "aws:appautoscaling/target:Target": ("minCapacity", "maxCapacity"),
    "cloudflare:index/ruleset:Ruleset": ("phase", "kind"),
    "cloudflare:index/dnsRecord:DnsRecord": ("type", "name", "proxied"),
    "cloudflare:index/zoneSetting:ZoneSetting": ("settingId", "value"),
}
FALLBACK_PROPERTY_COUNT = 3
CHANGE_KINDS = ("add", "change", "remove")
MAX_VALUE_WIDTH = 60
ELIDE_COMMON_PREFIX_OVER = 24
CONTEXT_BEFORE_CHANGE = 16


@dataclass(frozen=True)
class Finding:
    """One policy violation, as the report shows it."""

    policy: str
    level: str
    message: str
    urn: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PlanResult:
    stack: str
    resources: Sequence[RenderedResource]
    findings: Sequence[Finding]
    changes: Sequence[ResourceChange] | None = None
    base: str | None = None
    warnings: Sequence[str] = ()
    release: Mapping[str, str] | None = None
    """The stack's `release` export: image source and reference, commit, front-end build."""
    cost: CostEstimate | None = None
    """The estimated monthly cost (plan/cost.py)."""
    cost_change: CostDelta | None = None
    """With a base: the change's effect on the monthly cost."""

    @property
    def mandatory(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.level == "mandatory"]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "summary": summary_line(self),
            "resources": [resource.to_json() for resource in self.resources],
            "findings": [finding.to_json() for finding in self.findings],
            "warnings": list(self.warnings),
            "release": None if self.release is None else dict(self.release),
            "base": self.base,
            "changes": None if self.changes is None else [c.to_json() for c in self.changes],
            "cost": None if self.cost is None else self.cost.to_json(),
            "cost_change": None if self.cost_change is None else self.cost_change.to_json(),
        }


def _short(value: Any) -> str:
    text = _short_text(value)
    return text if len(text) <= MAX_VALUE_WIDTH else text[: MAX_VALUE_WIDTH - 1] + "…"


def _is_plain_scalar(value: Any) -> bool:
    """Numbers, booleans and strings that are not JSON documents (the secret mark is shown)."""
    if isinstance(value, str):
        return value == SECRET_MARK or not value.startswith(("{", "["))
    return isinstance(value, int | float | bool)


def _changed_values(before: Any, after: Any) -> str:
    """`before -> after`, eliding a long common prefix so the part that changed shows."""
    old, new = _short_text(before), _short_text(after)
    pairs = zip(old, new, strict=False)
    common = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(old), len(new)))
    if common > ELIDE_COMMON_PREFIX_OVER:
        keep = common - CONTEXT_BEFORE_CHANGE
        old, new = "…" + old[keep:], "…" + new[keep:]
    return f"{_short(old)} -> {_short(new)}"


def _short_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def key_properties(resource: RenderedResource) -> str:
    wanted = KEY_PROPERTIES.get(resource.type)
    if wanted is None:
        scalars = [
            key
            for key, value in sorted(resource.inputs.items())
            if key != "name" and _is_plain_scalar(value)
        ]
        wanted = tuple(scalars[:FALLBACK_PROPERTY_COUNT])
    shown = [f"{key}={_short(resource.inputs[key])}" for key in wanted if key in resource.inputs]
    return " ".join(shown)


def _is_component(resource: RenderedResource) -> bool:
    return (
        not resource.type.startswith("pulumi:")
        and resource.type.count(":") == 2
        and (resource.type.split(":")[0] not in ("aws", "cloudflare", "docker", "random"))
    )


def resource_tree(resources: Sequence[RenderedResource]) -> list[str]:
    children: dict[str | None, list[RenderedResource]] = defaultdict(list)
    known = {resource.urn for resource in resources}
    for resource in resources:
        parent = resource.parent if resource.parent in known else None
        children[parent].append(resource)
    lines: list[str] = []

    def walk(parent: str | None, indent: str) -> None:
        siblings = sorted(children[parent], key=lambda r: (not _is_component(r), r.type, r.name))
        for index, resource in enumerate(siblings):
            last = index == len(siblings) - 1
            branch, extension = ("└─ ", "   ") if last else ("├─ ", "│  ")
            details = key_properties(resource)
            protected = " [protected]" if resource.protect else ""
            label = f"{resource.type}  {resource.name}{protected}"
            lines.append(f"{indent}{branch}{label}" + (f"  {details}" if details else ""))
            walk(resource.urn, indent + extension)

    walk(None, "")
    return lines


def findings_section(findings: Sequence[Finding]) -> list[str]:
    if not findings:
        return ["Policies: no violations."]
    lines = ["Policies:"]
    for finding in sorted(findings, key=lambda f: (f.level != "mandatory", f.policy, f.urn or "")):
        where = f" ({finding.urn})" if finding.urn else ""
        lines.append(f"  [{finding.level}] {finding.policy}{where}: {finding.message}")
    return lines


def changes_section(changes: Sequence[ResourceChange], base: str | None) -> list[str]:
    if not changes:
        return [f"Diff against {base}: no changes."]
    symbols = {"add": "+", "remove": "-", "change": "~"}
    lines = [f"Diff against {base}:"]
    for change in changes:
        lines.append(f"  {symbols[change.kind]} {change.type}  {change.urn}")
        lines += [
            f"      {p.path}: {_changed_values(p.before, p.after)}" for p in change.properties
        ]
    return lines


def summary_line(result: PlanResult) -> str:
    components = sum(_is_component(resource) for resource in result.resources)
    advisory = len(result.findings) - len(result.mandatory)
    summary = (
        f"{result.stack}: {len(result.resources)} resources in {components} components, "
        f"{len(result.mandatory)} mandatory and {advisory} advisory policy violations"
    )
    if result.changes is not None:
        counts = {kind: sum(c.kind == kind for c in result.changes) for kind in CHANGE_KINDS}
        summary += (
            f"; against {result.base}: {counts['add']} to add, "
            f"{counts['change']} to change, {counts['remove']} to remove"
        )
    return summary


def release_section(release: Mapping[str, str]) -> list[str]:
    """What the stack would run; under the mock runtime a built image's digest is a stand-in."""
    return ["Release:", *(f"  {name}: {release[name]}" for name in sorted(release))]


def render_text(result: PlanResult) -> str:
    sections = [
        [
            f"Offline plan of stack {result.stack} "
            "(mock runtime, no cloud; secrets show as [secret])"
        ],
        resource_tree(result.resources),
        findings_section(result.findings),
    ]
    if result.release:
        sections.append(release_section(result.release))
    if result.warnings:
        sections.append(["Warnings:", *(f"  {warning}" for warning in result.warnings)])
    if result.changes is not None:
        sections.append(changes_section(result.changes, result.base))
    if result.cost is not None:
        sections.append(cost_section(result.cost, result.cost_change, result.base))
    sections.append([summary_line(result)])
    return "\n\n".join("\n".join(section) for section in sections) + "\n"
