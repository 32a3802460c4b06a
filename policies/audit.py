"""The audit trail (issue 15): a stack's account records its API activity, tamper-evident, and
every bucket's object-level activity.

Sources: the Security Hub user guide, awsdocs/aws-security-hub-user-guide at 47bfe2f (June 2023):
cloudtrail-controls.md (CloudTrail.1, .2, .4, .5, .7) and s3-controls.md (S3.9).

`cloudtrail-multi-region-validated-encrypted`: a stack whose account is covered by an organization
trail says so in its policy config (`organizationTrail: true`, matching the program's
`auditOrganizationTrail`). Otherwise the stack must have a trail with log-file validation
(CloudTrail.4, CIS 1.2.0 2.2 / 1.4.0 3.2), KMS encryption (CloudTrail.2, CIS 1.2.0 2.7 / 1.4.0 3.7)
and delivery to a CloudWatch Logs group (CloudTrail.5, CIS 1.2.0 2.4 / 1.4.0 3.4). Where the stack's
trail is the account's (`accountTrail: true`, the program's `auditAccountTrail`), that trail must
also be multi-region and record read and write management events with no source excluded
(CloudTrail.1, CIS 1.2.0 2.1 / 1.4.0 3.1). Where another stack owns the account trail
(`accountTrail: false`: staging shares prod's account), a trail recording data events only, in one
region or all, is enough: the program gives that stack no second copy of the management events
(billed, $2.00 per 100,000 events, and every CIS alarm twice; tests/components/test_audit_trail.py
holds the program to one account trail).

`s3-bucket-object-events-recorded`: every bucket the stack creates has its object-level activity
recorded: either a trail of the stack records its data events for `AWS::S3::Object` (advanced
event selectors, reads and writes: CIS 1.4.0 3.10/3.11, CIS 3.0.0 3.8/3.9, Security Hub
S3.22/S3.23 added after the snapshot), or it is the source of an S3 server access logging
configuration (`aws:s3/bucketLogging`, S3.9; CloudTrail.7 for the trail's own bucket). Security
Hub's S3.9 and CloudTrail.7 checks look at server access logging only: a bucket covered by data
events still shows FAILED there and its finding is suppressed with this policy as the reason.
"""

from collections.abc import Iterable
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from policies._props import (
    UNKNOWN,
    ConfigSchema,
    boolean_setting,
    config_value,
    contains_unknown,
    is_unknown,
    items,
    lookup,
    plain,
    references,
    resources_of,
    stack_policy,
)

TRAIL = "aws:cloudtrail/trail:Trail"
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
BUCKET_LOGGING_TYPES = (
    "aws:s3/bucketLogging:BucketLogging",
    "aws:s3/bucketLoggingV2:BucketLoggingV2",
)
ORGANIZATION_TRAIL_SETTING = boolean_setting(
    description="The account is covered by an organization trail: no trail of its own needed.",
    default=False,
)
TRAIL_SCHEMA: ConfigSchema = {
    "organizationTrail": ORGANIZATION_TRAIL_SETTING,
    "accountTrail": boolean_setting(
        description="The stack's trail is the account's: multi-region, read and write management "
        "events. False where another stack of the same account owns it: the stack's trails then "
        "record data events only.",
        default=True,
    ),
}
OBJECT_EVENTS_SCHEMA: ConfigSchema = {
    "organizationTrail": boolean_setting(
        description="The account is covered by an organization trail, which records the "
        "buckets' object events: checked where that trail is defined, not here.",
        default=False,
    )
}
VALIDATED_ENCRYPTED: tuple[tuple[str, str], ...] = (
    ("enableLogFileValidation", "log-file validation (enableLogFileValidation)"),
    ("kmsKeyId", "KMS encryption (kmsKeyId)"),
    # CloudTrail.5 (CIS 1.2.0 2.4 / 1.4.0 3.4): the CIS metric filters and alarms read the
    # trail's events from a CloudWatch Logs group.
    ("cloudWatchLogsGroupArn", "delivery to CloudWatch Logs (cloudWatchLogsGroupArn)"),
)
MULTI_REGION = ("isMultiRegionTrail", "multi-region (isMultiRegionTrail)")
MANAGEMENT = "read and write management events, no source excluded (advancedEventSelectors)"
READ_WRITE = frozenset({"true", "false"})
"""The values of the `readOnly` field: read events and write events."""
S3_OBJECT = "AWS::S3::Object"
CLOUDTRAIL_DELIVERY_EVENT = "PutObject"
"""How CloudTrail delivers log files: a trail's own bucket may leave these out."""


