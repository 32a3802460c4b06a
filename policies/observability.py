"""Log groups, and the alarms the platform promises.

Contract with the program: every alarm-type resource (aws.cloudwatch.MetricAlarm, and the
aws.cloudwatch.EventRule for failed ECS deployments) carries the tag `alarm` = its key.
"""

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from policies._props import (
    ConfigSchema,
    Props,
    Report,
    config_value,
    integer_setting,
    is_unknown,
    lookup,
    plain,
    property_check,
    references,
    resource_policy,
    resources_of,
    stack_policy,
    string_list_setting,
    strings,
    tag,
)

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
SNS_TOPIC = "aws:sns/topic:Topic"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
ALARM_TAG = "alarm"

PROMISED_ALARMS = [
    "http-5xx-critical",
    "http-5xx-warning",
    "latency-p95-critical",
    "latency-p95-warning",
    "no-healthy-hosts",
    "unhealthy-hosts",
    "ecs-cpu-high",
    "ecs-memory-high",
    "external-health-check",
    # Failed deliveries of the paging topics, in place of SNS delivery-status logs (SNS.2):
    # one alarm in each paging topic's region, both tagged with this key.
    "alarm-delivery-failed",
    "database-health-failures",
    "booking-failures",
    "csp-violations",
    "deployment-failed",
    "backup-dump-failed",
    "backup-verify-failed",
    "backup-job-failed",
    "backup-dump-not-started",
    "backup-verify-not-started",
    "backup-task-failed-to-start",
    "backup-schedule-undelivered",
    "synthetic-journey-failed",
    # The account trail's CIS alarms (components/audit_trail.py, Security Hub CloudWatch.1-14):
    # only the stack whose trail is the account's has them (policies/config/prod.json).
    "root-account-usage",
    "unauthorized-api-calls",
    "console-signin-without-mfa",
    "iam-policy-changes",
    "cloudtrail-config-changes",
    "console-auth-failures",
    "kms-key-disabled-or-deleted",
    "s3-bucket-policy-changes",
    "aws-config-changes",
    "security-group-changes",
    "nacl-changes",
    "network-gateway-changes",
    "route-table-changes",
    "vpc-changes",
]
DAY_SECONDS = 86_400

RETENTION_SCHEMA: ConfigSchema = {
    "minRetentionDays": integer_setting(
        minimum=1, description="Fewest days a log group may keep its events.", default=30
    )
}
ALARMS_SCHEMA: ConfigSchema = {
    "requiredAlarms": string_list_setting(
        description="Alarm keys (tag `alarm`) the stack must define.", default=PROMISED_ALARMS
    )
}
WIRING_SCHEMA: ConfigSchema = {
    "okActionAlarms": string_list_setting(
        description="Alarm keys that must also notify the topic when they recover (okActions).",
        default=["http-5xx-critical", "latency-p95-critical"],
    )
}

FLOW_LOG_RETENTION_SCHEMA: ConfigSchema = {
    "minFlowLogRetentionDays": integer_setting(
        minimum=1,
        description="Fewest days the log group a VPC flow log writes to may keep its events.",
        default=365,
    )
}
CALENDAR_SCHEMA: ConfigSchema = {
    "wallClockAlarms": string_list_setting(
        description="Alarm keys that must evaluate whole UTC days (a wall clock window).",
        default=["backup-dump-failed", "backup-verify-failed"],
    )
}


