"""The cross-stack check: every stack rendered together, no singleton claimed twice.

The environment stacks (`staging`, `prod`) share one AWS account and one Cloudflare zone, and the
edge project owns the zone-level things. Each rendered resource may claim something that exists
once: a Cloudflare zone's entry-point ruleset of a phase, a zone setting, a DNS name, or an AWS
physical name unique per account, per region, per parent (a rule per event bus) or worldwide (an
S3 bucket). `check(renderings)` returns every such thing claimed by two resources (in two stacks,
or twice in one); the second `pulumi up` would fail on it (Cloudflare error 20217 for a second
entry point, `EntityAlreadyExists` / `BucketAlreadyExists` for AWS) or, worse, two stacks would
silently overwrite one another (a zone setting), and destroying one would delete what the other
relies on.

What claims what is a table (`AWS_NAMES`, the Cloudflare sets below), not a guess: a name the
program sends is only a claim if the table says so, and `unclassified(renderings)` lists every
rendered name-like input (`name`, `bucket`, `family`, `...Name`, ...) and Cloudflare type the
table does not classify, so a new kind of resource cannot slip through (a test keeps it empty).
Names the provider generates (no name sent, `namePrefix`, `bucketPrefix`) claim nothing.

Scope: the stacks are taken to share one AWS account (the issue's premise; the offline render
knows no account id). A resource's region is its own `region` input (pulumi-aws 7), else its
explicit provider's `region`, else `DEFAULT_REGION_LABEL` (the default provider: every such
resource is taken to be in one region, which can only add collisions, never hide one). A parent
scope (the bus of an EventBridge rule, the cluster of an ECS service...) is the parent resource
itself when the value points at one of the same stack: the parent's own name claim when it has
one, else its URN, which no other stack shares.

`python -m plan.cross_stack [--stacks STACK ...]` renders the stacks (by default every
environment stack, plus the edge project's stacks when `edge/Pulumi.yaml` exists), prints the
report and exits 1 on a collision, 2 when a stack cannot be rendered.
"""

import argparse
import gc
import json
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Literal

from plan.placeholders import placeholder_secrets
from plan.project import PROJECT_DIR, stack_names
from plan.render import RenderedResource, RenderFailed, Rendering, render_stack
from policies.audit import TRAIL

PROVIDER_TYPE_PREFIX: Final = "pulumi:providers:"
DEFAULT_REGION_LABEL: Final = "(default provider region)"
ACCOUNT_LABEL: Final = "(the shared AWS account)"
EDGE_DIR: Final = "edge"

Scope = Literal["global", "account", "region"]


@dataclass(frozen=True)
class Parent:
    """A name unique within a parent: `prop` holds the parent (id, ARN or name); without it the
    service's default parent (`default`, e.g. the `default` event bus) is meant."""

    prop: str
    default: str | None = None


@dataclass(frozen=True)
class NameRule:
    """The input `prop` of a type holds a physical name unique in `namespace` within `scope`
    (and within `parent` when given)."""

    namespace: str
    prop: str
    scope: Scope
    parent: Parent | None = None
    case_insensitive: bool = False


def _region(namespace: str, prop: str = "name", parent: Parent | None = None) -> NameRule:
    return NameRule(namespace, prop, "region", parent)