# --- field selectors -------------------------------------------------------------------------


def _selectors(trail_props: Any) -> Any:
    """The trail's advanced event selectors: a list, UNKNOWN, or None when it has none."""
    value = lookup(trail_props, "advancedEventSelectors")
    if value is UNKNOWN or contains_unknown(value):
        return UNKNOWN
    return items(value) or None


def _fields(selector: Any) -> dict[str, dict[str, list[Any]]]:
    """field -> {operator: values} of one advanced event selector."""
    found: dict[str, dict[str, list[Any]]] = {}
    for field_selector in items(lookup(selector, "fieldSelectors")):
        if not isinstance(field_selector, dict):
            continue
        operators = {
            operator: items(values)
            for operator, values in field_selector.items()
            if operator != "field" and items(values)
        }
        found.setdefault(str(field_selector.get("field")), {}).update(operators)
    return found


def _read_write(fields: dict[str, dict[str, list[Any]]]) -> frozenset[str] | None:
    """Which of read ("true") and write ("false") events a selector keeps; None when it narrows
    them some other way than `readOnly equals`."""
    if "readOnly" not in fields:
        return READ_WRITE
    operators = fields["readOnly"]
    if set(operators) != {"equals"}:
        return None
    return READ_WRITE & {str(value).lower() for value in operators["equals"]}


def _records_management_events(selector: Any) -> frozenset[str]:
    """The read/write sides of the management events a selector records in full."""
    fields = _fields(selector)
    if fields.get("eventCategory") != {"equals": ["Management"]}:
        return frozenset()
    if set(fields) - {"eventCategory", "readOnly"}:
        return frozenset()  # eventSource exclusions: CloudTrail.1 wants none
    return _read_write(fields) or frozenset()


def _management_sides(props: Any) -> Any:
    """Read/write sides of management events the trail records, or UNKNOWN."""
    selectors = _selectors(props)
    if selectors is UNKNOWN:
        return UNKNOWN
    if selectors is None:
        # Basic event selectors (or none: CloudTrail's default records every management event).
        basic = lookup(props, "eventSelectors")
        if basic is UNKNOWN or contains_unknown(basic):
            return UNKNOWN
        if not items(basic):
            return READ_WRITE
        sides: set[str] = set()
        for selector in items(basic):
            if lookup(selector, "includeManagementEvents") is False:
                continue
            if items(lookup(selector, "excludeManagementEventSources")):
                continue
            kind = lookup(selector, "readWriteType") or "All"
            sides |= {"All": READ_WRITE, "ReadOnly": {"true"}, "WriteOnly": {"false"}}.get(
                kind, set()
            )
        return frozenset(sides)
    return frozenset().union(*(_records_management_events(s) for s in selectors))


# --- the trail -------------------------------------------------------------------------------


def _missing(trail: PolicyResource, account_trail: bool) -> list[str]:
    """What the trail lacks; an unknown value counts as met."""
    props = plain(trail.props)
    requirements = [*VALIDATED_ENCRYPTED, MULTI_REGION] if account_trail else VALIDATED_ENCRYPTED
    missing = []
    for prop, label in requirements:
        value: Any = lookup(props, prop)
        if not is_unknown(value) and not value:
            missing.append(label)
    if account_trail:
        sides = _management_sides(props)
        if sides is not UNKNOWN and sides != READ_WRITE:
            missing.append(MANAGEMENT)
    return missing


def _check_trail(args: StackValidationArgs, report: ReportViolation) -> None:
    config = args.get_config()
    if config_value(config, TRAIL_SCHEMA, "organizationTrail"):
        return
    account_trail = bool(config_value(config, TRAIL_SCHEMA, "accountTrail"))
    trails = list(resources_of(args, TRAIL))
    if any(not _missing(trail, account_trail) for trail in trails):
        return
    if not trails:
        kind = (
            "a multi-region aws.cloudtrail.Trail recording read and write management events"
            if account_trail
            else "an aws.cloudtrail.Trail recording the stack's buckets' data events"
        )
        report(
            f"The stack creates no CloudTrail trail: add {kind}, with log-file validation and a "
            "KMS key (components/audit_trail.py), or set organizationTrail true where an "
            "organization trail covers the account.",
            None,
        )
    for trail in trails:
        report(
            f"Trail '{trail.name}' lacks {', '.join(_missing(trail, account_trail))}.", trail.urn
        )


# --- object events of every bucket -----------------------------------------------------------


