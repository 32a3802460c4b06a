import json
from typing import Any

import pytest

from app.contract import (
    APP_METRICS_NAMESPACE,
    CLIENT_METRICS_NAMESPACE,
    CSP_VIOLATION_REPORTED,
    DATABASE_CHECK_FAILED,
)
from components.alarm_topics import _email_logical_suffix, _key_policy, _topic_policy
from components.alarms import alarm_names_for_rollback
from components.audit_trail import AUDIT_ALARMS
from components.deployment_events import _deployment_failed_pattern
from components.policy_documents import account_administers_key
from components.signals import SIGNALS
from components.synthetics_canary import ALARM_KEY as JOURNEY_ALARM_KEY
from policies.observability import PROMISED_ALARMS
from tests.components.edge_alarm_fixtures import (
    ACCOUNT_ID,
    PAGER_URL,
    RecordingMocks,
    provider_name,
)

# The alarms this component owns: every promised one except the backups' (components/backups.py).
# The backup alarms live in Backups, the journey alarm in SyntheticsCanary, the audit alarms in
# AuditTrail: not in Alarms.
PROMISED_KEYS = {
    key
    for key in PROMISED_ALARMS
    if not key.startswith("backup-")
    and key != JOURNEY_ALARM_KEY
    and key not in {alarm.key for alarm in AUDIT_ALARMS}
}
CRITICAL_KEYS = {
    "http-5xx-critical",
    "latency-p95-critical",
    "no-healthy-hosts",
    "external-health-check",
    "database-health-failures",
}
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
KMS_KEY = "aws:kms/key:Key"
MAIN_TOPIC_ARN = f"arn:aws:sns:eu-central-1:{ACCOUNT_ID}:miko-prod-alarms"
WARNING_TOPIC_ARN = f"arn:aws:sns:eu-central-1:{ACCOUNT_ID}:miko-prod-alarms-warning"
US_EAST_1_TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:miko-prod-alarms-us-east-1"
US_EAST_1_WARNING_TOPIC_ARN = (
    f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:miko-prod-alarms-us-east-1-warning"
)
DELIVERY_FAILED = "alarm-delivery-failed"
DELIVERY_FAILED_US_EAST_1 = "alarm-delivery-failed-us-east-1"
"""The one alarm watched in two regions: its us-east-1 signal's key (tag: DELIVERY_FAILED)."""
STRICTER = {
    "http_5xx_critical_percent": 2.5,
    "http_5xx_warning_percent": 0.5,
    "latency_p95_critical_seconds": 1.5,
    "latency_p95_warning_seconds": 0.75,
    "ecs_cpu_high_percent": 70,
    "ecs_memory_high_percent": 75,
    "database_failing_minutes": 5,
    "booking_failures_per_period": 2,
    "csp_violations_per_period": 40,
    "evaluation_periods": 3,
    "availability_evaluation_periods": 1,
}


@pytest.fixture(scope="module")
def rendered(render_alarms):
    return render_alarms()


def _alarms_by_key(mocks: RecordingMocks) -> dict[str, Any]:
    """Every metric alarm by its signal's key (its name's suffix): the alarm key but for the
    us-east-1 alarm of alarm-delivery-failed, which shares that alarm's tag."""
    return {
        alarm.inputs["name"].removeprefix("miko-prod-"): alarm
        for alarm in mocks.of_type(METRIC_ALARM)
    }


def _alarm_tags(mocks: RecordingMocks) -> set[str]:
    return {alarm.inputs["tags"]["alarm"] for alarm in mocks.of_type(METRIC_ALARM)}


# --- pure builders ----------------------------------------------------------------------------


def test_rollback_alarm_names_are_the_critical_rate_and_latency_alarms():
    assert alarm_names_for_rollback("miko-prod") == [
        "miko-prod-http-5xx-critical",
        "miko-prod-latency-p95-critical",
    ]