_IAM: Final[Scope] = "account"
# Type token -> the names it claims. Sources: each service's quotas/naming rules (IAM names are
# unique per account and case-insensitive; S3 bucket names are global; CloudWatch dashboards
# have no region in their ARN (arn:aws:cloudwatch::<account>:dashboard/<name>); alarm names are
# shared by metric and composite alarms; an ECS service name is unique in its cluster, a
# schedule's in its group, a rule's in its bus, an inline role policy's in its role).
AWS_NAMES: Mapping[str, tuple[NameRule, ...]] = {
    # IAM: per account
    "aws:iam/role:Role": (NameRule("IAM role", "name", _IAM, case_insensitive=True),),
    "aws:iam/policy:Policy": (NameRule("IAM policy", "name", _IAM, case_insensitive=True),),
    "aws:iam/instanceProfile:InstanceProfile": (
        NameRule("IAM instance profile", "name", _IAM, case_insensitive=True),
    ),
    "aws:iam/user:User": (NameRule("IAM user", "name", _IAM, case_insensitive=True),),
    "aws:iam/group:Group": (NameRule("IAM group", "name", _IAM, case_insensitive=True),),
    "aws:iam/rolePolicy:RolePolicy": (
        NameRule("IAM inline role policy", "name", _IAM, Parent("role"), case_insensitive=True),
    ),
    # S3: worldwide
    "aws:s3/bucket:Bucket": (NameRule("S3 bucket", "bucket", "global", case_insensitive=True),),
    "aws:s3/bucketV2:BucketV2": (NameRule("S3 bucket", "bucket", "global", case_insensitive=True),),
    # CloudWatch
    "aws:cloudwatch/logGroup:LogGroup": (_region("CloudWatch log group"),),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (_region("CloudWatch alarm"),),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": (_region("CloudWatch alarm", "alarmName"),),
    # CloudWatch Synthetics: a canary's name is unique in its account and region
    "aws:synthetics/canary:Canary": (_region("Synthetics canary"),),
    "aws:cloudwatch/dashboard:Dashboard": (
        NameRule("CloudWatch dashboard", "dashboardName", "account"),
    ),
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": (
        _region("CloudWatch metric filter", parent=Parent("logGroupName")),
    ),
    "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": (
        _region("CloudWatch subscription filter", parent=Parent("logGroup")),
    ),
    "aws:cloudwatch/eventBus:EventBus": (_region("EventBridge event bus"),),
    "aws:cloudwatch/eventRule:EventRule": (
        _region("EventBridge rule", parent=Parent("eventBusName", "default")),
    ),
    # Scheduler
    "aws:scheduler/scheduleGroup:ScheduleGroup": (_region("EventBridge Scheduler group"),),
    "aws:scheduler/schedule:Schedule": (
        _region("EventBridge Scheduler schedule", parent=Parent("groupName", "default")),
    ),
    # Containers
    "aws:ecr/repository:Repository": (_region("ECR repository"),),
    "aws:ecs/cluster:Cluster": (_region("ECS cluster"),),
    "aws:ecs/service:Service": (_region("ECS service", parent=Parent("cluster", "default")),),
    "aws:ecs/taskDefinition:TaskDefinition": (_region("ECS task definition family", "family"),),
    "aws:appautoscaling/policy:Policy": (
        _region("Application Auto Scaling policy", parent=Parent("resourceId")),
    ),
    # CloudTrail: a trail's name is unique in its account and home region
    "aws:cloudtrail/trail:Trail": (_region("CloudTrail trail"),),
    # Keys and secrets
    "aws:kms/alias:Alias": (_region("KMS alias"),),
    "aws:secretsmanager/secret:Secret": (_region("Secrets Manager secret"),),
    "aws:ssm/parameter:Parameter": (_region("SSM parameter"),),
    # Backup
    "aws:backup/vault:Vault": (_region("Backup vault"),),
    "aws:backup/plan:Plan": (_region("Backup plan"),),
    "aws:backup/selection:Selection": (_region("Backup selection", parent=Parent("planId")),),
    "aws:backup/restoreTestingPlan:RestoreTestingPlan": (_region("Backup restore testing plan"),),
    "aws:backup/restoreTestingSelection:RestoreTestingSelection": (
        _region("Backup restore testing selection", parent=Parent("restoreTestingPlanName")),
    ),
    # Messaging
    "aws:sns/topic:Topic": (_region("SNS topic"),),
    "aws:sqs/queue:Queue": (_region("SQS queue"),),
    # Load balancing (names of at most 32 characters; lb and alb are one namespace)
    "aws:lb/loadBalancer:LoadBalancer": (_region("load balancer"),),
    "aws:alb/loadBalancer:LoadBalancer": (_region("load balancer"),),
    "aws:lb/targetGroup:TargetGroup": (_region("target group"),),
    "aws:alb/targetGroup:TargetGroup": (_region("target group"),),
    # Network: a security group's name is unique in its VPC
    "aws:ec2/securityGroup:SecurityGroup": (
        _region("security group", parent=Parent("vpcId", "default VPC")),
    ),
    # Others the program may grow into
    "aws:lambda/function:Function": (_region("Lambda function"),),
    "aws:sfn/stateMachine:StateMachine": (_region("Step Functions state machine"),),
    "aws:dynamodb/table:Table": (_region("DynamoDB table"),),
    "aws:rds/instance:Instance": (
        NameRule("RDS instance", "identifier", "region", case_insensitive=True),
    ),
    "aws:rds/cluster:Cluster": (
        NameRule("RDS cluster", "clusterIdentifier", "region", case_insensitive=True),
    ),
}