def _check_retention(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    days = lookup(props, "retentionInDays")
    if is_unknown(days):
        return
    floor = config_value(args.get_config(), RETENTION_SCHEMA, "minRetentionDays")
    if not isinstance(days, int | float) or days <= 0 or days < floor:
        report(f"Log group '{args.name}' must set retentionInDays to at least {floor}.")


def _flow_log_groups(flow_log: PolicyResource, args: StackValidationArgs) -> list[PolicyResource]:
    """The stack's log groups a flow log writes to (by logDestination, or the older
    logGroupName)."""
    return [
        group
        for group in resources_of(args, LOG_GROUP)
        if references(flow_log, "logDestination", group)
        or references(flow_log, "logGroupName", group)
    ]


def _check_flow_log_retention(args: StackValidationArgs, report: ReportViolation) -> None:
    floor = config_value(args.get_config(), FLOW_LOG_RETENTION_SCHEMA, "minFlowLogRetentionDays")
    for flow_log in resources_of(args, FLOW_LOG):
        for group in _flow_log_groups(flow_log, args):
            days = lookup(plain(group.props), "retentionInDays")
            if is_unknown(days):
                continue
            if not isinstance(days, int | float) or days <= 0 or days < floor:
                report(
                    f"Log group '{group.name}' receives VPC flow log '{flow_log.name}': set its "
                    f"retentionInDays to at least {floor} (a year of network evidence).",
                    group.urn,
                )


_check_log_encryption = property_check(
    "Log group", "kmsKeyId", bool, "to a customer managed KMS key"
)


def _alarm_key(resource: PolicyResource) -> object:
    return tag(plain(resource.props), ALARM_TAG)


def _alarms(args: StackValidationArgs) -> list[PolicyResource]:
    return [r for r in resources_of(args, METRIC_ALARM, EVENT_RULE) if _alarm_key(r) is not None]


def _check_alarms_present(args: StackValidationArgs, report: ReportViolation) -> None:
    required = config_value(args.get_config(), ALARMS_SCHEMA, "requiredAlarms")
    defined = {_alarm_key(alarm) for alarm in _alarms(args)}
    if any(is_unknown(key) for key in defined):
        return
    missing = [key for key in required if key not in defined]
    if missing:
        report(
            f"Promised alarms missing: {', '.join(missing)}; add a MetricAlarm (or EventRule) "
            f"tagged `{ALARM_TAG}` = each key.",
            None,
        )


def _notifies_topic(source: PolicyResource, prop: str, topics: list[PolicyResource]) -> bool:
    actions = lookup(plain(source.props), prop)
    if is_unknown(actions) or any(is_unknown(a) for a in (actions or [])):
        return True
    return any(references(source, prop, topic) for topic in topics) or any(
        action.startswith("arn:aws:sns:") for action in strings(actions)
    )


def _wiring_problem(
    alarm: PolicyResource, args: StackValidationArgs, topics: list[PolicyResource]
) -> str | None:
    if alarm.resource_type == EVENT_RULE:
        targets = [t for t in resources_of(args, EVENT_TARGET) if references(t, "rule", alarm)]
        if any(_notifies_topic(target, "arn", topics) for target in targets):
            return None
        return "add an aws.cloudwatch.EventTarget for this rule whose arn is the alarm topic"
    if not _notifies_topic(alarm, "alarmActions", topics):
        return "put the alarm topic's ARN in alarmActions"
    # FSBP CloudWatch.17 (cloudwatch-controls.md, "CloudWatch alarm actions should be
    # activated"): with actionsEnabled false the actions are configured but never run.
    if lookup(plain(alarm.props), "actionsEnabled") is False:
        return "its actionsEnabled is false, so its actions never run: remove it or set it true"
    ok_keys = config_value(args.get_config(), WIRING_SCHEMA, "okActionAlarms")
    if _alarm_key(alarm) in ok_keys and not _notifies_topic(alarm, "okActions", topics):
        return "put the alarm topic's ARN in okActions too (critical alarms announce recovery)"
    return None


def _check_alarms_wired(args: StackValidationArgs, report: ReportViolation) -> None:
    topics = list(resources_of(args, SNS_TOPIC))
    for alarm in resources_of(args, METRIC_ALARM):
        if _alarm_key(alarm) is None:
            # FSBP CloudWatch.15 judges every alarm: an untagged one would escape the check.
            report(
                f"Alarm '{alarm.name}' ({alarm.urn}) has no '{ALARM_TAG}' tag: tag it with its "
                "key (components/runbooks.py) so its actions are checked.",
                alarm.urn,
            )
    for alarm in _alarms(args):
        problem = _wiring_problem(alarm, args, topics)
        if problem:
            report(
                f"Alarm '{_alarm_key(alarm)}' ({alarm.urn}) notifies nobody: {problem}.", alarm.urn
            )


def _daily_wall_clock_problem(props: Props) -> str | None:
    """Why an alarm does not evaluate whole UTC days, or None."""
    window = lookup(props, "evaluationWindow")
    if is_unknown(window):
        return None
    clock = window.get("wallClockWindow") if isinstance(window, dict) else None
    if not isinstance(clock, dict):
        return "set evaluationWindow.wallClockWindow (the default sliding window moves with time)"
    if clock.get("timezone", "UTC") not in ("UTC", None):
        return f"align the wall clock window to UTC, the schedules' zone, not {clock['timezone']}"
    periods = [props.get("period")] + [
        (query.get("metric") or {}).get("period") for query in props.get("metricQueries") or []
    ]
    known = [period for period in periods if period is not None and not is_unknown(period)]
    if any(period != DAY_SECONDS for period in known):
        return f"use a period of {DAY_SECONDS} s (one day)"
    return None


def _check_calendar_alarms(args: StackValidationArgs, report: ReportViolation) -> None:
    keys = config_value(args.get_config(), CALENDAR_SCHEMA, "wallClockAlarms")
    for alarm in resources_of(args, METRIC_ALARM):
        if _alarm_key(alarm) in keys:
            problem = _daily_wall_clock_problem(plain(alarm.props))
            if problem:
                report(f"Alarm '{_alarm_key(alarm)}' must judge whole days: {problem}.", alarm.urn)


POLICIES = [
    resource_policy(
        "log-group-retention",
        "Checks whether log groups expire their events after a bounded retention period.",
        (LOG_GROUP,),
        _check_retention,
        RETENTION_SCHEMA,
    ),
    resource_policy(
        "log-group-encrypted",
        "Checks whether log groups are encrypted with a customer managed KMS key.",
        (LOG_GROUP,),
        _check_log_encryption,
    ),
    stack_policy(
        "vpc-flow-log-retention",
        "Checks whether the log groups VPC flow logs write to keep their events at least the "
        "configured number of days.",
        _check_flow_log_retention,
        FLOW_LOG_RETENTION_SCHEMA,
    ),
    stack_policy(
        "promised-alarms-present",
        "Checks whether every alarm the platform promises exists, found by its `alarm` tag.",
        _check_alarms_present,
        ALARMS_SCHEMA,
    ),
    stack_policy(
        "backup-alarms-wall-clock-window",
        "Checks whether the backup success alarms evaluate whole UTC days with a wall clock "
        "window.",
        _check_calendar_alarms,
        CALENDAR_SCHEMA,
    ),
    stack_policy(
        "alarms-notify-topic",
        "Checks whether every alarm is tagged, has its actions enabled and notifies an SNS topic "
        "of the stack.",
        _check_alarms_wired,
        WIRING_SCHEMA,
    ),
]