def test_key_policy_lets_the_account_administer_and_publishers_encrypt():
    policy = json.loads(
        _key_policy(ACCOUNT_ID, ["events.amazonaws.com", "cloudwatch.amazonaws.com"])
    )

    admin, alarms, events = policy["Statement"]
    assert admin == account_administers_key(ACCOUNT_ID)  # the shared builder's statement
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    for publishers in (alarms, events):
        assert publishers["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    # The confused-deputy guard where the service supports it: CloudWatch, not EventBridge
    # (its KMS key policies do not support the source keys).
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
    assert "Condition" not in events


def test_critical_key_policy_grants_only_cloudwatch_guarded():
    policy = json.loads(_key_policy(ACCOUNT_ID, ["cloudwatch.amazonaws.com"]))

    _, alarms = policy["Statement"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}


def test_topic_policy_allows_only_this_account_and_tls():
    policy = json.loads(_topic_policy(MAIN_TOPIC_ARN, ACCOUNT_ID, ["cloudwatch.amazonaws.com"]))

    allow, deny = policy["Statement"]
    assert allow["Effect"] == "Allow"
    assert allow["Action"] == "sns:Publish"
    assert allow["Resource"] == MAIN_TOPIC_ARN
    assert allow["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_deployment_event_pattern_matches_only_this_service_failing():
    pattern = json.loads(_deployment_failed_pattern("miko-prod-cluster", "miko-prod-app"))

    assert pattern == {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Deployment State Change"],
        "resources": [{"suffix": ":service/miko-prod-cluster/miko-prod-app"}],
        "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]},
    }


def test_email_logical_names_ignore_case_and_differ_per_address():
    assert _email_logical_suffix("Lead@Example.com") == _email_logical_suffix("lead@example.com")
    assert _email_logical_suffix("a@example.com") != _email_logical_suffix("b@example.com")


# --- the component under mocks ----------------------------------------------------------------


def test_every_promised_alarm_exists_with_its_tag(rendered):
    (rule,) = rendered.of_type("aws:cloudwatch/eventRule:EventRule")

    assert _alarm_tags(rendered) | {rule.inputs["tags"]["alarm"]} == PROMISED_KEYS
    # Every key one alarm (the rule's one), alarm-delivery-failed one in each paging region.
    assert len(rendered.of_type(METRIC_ALARM)) == len(PROMISED_KEYS) - 1 + 1


def test_every_alarmed_signal_of_the_catalogue_has_its_alarm(rendered):
    alarmed = {signal.key for signal in SIGNALS if signal.severity is not None}

    assert set(_alarms_by_key(rendered)) == alarmed


def test_alarm_names_follow_the_prefix_and_include_the_rollback_alarms(rendered):
    signals = {signal.key: signal for signal in SIGNALS if signal.severity is not None}
    names = {key: alarm.inputs["name"] for key, alarm in _alarms_by_key(rendered).items()}

    assert set(names) == set(signals)
    for key, alarm in _alarms_by_key(rendered).items():
        assert alarm.inputs["tags"] == {"alarm": signals[key].alarm_key}
    assert set(alarm_names_for_rollback("miko-prod")) <= set(names.values())


EXPECTED_ROUTES = {
    "http-5xx-critical": MAIN_TOPIC_ARN,
    "latency-p95-critical": MAIN_TOPIC_ARN,
    "no-healthy-hosts": MAIN_TOPIC_ARN,
    "database-health-failures": MAIN_TOPIC_ARN,
    "external-health-check": US_EAST_1_TOPIC_ARN,
    "http-5xx-warning": WARNING_TOPIC_ARN,
    "latency-p95-warning": WARNING_TOPIC_ARN,
    "unhealthy-hosts": WARNING_TOPIC_ARN,
    "ecs-cpu-high": WARNING_TOPIC_ARN,
    "ecs-memory-high": WARNING_TOPIC_ARN,
    "booking-failures": WARNING_TOPIC_ARN,
    "csp-violations": WARNING_TOPIC_ARN,
    # A failed page is told by email (the warning topics), not by the pager that failed.
    DELIVERY_FAILED: WARNING_TOPIC_ARN,
    DELIVERY_FAILED_US_EAST_1: US_EAST_1_WARNING_TOPIC_ARN,
}


@pytest.mark.parametrize("key", sorted(EXPECTED_ROUTES))
def test_each_alarm_notifies_the_topic_of_its_severity(rendered, key):
    alarm = _alarms_by_key(rendered)[key]
    topic = EXPECTED_ROUTES[key]

    assert alarm.inputs["alarmActions"] == [topic]
    if key in CRITICAL_KEYS:
        assert alarm.inputs["okActions"] == [topic]
    else:
        assert "okActions" not in alarm.inputs


def test_routing_table_covers_every_metric_alarm_and_criticals_avoid_warning_topic(rendered):
    assert set(_alarms_by_key(rendered)) == set(EXPECTED_ROUTES)
    warning_topics = {WARNING_TOPIC_ARN, US_EAST_1_WARNING_TOPIC_ARN}
    assert {key for key, topic in EXPECTED_ROUTES.items() if topic not in warning_topics} == (
        CRITICAL_KEYS
    )


def test_failed_deployments_reach_the_warning_topic(rendered):
    (rule,) = rendered.of_type("aws:cloudwatch/eventRule:EventRule")
    (target,) = rendered.of_type("aws:cloudwatch/eventTarget:EventTarget")

    assert json.loads(rule.inputs["eventPattern"])["detail"] == {
        "eventName": ["SERVICE_DEPLOYMENT_FAILED"]
    }
    assert target.inputs["rule"] == "miko-prod-deployment-failed"
    assert target.inputs["arn"] == WARNING_TOPIC_ARN


def test_5xx_rate_is_metric_math_over_request_count(rendered):
    queries = _alarms_by_key(rendered)["http-5xx-critical"].inputs["metricQueries"]

    metrics = {query["metric"]["metricName"] for query in queries if "metric" in query}
    assert metrics == {"HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count", "RequestCount"}
    (returned,) = [query for query in queries if query["returnData"]]
    assert "100 * errors / responses" in returned["expression"]
    expressions = " ".join(query.get("expression", "") for query in queries)
    assert "FILL(target_5xx, 0)" in expressions
    assert "FILL(elb_5xx, 0)" in expressions


def test_latency_alarms_use_p95_target_response_time(rendered):
    for key in ("latency-p95-critical", "latency-p95-warning"):
        alarm = _alarms_by_key(rendered)[key].inputs
        assert alarm["metricName"] == "TargetResponseTime"
        assert alarm["extendedStatistic"] == "p95"
        assert "statistic" not in alarm


def test_no_healthy_hosts_fires_below_one_and_on_missing_data(rendered):
    alarm = _alarms_by_key(rendered)["no-healthy-hosts"].inputs

    assert alarm["metricName"] == "HealthyHostCount"
    assert alarm["comparisonOperator"] == "LessThanThreshold"
    assert alarm["threshold"] == 1
    assert alarm["treatMissingData"] == "breaching"
    assert alarm["dimensions"] == {
        "LoadBalancer": "app/miko-prod/0123456789abcdef",
        "TargetGroup": "targetgroup/miko-prod/fedcba9876543210",
    }


def test_ecs_alarms_watch_this_service(rendered):
    for key, metric in (
        ("ecs-cpu-high", "CPUUtilization"),
        ("ecs-memory-high", "MemoryUtilization"),
    ):
        alarm = _alarms_by_key(rendered)[key].inputs
        assert alarm["namespace"] == "AWS/ECS"
        assert alarm["metricName"] == metric
        assert alarm["dimensions"] == {
            "ClusterName": "miko-prod-cluster",
            "ServiceName": "miko-prod-app",
        }


def _threshold_view(mocks: RecordingMocks) -> dict[str, tuple[float, float, float]]:
    return {
        key: (
            alarm.inputs["threshold"],
            alarm.inputs["evaluationPeriods"],
            alarm.inputs.get("period", 0),
        )
        for key, alarm in _alarms_by_key(mocks).items()
    }


def test_thresholds_come_from_the_settings(rendered, render_alarms, alarm_settings):
    stricter = _threshold_view(render_alarms(alarm_settings.model_copy(update=STRICTER)))
    staging = _threshold_view(rendered)

    assert staging["http-5xx-critical"][0] == 5
    assert stricter["http-5xx-critical"][0] == 2.5
    assert stricter["http-5xx-warning"][0] == 0.5
    assert stricter["latency-p95-critical"] == (1.5, 3, 60)
    assert stricter["latency-p95-warning"][0] == 0.75
    assert stricter["ecs-cpu-high"][0] == 70
    assert stricter["ecs-memory-high"][0] == 75
    # The threshold derives from the check interval; the stack chooses the minutes.
    assert stricter["database-health-failures"][:2] == (1, 5)
    assert stricter["no-healthy-hosts"][1] == 1
    assert stricter["external-health-check"][1] == 1
    changed = {key for key in staging if staging[key] != stricter[key]}
    # The delivery alarms' threshold and period are fixed: one failure in five minutes.
    assert changed == set(staging) - {DELIVERY_FAILED, DELIVERY_FAILED_US_EAST_1}


def test_external_check_calls_health_from_several_regions(rendered):
    (check,) = rendered.of_type("aws:route53/healthCheck:HealthCheck")

    assert check.inputs["type"] == "HTTPS"
    assert check.inputs["fqdn"] == "app.example.com"
    assert check.inputs["resourcePath"] == "/health"
    assert check.inputs["requestInterval"] == 30
    assert check.inputs["failureThreshold"] == 3
    assert len(check.inputs["regions"]) >= 3


def test_external_check_alarm_lives_in_us_east_1(rendered):
    alarm = _alarms_by_key(rendered)["external-health-check"]

    assert provider_name(alarm.provider) == "us-east-1"
    assert alarm.inputs["namespace"] == "AWS/Route53"
    assert alarm.inputs["metricName"] == "HealthCheckStatus"
    assert alarm.inputs["dimensions"] == {"HealthCheckId": "alarms-site-health-check-id"}
    assert alarm.inputs["treatMissingData"] == "breaching"
    in_us_east_1 = {"external-health-check", DELIVERY_FAILED_US_EAST_1}
    for other in set(_alarms_by_key(rendered)) - in_us_east_1:
        assert provider_name(_alarms_by_key(rendered)[other].provider) == "main", other


def test_main_region_topics_share_one_key_and_us_east_1_has_its_own(rendered):
    critical = rendered.named("alarms-topic")
    warning = rendered.named("alarms-warning-topic")
    east_topic = rendered.named("alarms-us-east-1-topic")

    assert critical.inputs["name"] == "miko-prod-alarms"
    assert warning.inputs["name"] == "miko-prod-alarms-warning"
    assert critical.inputs["kmsMasterKeyId"].endswith(":key/alarms-key")
    assert warning.inputs["kmsMasterKeyId"] == critical.inputs["kmsMasterKeyId"]
    assert east_topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:us-east-1:")
    assert provider_name(east_topic.provider) == "us-east-1"
    assert provider_name(rendered.named("alarms-us-east-1-key").provider) == "us-east-1"
    assert len(rendered.of_type(KMS_KEY)) == 2
    main_key = json.loads(rendered.named("alarms-key").inputs["policy"])
    assert [s["Principal"]["Service"] for s in main_key["Statement"][1:]] == [
        "cloudwatch.amazonaws.com",
        "events.amazonaws.com",
    ]
    assert rendered.named("alarms-key").inputs["enableKeyRotation"] is True


def test_only_the_warning_topic_accepts_eventbridge(rendered):
    def publishers(logical_name: str) -> Any:
        policy = json.loads(rendered.named(f"{logical_name}-policy").inputs["policy"])
        return policy["Statement"][0]["Principal"]["Service"]

    assert publishers("alarms-topic") == ["cloudwatch.amazonaws.com"]
    assert publishers("alarms-us-east-1-topic") == ["cloudwatch.amazonaws.com"]
    assert publishers("alarms-warning-topic") == [
        "cloudwatch.amazonaws.com",
        "events.amazonaws.com",
    ]


def _subscribers_by_topic(mocks: RecordingMocks) -> dict[str, set[tuple[str, str]]]:
    by_topic: dict[str, set[tuple[str, str]]] = {}
    for subscription in mocks.of_type(SUBSCRIPTION):
        by_topic.setdefault(subscription.inputs["topic"], set()).add(
            (subscription.inputs["protocol"], subscription.inputs["endpoint"])
        )
    return by_topic


def test_pager_only_on_critical_topics_and_emails_on_every_topic(rendered, alarm_settings):
    emails = {("email", email) for email in alarm_settings.emails}
    paged = emails | {("https", PAGER_URL)}

    assert _subscribers_by_topic(rendered) == {
        MAIN_TOPIC_ARN: paged,
        US_EAST_1_TOPIC_ARN: paged,
        WARNING_TOPIC_ARN: emails,
        US_EAST_1_WARNING_TOPIC_ARN: emails,
    }


@pytest.mark.parametrize("protect", [True, False])
def test_topic_keys_are_protected_as_asked(render_alarms, protect):
    mocks = render_alarms(protect=protect)

    keys = mocks.of_type(KMS_KEY)
    assert len(keys) == 2
    assert {key.protect for key in keys} == {protect}


def test_pager_endpoint_is_secret_and_nowhere_in_plaintext(rendered):
    pagers = [sub for sub in rendered.of_type(SUBSCRIPTION) if sub.inputs["protocol"] == "https"]

    assert len(pagers) == 2
    assert all(pager.secret_inputs == {"endpoint"} for pager in pagers)
    for resource in rendered.registered:
        plain = {
            key: value
            for key, value in resource.inputs.items()
            if key not in resource.secret_inputs
        }
        assert PAGER_URL not in json.dumps(plain), resource.name


def test_pager_given_as_plain_string_is_still_made_secret(render_alarms):
    mocks = render_alarms(pager_url="https://events.example-pager.com/plain-key")

    pagers = [sub for sub in mocks.of_type(SUBSCRIPTION) if sub.inputs["protocol"] == "https"]
    assert [pager.secret_inputs for pager in pagers] == [{"endpoint"}, {"endpoint"}]


def test_no_pager_url_means_only_email_subscriptions(render_alarms):
    mocks = render_alarms(pager_url=None)

    protocols = {sub.inputs["protocol"] for sub in mocks.of_type(SUBSCRIPTION)}
    assert protocols == {"email"}


def test_database_failures_are_counted_from_the_app_logs(rendered):
    (metric_filter,) = [
        found
        for found in rendered.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
        if found.inputs["pattern"] == DATABASE_CHECK_FAILED.filter_pattern()
    ]
    alarm = _alarms_by_key(rendered)["database-health-failures"].inputs

    assert metric_filter.inputs["logGroupName"] == "/ecs/miko-prod/app"
    transformation = metric_filter.inputs["metricTransformation"]
    assert transformation["namespace"] == APP_METRICS_NAMESPACE == alarm["namespace"]
    assert transformation["name"] == "miko-prod-database-health-failures" == alarm["metricName"]
    assert alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_csp_violation_reports_are_counted_from_the_app_logs(rendered, alarm_settings):
    alarm = _alarms_by_key(rendered)["csp-violations"].inputs
    (metric_filter,) = [
        found
        for found in rendered.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
        if found.inputs["metricTransformation"]["name"] == alarm["metricName"]
    ]

    # The pattern is the contract's, which the app's own log line matches (tests/app).
    assert metric_filter.inputs["pattern"] == CSP_VIOLATION_REPORTED.filter_pattern()
    assert alarm["threshold"] == alarm_settings.csp_violations_per_period
    assert alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_outputs_name_every_alarm_and_every_topic(render_alarms):
    outputs: dict[str, Any] = {}
    render_alarms(outputs=outputs)

    assert set(outputs["alarm_names"]) == PROMISED_KEYS | {DELIVERY_FAILED_US_EAST_1}
    assert outputs["alarm_names"][DELIVERY_FAILED_US_EAST_1] == (
        "miko-prod-alarm-delivery-failed-us-east-1"
    )
    assert outputs["alarm_names"]["deployment-failed"] == "miko-prod-deployment-failed"
    assert outputs["topic_arn"] == MAIN_TOPIC_ARN
    assert outputs["warning_topic_arn"] == WARNING_TOPIC_ARN
    assert outputs["us_east_1_topic_arn"] == US_EAST_1_TOPIC_ARN
    assert outputs["us_east_1_warning_topic_arn"] == US_EAST_1_WARNING_TOPIC_ARN
    assert outputs["health_check_id"] == "alarms-site-health-check-id"


def test_booking_failures_warn_from_the_browsers_metric(rendered, alarm_settings):
    alarm = rendered.named("alarms-booking-failures").inputs
    assert alarm["namespace"] == CLIENT_METRICS_NAMESPACE
    assert alarm["metricName"] == "booking_failed"
    assert alarm["dimensions"] == {"Environment": "production"}
    assert alarm["threshold"] == alarm_settings.booking_failures_per_period


# --- failed alarm deliveries (instead of SNS delivery-status logs, FSBP SNS.2) ----------------


@pytest.mark.parametrize(
    ("key", "topic_name", "region", "notified"),
    [
        (DELIVERY_FAILED, "miko-prod-alarms", "main", WARNING_TOPIC_ARN),
        (
            DELIVERY_FAILED_US_EAST_1,
            "miko-prod-alarms-us-east-1",
            "us-east-1",
            US_EAST_1_WARNING_TOPIC_ARN,
        ),
    ],
)
def test_failed_deliveries_of_each_paging_topic_are_emailed_from_its_region(
    rendered, key, topic_name, region, notified
):
    alarm = _alarms_by_key(rendered)[key]
    inputs = alarm.inputs

    assert provider_name(alarm.provider) == region
    assert inputs["namespace"] == "AWS/SNS"
    assert inputs["metricName"] == "NumberOfNotificationsFailed"
    assert inputs["dimensions"] == {"TopicName": topic_name}
    assert (inputs["statistic"], inputs["period"], inputs["evaluationPeriods"]) == ("Sum", 300, 1)
    assert inputs["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert inputs["threshold"] == 1
    assert inputs["treatMissingData"] == "notBreaching"
    assert inputs["tags"] == {"alarm": DELIVERY_FAILED}
    assert inputs["alarmDescription"].endswith(
        f"Runbook: docs/runbooks/alarms.md#{DELIVERY_FAILED}"
    )
    # Emails only: never the topic whose deliveries failed, nor any topic with the pager.
    assert inputs["alarmActions"] == [notified]
    assert "okActions" not in inputs
    pager_topics = {
        sub.inputs["topic"]
        for sub in rendered.of_type(SUBSCRIPTION)
        if sub.inputs["protocol"] == "https"
    }
    assert pager_topics == {MAIN_TOPIC_ARN, US_EAST_1_TOPIC_ARN}
    assert notified not in pager_topics


def test_every_topic_with_the_pager_has_its_failed_deliveries_alarmed(rendered):
    paged_topic_names = {
        sub.inputs["topic"].rsplit(":", 1)[1]
        for sub in rendered.of_type(SUBSCRIPTION)
        if sub.inputs["protocol"] == "https"
    }
    watched = {
        alarm.inputs["dimensions"]["TopicName"]
        for alarm in rendered.of_type(METRIC_ALARM)
        if alarm.inputs["tags"]["alarm"] == DELIVERY_FAILED
    }

    assert watched == paged_topic_names


def test_us_east_1_warning_topic_takes_only_cloudwatch_under_the_us_east_1_key(rendered):
    topic = rendered.named("alarms-us-east-1-warning-topic")
    policy = json.loads(rendered.named("alarms-us-east-1-warning-topic-policy").inputs["policy"])

    assert topic.inputs["name"] == "miko-prod-alarms-us-east-1-warning"
    assert provider_name(topic.provider) == "us-east-1"
    assert (
        topic.inputs["kmsMasterKeyId"]
        == (rendered.named("alarms-us-east-1-topic").inputs["kmsMasterKeyId"])
    )
    assert policy["Statement"][0]["Principal"]["Service"] == ["cloudwatch.amazonaws.com"]


def test_no_topic_logs_its_delivery_status(rendered):
    """Delivery-status log entries record the endpoint: the pager URL and its key."""
    for topic in rendered.of_type("aws:sns/topic:Topic"):
        assert not [key for key in topic.inputs if "Feedback" in key], topic.name
    assert not rendered.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert not rendered.of_type("aws:iam/role:Role")