# Name-like inputs that claim nothing, by type: references to another resource, or labels.
NOT_CLAIMS: Mapping[str, Mapping[str, str]] = {
    **{
        f"aws:s3/{kind}:{kind[0].upper()}{kind[1:]}": {"bucket": "the bucket it configures"}
        for kind in (
            "bucketLifecycleConfiguration",
            "bucketObjectLockConfiguration",
            "bucketOwnershipControls",
            "bucketPolicy",
            "bucketPublicAccessBlock",
            "bucketServerSideEncryptionConfiguration",
            "bucketVersioning",
            "bucketLogging",
            "bucketNotification",
            "bucketReplicationConfig",
            "bucketCorsConfiguration",
            "bucketWebsiteConfiguration",
        )
    },
    "aws:cloudwatch/metricAlarm:MetricAlarm": {"metricName": "the metric it watches"},
    "aws:cloudwatch/eventTarget:EventTarget": {"eventBusName": "the bus of its rule"},
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": {
        "backupVaultName": "the vault it locks"
    },
    "aws:backup/vaultNotifications:VaultNotifications": {"backupVaultName": "the vault"},
    "aws:backup/vaultPolicy:VaultPolicy": {"backupVaultName": "the vault"},
    "aws:acm/certificate:Certificate": {"domainName": "certificates are not unique by domain name"},
    "aws:ec2/vpcEndpoint:VpcEndpoint": {"serviceName": "the AWS service it reaches"},
    "aws:ecs/taskDefinition:TaskDefinition": {},
    "aws:lambda/permission:Permission": {"functionName": "the function it opens"},
    "docker:index/image:Image": {"imageName": "the repository tag it pushes (a stack's own)"},
    "cloudflare:index/ruleset:Ruleset": {"name": "a label; the claim is (zone, phase)"},
    "cloudflare:index/dnsRecord:DnsRecord": {},
}
GENERATED_NAME_PROPS: Final = frozenset({"namePrefix", "bucketPrefix"})
"""The provider appends a unique suffix: such a name claims nothing."""
NAME_LIKE = re.compile(r"^(name|bucket|family|identifier|alias)$|^[a-z][A-Za-z]*(Name|Identifier)$")