def _bucket_arns(bucket: PolicyResource) -> set[str] | None:
    """The bucket's ARN(s) as trails name it, or None while unknown (preview)."""
    props = plain(bucket.props)
    arn, name = lookup(props, "arn"), lookup(props, "bucket")
    found = set()
    if isinstance(arn, str) and arn and not is_unknown(arn):
        found.add(arn)
    if isinstance(name, str) and name and not is_unknown(name):
        found.add(f"arn:aws:s3:::{name}")
    return found or None


def _arn_covers(operators: dict[str, list[Any]], arns: set[str]) -> bool:
    """A `resources.ARN` field selector keeps every object of the bucket: its only operator is
    startsWiths, with a prefix of `<bucket ARN>/` (an object ARN always starts so)."""
    if set(operators) != {"startsWiths"}:
        return False
    return any(
        isinstance(prefix, str) and f"{arn}/".startswith(prefix)
        for prefix in operators["startsWiths"]
        for arn in arns
    )


def _object_event_sides(selector: Any, arns: set[str], log_bucket: bool) -> frozenset[str]:
    """The read/write sides of the bucket's object events a selector records."""
    fields = _fields(selector)
    if fields.get("eventCategory") != {"equals": ["Data"]}:
        return frozenset()
    types = fields.get("resources.type", {})
    if set(types) != {"equals"} or S3_OBJECT not in types["equals"]:
        return frozenset()
    if "resources.ARN" in fields and not _arn_covers(fields["resources.ARN"], arns):
        return frozenset()
    # Only a trail's own bucket may leave out CloudTrail's deliveries (PutObject).
    if "eventName" in fields and (
        not log_bucket or fields["eventName"] != {"notEquals": [CLOUDTRAIL_DELIVERY_EVENT]}
    ):
        return frozenset()
    if set(fields) - {"eventCategory", "resources.type", "resources.ARN", "eventName", "readOnly"}:
        return frozenset()
    return _read_write(fields) or frozenset()


def _logged(args: StackValidationArgs, bucket: PolicyResource) -> bool:
    return any(
        references(logging, "bucket", bucket)
        for logging in resources_of(args, *BUCKET_LOGGING_TYPES)
    )


def _recording_trails(trails: Iterable[PolicyResource]) -> list[PolicyResource]:
    """Trails that record (enableLogging not false)."""
    return [t for t in trails if lookup(plain(t.props), "enableLogging") is not False]


def _check_object_events(args: StackValidationArgs, report: ReportViolation) -> None:
    if config_value(args.get_config(), OBJECT_EVENTS_SCHEMA, "organizationTrail"):
        return
    trails = _recording_trails(resources_of(args, TRAIL))
    selectors = {trail.urn: _selectors(plain(trail.props)) for trail in trails}
    unknown = any(found is UNKNOWN for found in selectors.values())
    for bucket in resources_of(args, *BUCKET_TYPES):
        if _logged(args, bucket):
            continue
        arns = _bucket_arns(bucket)
        if arns is None:
            continue  # its name is not known yet (preview)
        sides: set[str] = set()
        for trail in trails:
            found = selectors[trail.urn]
            if found is UNKNOWN or found is None:
                continue
            log_bucket = references(trail, "s3BucketName", bucket)
            for selector in found:
                sides |= _object_event_sides(selector, arns, log_bucket)
        if sides == READ_WRITE or unknown:
            continue
        lacking = " and ".join(
            label for side, label in (("false", "writes"), ("true", "reads")) if side not in sides
        )
        report(
            f"Bucket '{bucket.name}' ({bucket.urn}): no trail records its object {lacking}: add "
            "an advanced event selector (eventCategory Data, resources.type AWS::S3::Object, "
            "resources.ARN startsWith '<bucket ARN>/') to the stack's trail "
            "(components/audit_trail.py), or an aws.s3.BucketLogging for it.",
            bucket.urn,
        )


POLICIES = [
    stack_policy(
        "cloudtrail-multi-region-validated-encrypted",
        "Checks whether a stack without an organization trail has a CloudTrail trail with "
        "log-file validation and KMS encryption, multi-region with read and write management "
        "events where it is the account trail.",
        _check_trail,
        TRAIL_SCHEMA,
    ),
    stack_policy(
        "s3-bucket-object-events-recorded",
        "Checks whether every bucket of the stack has its object reads and writes recorded, "
        "as data events of a trail of the stack or by S3 server access logging.",
        _check_object_events,
        OBJECT_EVENTS_SCHEMA,
    ),
]