RULESET = "cloudflare:index/ruleset:Ruleset"
ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
DNS_RECORD_TYPES: Final = frozenset(
    {"cloudflare:index/dnsRecord:DnsRecord", "cloudflare:index/record:Record"}
)
# One per zone: a second resource of the type in the same zone overwrites the first.
CLOUDFLARE_ZONE_SINGLETONS: Final = frozenset(
    f"cloudflare:index/{kind}:{kind[0].upper()}{kind[1:]}"
    for kind in (
        "argoSmartRouting",
        "argoTieredCaching",
        "authenticatedOriginPullsSettings",
        "botManagement",
        "customHostnameFallbackOrigin",
        "emailRoutingCatchAll",
        "emailRoutingSettings",
        "managedHeaders",
        "managedTransforms",
        "nelSetting",
        "originTlsComplianceModes",
        "regionalTieredCache",
        "tieredCache",
        "totalTls",
        "universalSslSetting",
        "urlNormalizationSettings",
        "waitingRoomSettings",
        "zoneAutoOriginTlsKex",
        "zoneCacheReserve",
        "zoneCacheVariants",
        "zoneDnsSettings",
        "zoneDnssec",
        "zoneHold",
        "zoneSubscription",
    )
)
# One per (zone, hostname).
CLOUDFLARE_HOSTNAME_SINGLETONS: Final = {
    "cloudflare:index/customHostname:CustomHostname": "hostname",
    "cloudflare:index/regionalHostname:RegionalHostname": "hostname",
}
HOSTNAME_TLS_SETTING = "cloudflare:index/hostnameTlsSetting:HostnameTlsSetting"
AUTHENTICATED_ORIGIN_PULLS = "cloudflare:index/authenticatedOriginPulls:AuthenticatedOriginPulls"
ZONE = "cloudflare:index/zone:Zone"
# Cloudflare types that claim nothing (many may coexist).
CLOUDFLARE_NOT_SINGLETONS: Final = frozenset(
    f"cloudflare:index/{kind}:{kind[0].upper()}{kind[1:]}"
    for kind in (
        "authenticatedOriginPullsCertificate",
        "authenticatedOriginPullsHostnameCertificate",
        "mtlsCertificate",
        "originCaCertificate",
        "pageRule",
        "zoneLockdown",
        "list",
        "listItem",
        "workersScript",
        "workersRoute",
        "apiToken",
    )
)
CLOUDFLARE_CLASSIFIED: Final = (
    {RULESET, ZONE_SETTING, HOSTNAME_TLS_SETTING, AUTHENTICATED_ORIGIN_PULLS, ZONE}
    | DNS_RECORD_TYPES
    | CLOUDFLARE_ZONE_SINGLETONS
    | set(CLOUDFLARE_HOSTNAME_SINGLETONS)
    | CLOUDFLARE_NOT_SINGLETONS
)


@dataclass(frozen=True)
class Claim:
    """One resource's claim on a singleton."""

    key: tuple[str, ...]
    """What is claimed, normalised (equal keys are the same singleton)."""
    what: str
    """The same, for people: e.g. `Cloudflare zone entry-point ruleset of phase http_ratelimit
    in zone 3eed...`."""
    stack: str
    project: str
    urn: str
    name: str
    type: str
    dns: tuple[str, str, str] | None = None
    """(zone, name, record type) of a DNS record claim: the exclusivity rules differ."""

    @property
    def owner(self) -> tuple[str, str]:
        return (self.project, self.stack)

    def describe(self) -> str:
        return f"stack {self.stack} ({self.project}): {self.name} [{self.type}] {self.urn}"


@dataclass(frozen=True)
class Collision:
    """A singleton claimed by two or more resources."""

    what: str
    claims: tuple[Claim, ...]

    @property
    def stacks(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(claim.stack for claim in self.claims))

    def message(self) -> str:
        where = " and ".join(self.stacks) if len(self.stacks) > 1 else f"{self.stacks[0]} twice"
        lines = [f"{self.what} is claimed by {where}:"]
        lines += [f"  - {claim.describe()}" for claim in self.claims]
        return "\n".join(lines)


# --- reading a rendering ---------------------------------------------------------------------


def _project_of(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::<type>::<name>` -> project."""
    parts = urn.split("::")
    return parts[1] if len(parts) > 2 else ""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass
class _Context:
    """Lookups within one rendering: providers' regions and which resource a value points at."""

    rendering: Rendering
    by_urn: dict[str, RenderedResource] = field(init=False)
    by_value: dict[str, list[RenderedResource]] = field(init=False)
    claims_of: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_urn = {resource.urn: resource for resource in self.rendering.resources}
        self.by_value = defaultdict(list)
        for resource in self.rendering.resources:
            if not resource.custom:
                continue
            values = {resource.outputs.get(key) for key in ("id", "arn", "name")}
            values |= {resource.inputs.get(rule.prop) for rule in AWS_NAMES.get(resource.type, ())}
            for value in values:
                text = _text(value)
                if text is not None:
                    self.by_value[text].append(resource)

    def region(self, resource: RenderedResource) -> str:
        own = _text(resource.inputs.get("region"))
        if own:
            return own
        provider = self.by_urn.get(resource.provider.rsplit("::", 1)[0])
        if provider is not None:
            region = _text(provider.inputs.get("region"))
            if region:
                return region
        return DEFAULT_REGION_LABEL

    def parent_scope(self, resource: RenderedResource, parent: Parent) -> tuple[str, ...]:
        value = _text(resource.inputs.get(parent.prop))
        if value is None:
            return ("default", parent.default or "(none)")
        targets = [r for r in self.by_value.get(value, []) if r.urn != resource.urn]
        if not targets:
            return ("value", value)
        target = targets[0]
        own_claims = self.claims_of.get(target.urn)
        if own_claims:
            return own_claims[0]
        return ("resource", _project_of(target.urn), self.rendering.stack, target.urn)


def _aws_claims(context: _Context, resource: RenderedResource) -> Iterator[Claim]:
    for rule in AWS_NAMES.get(resource.type, ()):
        name = _text(resource.inputs.get(rule.prop))
        if name is None:
            continue  # generated by the provider: claims nothing
        normalised = name.lower() if rule.case_insensitive else name
        if rule.scope == "global":
            scope: tuple[str, ...] = ()
            where = "worldwide"
        elif rule.scope == "account":
            scope = (ACCOUNT_LABEL,)
            where = "in the account"
        else:
            region = context.region(resource)
            scope = (ACCOUNT_LABEL, region)
            where = f"in {region}"
        if rule.parent is not None:
            parent_key = context.parent_scope(resource, rule.parent)
            scope = (*scope, *parent_key)
            where += f" under {rule.parent.prop} {parent_key[-1]}"
        yield _claim(
            context,
            resource,
            ("aws", rule.namespace, *scope, normalised),
            f"AWS {rule.namespace} name {name!r} {where}",
        )


def _records_management_events(trail: RenderedResource) -> bool:
    """Whether the trail records management events: an advanced selector of that category, or
    no advanced selectors (basic selectors record them unless told not to)."""
    advanced = trail.inputs.get("advancedEventSelectors")
    if not advanced:
        basic = trail.inputs.get("eventSelectors") or [{}]
        return any(selector.get("includeManagementEvents", True) for selector in basic)
    return any(
        "Management" in (field.get("equals") or [])
        for selector in advanced
        for field in selector.get("fieldSelectors") or []
        if field.get("field") == "eventCategory"
    )


def _account_trail_claims(context: _Context, resource: RenderedResource) -> Iterator[Claim]:
    """One trail per account records its management events (README, "The audit trail"): a second
    copy is billed ($2.00 per 100,000 events) and every CIS alarm on it fires twice."""
    if resource.type == TRAIL and _records_management_events(resource):
        yield _claim(
            context,
            resource,
            ("aws", "cloudtrail-management-events", ACCOUNT_LABEL),
            "The account's management-event trail (auditAccountTrail)",
        )


def _claim(
    context: _Context,
    resource: RenderedResource,
    key: tuple[str, ...],
    what: str,
    dns: tuple[str, str, str] | None = None,
) -> Claim:
    return Claim(
        key=key,
        what=what,
        stack=context.rendering.stack,
        project=_project_of(resource.urn),
        urn=resource.urn,
        name=resource.name,
        type=resource.type,
        dns=dns,
    )


def _dns_name(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _cloudflare_claims(context: _Context, resource: RenderedResource) -> Iterator[Claim]:  # noqa: PLR0911
    inputs = resource.inputs
    zone = _text(inputs.get("zoneId")) or "(unknown zone)"
    kind = resource.type
    if kind == RULESET:
        phase = _text(inputs.get("phase")) or "(no phase)"
        if inputs.get("kind") == "zone":
            yield _claim(
                context,
                resource,
                ("cloudflare", "zone entry point", zone, phase),
                f"Cloudflare zone entry-point ruleset of phase {phase} in zone {zone}",
            )
        elif inputs.get("kind") == "root":
            account = _text(inputs.get("accountId")) or "(unknown account)"
            yield _claim(
                context,
                resource,
                ("cloudflare", "account entry point", account, phase),
                f"Cloudflare account entry-point ruleset of phase {phase} in account {account}",
            )
        return
    if kind == ZONE_SETTING:
        setting = _text(inputs.get("settingId")) or "(no setting id)"
        yield _claim(
            context,
            resource,
            ("cloudflare", "zone setting", zone, setting),
            f"Cloudflare zone setting {setting!r} of zone {zone}",
        )
        return
    if kind in DNS_RECORD_TYPES:
        name = _dns_name(str(inputs.get("name", "")))
        record_type = str(inputs.get("type", "")).upper()
        yield _claim(
            context,
            resource,
            ("cloudflare", "dns", zone, name, record_type),
            f"Cloudflare DNS name {name!r} ({record_type}) in zone {zone}",
            dns=(zone, name, record_type),
        )
        return
    if kind == HOSTNAME_TLS_SETTING:
        setting = _text(inputs.get("settingId")) or "(no setting id)"
        host = _dns_name(str(inputs.get("hostname", "")))
        yield _claim(
            context,
            resource,
            ("cloudflare", "hostname setting", zone, host, setting),
            f"Cloudflare hostname TLS setting {setting!r} of {host} in zone {zone}",
        )
        return
    if kind == AUTHENTICATED_ORIGIN_PULLS:
        for config in inputs.get("configs") or []:
            host = _dns_name(str((config or {}).get("hostname", "")))
            yield _claim(
                context,
                resource,
                ("cloudflare", "hostname origin pulls", zone, host),
                f"Cloudflare per-hostname authenticated origin pulls of {host} in zone {zone}",
            )
        return
    if kind in CLOUDFLARE_HOSTNAME_SINGLETONS:
        host = _dns_name(str(inputs.get(CLOUDFLARE_HOSTNAME_SINGLETONS[kind], "")))
        yield _claim(
            context,
            resource,
            ("cloudflare", kind, zone, host),
            f"Cloudflare {kind.rsplit(':', 1)[-1]} of {host} in zone {zone}",
        )
        return
    if kind in CLOUDFLARE_ZONE_SINGLETONS:
        yield _claim(
            context,
            resource,
            ("cloudflare", kind, zone),
            f"Cloudflare {kind.rsplit(':', 1)[-1]} of zone {zone}",
        )
        return
    if kind == ZONE:
        name = _dns_name(str(inputs.get("name", "")))
        yield _claim(context, resource, ("cloudflare", "zone", name), f"Cloudflare zone {name}")


def _subjects(rendering: Rendering) -> list[RenderedResource]:
    """The custom resources (providers excluded), parents of a scope before their children."""
    return [
        resource
        for resource in rendering.resources
        if resource.custom and not resource.type.startswith(PROVIDER_TYPE_PREFIX)
    ]


def claims(rendering: Rendering) -> list[Claim]:
    """Every singleton the rendering's resources claim."""
    context = _Context(rendering)
    found: list[Claim] = []
    subjects = _subjects(rendering)
    # Claims without a parent first, so a parent scope can name its parent's own claim.
    ordered = sorted(
        subjects,
        key=lambda r: any(rule.parent for rule in AWS_NAMES.get(r.type, ())),
    )
    for resource in ordered:
        produced = [
            *_aws_claims(context, resource),
            *_account_trail_claims(context, resource),
            *(
                _cloudflare_claims(context, resource)
                if resource.type.startswith("cloudflare:")
                else ()
            ),
        ]
        if produced:
            context.claims_of[resource.urn] = [claim.key for claim in produced]
        found.extend(produced)
    return found


# --- the check -------------------------------------------------------------------------------


def _distinct(group: Iterable[Claim]) -> tuple[Claim, ...]:
    """One claim per (owner, URN): the same resource rendered twice is one claimant."""
    seen: dict[tuple[str, str, str], Claim] = {}
    for claim in group:
        seen.setdefault((*claim.owner, claim.urn), claim)
    return tuple(seen.values())


def _dns_collisions(dns_claims: list[Claim]) -> list[Collision]:
    """Per (zone, name): a CNAME excludes every other record of the name; records of one type
    may repeat within a stack (several A records) but not across stacks."""
    by_name: dict[tuple[str, str], list[Claim]] = defaultdict(list)
    for claim in dns_claims:
        assert claim.dns is not None
        by_name[claim.dns[:2]].append(claim)
    collisions: list[Collision] = []
    for (zone, name), group in sorted(by_name.items()):
        distinct = _distinct(group)
        has_cname = any(claim.dns and claim.dns[2] == "CNAME" for claim in distinct)
        if has_cname and len(distinct) > 1:
            types = ", ".join(sorted({claim.dns[2] for claim in distinct if claim.dns}))
            collisions.append(
                Collision(
                    f"Cloudflare DNS name {name!r} in zone {zone} (a CNAME excludes every other "
                    f"record of its name; records: {types})",
                    distinct,
                )
            )
            continue
        by_type: dict[str, list[Claim]] = defaultdict(list)
        for claim in distinct:
            assert claim.dns is not None
            by_type[claim.dns[2]].append(claim)
        for record_type, same in sorted(by_type.items()):
            if len({claim.owner for claim in same}) > 1:
                collisions.append(
                    Collision(
                        f"Cloudflare DNS name {name!r} ({record_type}) in zone {zone}", tuple(same)
                    )
                )
    return collisions


def check_claims(all_claims: Iterable[Claim]) -> list[Collision]:
    """Every singleton among `all_claims` claimed by more than one resource."""
    by_key: dict[tuple[str, ...], list[Claim]] = defaultdict(list)
    dns_claims: list[Claim] = []
    for claim in all_claims:
        if claim.dns is not None:
            dns_claims.append(claim)
        else:
            by_key[claim.key].append(claim)
    collisions = [
        Collision(group[0].what, distinct)
        for _key, group in sorted(by_key.items())
        if len(distinct := _distinct(group)) > 1
    ]
    return collisions + _dns_collisions(dns_claims)


def check(renderings: Sequence[Rendering]) -> list[Collision]:
    """Every singleton claimed twice across (and within) the given stacks' renderings."""
    return check_claims(claim for rendering in renderings for claim in claims(rendering))


def report(renderings: Sequence[Rendering], collisions: Sequence[Collision]) -> str:
    """The printable result of `check`."""
    stacks = ", ".join(f"{r.stack} ({_rendering_project(r)})" for r in renderings)
    if not collisions:
        total = sum(len(claims(rendering)) for rendering in renderings)
        return f"cross-stack check of {stacks}: {total} claims on singletons, none claimed twice.\n"
    lines = [
        f"cross-stack check of {stacks}: {len(collisions)} singleton(s) claimed twice (mandatory):"
    ]
    for collision in collisions:
        lines.append(f"- {collision.message()}")
    return "\n".join(lines) + "\n"


def _rendering_project(rendering: Rendering) -> str:
    projects = {_project_of(resource.urn) for resource in rendering.resources}
    return ", ".join(sorted(projects)) or "no resources"


# --- the guard: nothing name-like goes unclassified ------------------------------------------


def unclassified(renderings: Iterable[Rendering]) -> list[str]:
    """`type.prop` of each rendered name-like input the tables do not classify, and each
    rendered Cloudflare type they do not know: the table must grow before such a resource ships.
    """
    missing: set[str] = set()
    for rendering in renderings:
        for resource in _subjects(rendering):
            if (
                resource.type.startswith("cloudflare:")
                and resource.type not in CLOUDFLARE_CLASSIFIED
            ):
                missing.add(f"{resource.type} (Cloudflare type)")
            claimed = {rule.prop for rule in AWS_NAMES.get(resource.type, ())}
            claimed |= {
                rule.parent.prop for rule in AWS_NAMES.get(resource.type, ()) if rule.parent
            }
            if resource.type in DNS_RECORD_TYPES | {ZONE}:
                claimed.add("name")
            known = claimed | set(NOT_CLAIMS.get(resource.type, {})) | GENERATED_NAME_PROPS
            missing.update(
                f"{resource.type}.{prop}"
                for prop in resource.inputs
                if NAME_LIKE.match(prop) and prop not in known
            )
    return sorted(missing)


# --- rendering every stack -------------------------------------------------------------------


def relabel(rendering: Rendering, stack: str) -> Rendering:
    """The same rendering as another stack would register it (URNs and stack name renamed):
    the same config deployed twice."""
    old = f"urn:pulumi:{rendering.stack}::"
    new = f"urn:pulumi:{stack}::"

    def urn(value: str) -> str:
        return new + value.removeprefix(old) if value.startswith(old) else value

    resources = tuple(
        replace(
            resource,
            urn=urn(resource.urn),
            parent=urn(resource.parent),
            provider=urn(resource.provider),
            dependencies=tuple(urn(d) for d in resource.dependencies),
        )
        for resource in rendering.resources
    )
    return replace(rendering, stack=stack, resources=resources)


def edge_stacks(project_dir: Path | None = None) -> list[str]:
    """The edge project's stacks (`edge/Pulumi.<stack>.yaml`); none before it exists."""
    edge = (project_dir or PROJECT_DIR) / EDGE_DIR
    if not (edge / "Pulumi.yaml").is_file():
        return []
    return stack_names(edge)


Renderer = Callable[[str], Rendering]


def render_environment(stack: str) -> Rendering:
    return render_stack(stack, secret_values=placeholder_secrets())


def render_edge(stack: str, environments: Mapping[str, Rendering]) -> Rendering:
    """The edge stack, its stack references answered by the environments' renderings."""
    outputs = {name: rendering.exports for name, rendering in environments.items()}
    edge = PROJECT_DIR / EDGE_DIR
    return render_stack(
        stack,
        secret_values=placeholder_secrets(edge),
        project_dir=edge,
        stack_outputs=outputs,
    )


def render_all(
    stacks: Sequence[str],
    edge: Sequence[str],
    render_env: Renderer = render_environment,
    render_edge_stack: Callable[[str, Mapping[str, Rendering]], Rendering] = render_edge,
) -> list[Rendering]:
    environments = {stack: render_env(stack) for stack in stacks}
    return [*environments.values(), *(render_edge_stack(s, environments) for s in edge)]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m plan.cross_stack", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument(
        "--stacks",
        nargs="+",
        default=stack_names(),
        help="environment stacks (default: every Pulumi.<stack>.yaml)",
    )
    parser.add_argument(
        "--edge-stacks",
        nargs="*",
        default=None,
        help="edge project stacks (default: every edge/Pulumi.<stack>.yaml)",
    )
    parser.add_argument("--json", type=Path, help="also write the collisions as JSON here")
    return parser.parse_args(list(argv))


def to_json(renderings: Sequence[Rendering], collisions: Sequence[Collision]) -> dict[str, Any]:
    return {
        "stacks": [rendering.stack for rendering in renderings],
        "collisions": [
            {
                "what": collision.what,
                "claims": [
                    {"stack": c.stack, "project": c.project, "urn": c.urn, "name": c.name}
                    for c in collision.claims
                ],
            }
            for collision in collisions
        ],
    }


def main(
    argv: Sequence[str],
    render: Callable[[Sequence[str], Sequence[str]], list[Rendering]] | None = None,
) -> int:
    """0: no singleton claimed twice; 1: a collision (mandatory); 2: a stack did not render."""
    args = parse_args(argv)
    unknown = sorted(set(args.stacks) - set(stack_names()))
    if unknown:
        print(f"cross-stack: unknown stack(s) {', '.join(unknown)}", file=sys.stderr)
        return 2
    edge = edge_stacks() if args.edge_stacks is None else list(args.edge_stacks)
    try:
        renderings = (render or render_all)(args.stacks, edge)
    except (RenderFailed, RuntimeError) as failure:
        print(f"cross-stack: {failure}", file=sys.stderr)
        return 2
    collisions = check(renderings)
    print(report(renderings, collisions), end="")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(to_json(renderings, collisions), indent=2) + "\n")
    return 1 if collisions else 0


if __name__ == "__main__":
    gc.disable()  # one-shot process: see plan/__main__.py
    sys.exit(main(sys.argv[1:]))
