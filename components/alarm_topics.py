"""The alarm topics: KMS-encrypted SNS topics, their policies and subscribers (Alarms' children).

Route 53 publishes health-check metrics only in us-east-1, so the external-health-check alarm
notifies a critical topic there (emails and the pager). A CloudWatch alarm notifies topics of its
own region only, so us-east-1 has a warning topic too (emails only), for the alarm on the failed
deliveries of that critical topic (`alarm-delivery-failed`: a failed page must not be reported
through the pager that failed). These topics exist in every stack, whatever the main region, so
both stacks have the same shape.

No topic logs its delivery status (FSBP SNS.2): a delivery-status log entry records the endpoint
(`delivery.destination`), and the pager's HTTPS endpoint URL carries its integration key, a secret
that must not reach logs. Failed deliveries are alarmed instead, from SNS's
`NumberOfNotificationsFailed` metric of each paging topic (components/signals.py).

The topics are encrypted with customer-managed keys created here, one per region, shared by the
topics of that region: CloudWatch cannot publish to a topic under the AWS-managed `alias/aws/sns`
key (its policy cannot grant cloudwatch.amazonaws.com), and granting CloudWatch and EventBridge
use of the secrets key would widen the policy of the key that guards every integration secret.
One key serves both main-region topics: a key per topic would add a key (and its monthly charge)
without narrowing anything, as each topic's own policy already limits who may publish to it
(CloudWatch to every topic, EventBridge rules only to the warning topic).
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.policy_documents import (
    account_administers_key,
    document,
    service_principal_statement,
)

ALARM_PUBLISHER = "cloudwatch.amazonaws.com"
EVENT_PUBLISHER = "events.amazonaws.com"
CRITICAL_TOPIC_PUBLISHERS = (ALARM_PUBLISHER,)
WARNING_TOPIC_PUBLISHERS = (ALARM_PUBLISHER, EVENT_PUBLISHER)
US_EAST_1_WARNING_TOPIC_PUBLISHERS = (ALARM_PUBLISHER,)
"""No EventBridge rule publishes in us-east-1."""


def critical_topic_name(prefix: str) -> str:
    """The main-region critical topic (emails and the pager): its SNS TopicName."""
    return f"{prefix}-alarms"


def warning_topic_name(prefix: str) -> str:
    return f"{prefix}-alarms-warning"


def us_east_1_topic_name(prefix: str) -> str:
    """The us-east-1 critical topic (emails and the pager): its SNS TopicName."""
    return f"{prefix}-alarms-us-east-1"


def us_east_1_warning_topic_name(prefix: str) -> str:
    return f"{prefix}-alarms-us-east-1-warning"


@dataclass(frozen=True)
class Subscribers:
    emails: Sequence[str]
    """Email addresses subscribed to every alarm topic."""
    pager_url: pulumi.Input[str] | None
    """HTTPS pager endpoint on the critical topics; None: no pager."""


@dataclass(frozen=True)
class AlarmTopics:
    critical: pulumi.Output[str]
    """Main-region critical topic (emails and pager)."""
    warning: pulumi.Output[str]
    """Main-region warning topic (emails only); the only one EventBridge rules may publish to."""
    us_east_1: pulumi.Output[str]
    """us-east-1 critical topic, for the alarms whose metrics only exist there."""
    us_east_1_warning: pulumi.Output[str]
    """us-east-1 warning topic (emails only), for the warnings whose metrics live there."""


@dataclass(frozen=True)
class _Topic:
    logical_name: str
    physical_name: str
    publishers: Sequence[str]
    """Services allowed to publish (CloudWatch alarms, EventBridge rules)."""
    page: bool
    """Whether the pager subscribes (critical topics only)."""


def create_alarm_topics(
    name: str,
    prefix: str,
    subscribers: Subscribers,
    *,
    protect: bool,
    opts: pulumi.ResourceOptions,
    us_east_1_opts: pulumi.ResourceOptions,
) -> AlarmTopics:
    """The main region's critical and warning topics under one key; us-east-1's under its own."""
    account_id = aws.get_caller_identity_output(
        opts=pulumi.InvokeOutputOptions(parent=opts.parent)
    ).account_id
    builder = _TopicBuilder(prefix, subscribers, account_id, protect)
    critical, warning = builder.create_encrypted_topics(
        name,
        "",
        [
            _Topic(
                f"{name}-topic", critical_topic_name(prefix), CRITICAL_TOPIC_PUBLISHERS, page=True
            ),
            _Topic(
                f"{name}-warning-topic",
                warning_topic_name(prefix),
                WARNING_TOPIC_PUBLISHERS,
                page=False,
            ),
        ],
        opts,
    )
    us_east_1, us_east_1_warning = builder.create_encrypted_topics(
        name,
        "-us-east-1",
        [
            _Topic(
                f"{name}-us-east-1-topic",
                us_east_1_topic_name(prefix),
                CRITICAL_TOPIC_PUBLISHERS,
                page=True,
            ),
            _Topic(
                f"{name}-us-east-1-warning-topic",
                us_east_1_warning_topic_name(prefix),
                US_EAST_1_WARNING_TOPIC_PUBLISHERS,
                page=False,
            ),
        ],
        us_east_1_opts,
    )
    return AlarmTopics(
        critical=critical,
        warning=warning,
        us_east_1=us_east_1,
        us_east_1_warning=us_east_1_warning,
    )


@dataclass(frozen=True)
class _TopicBuilder:
    """What the topics of both regions share: the prefix, subscribers, account and protection."""

    prefix: str
    subscribers: Subscribers
    account_id: pulumi.Output[str]
    protect: bool

    def create_encrypted_topics(
        self, name: str, suffix: str, topics: Sequence[_Topic], opts: pulumi.ResourceOptions
    ) -> list[pulumi.Output[str]]:
        """One customer-managed key, its alias, and the topics it encrypts; their ARNs."""
        publishers = sorted({service for topic in topics for service in topic.publishers})
        key = aws.kms.Key(
            f"{name}{suffix}-key",
            description=f"Encrypts the {self.prefix}{suffix} alarm topics",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=self.account_id.apply(lambda account: _key_policy(account, publishers)),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=self.protect)),
        )
        aws.kms.Alias(
            f"{name}{suffix}-key-alias",
            name=f"alias/{self.prefix}-alarms{suffix}",
            target_key_id=key.key_id,
            opts=opts,
        )
        return [self._create_topic(topic, key, opts) for topic in topics]

    def _create_topic(
        self, topic: _Topic, key: aws.kms.Key, opts: pulumi.ResourceOptions
    ) -> pulumi.Output[str]:
        """A KMS-encrypted topic, its policy, every email and, on critical topics, the pager."""
        resource = aws.sns.Topic(
            topic.logical_name, name=topic.physical_name, kms_master_key_id=key.arn, opts=opts
        )
        aws.sns.TopicPolicy(
            f"{topic.logical_name}-policy",
            arn=resource.arn,
            policy=pulumi.Output.all(resource.arn, self.account_id).apply(
                lambda values: _topic_policy(values[0], values[1], topic.publishers)
            ),
            opts=opts,
        )
        subscriber_prefix = topic.logical_name.removesuffix("-topic")
        for email in self.subscribers.emails:
            aws.sns.TopicSubscription(
                f"{subscriber_prefix}-email-{_email_logical_suffix(email)}",
                topic=resource.arn,
                protocol="email",
                endpoint=email,
                opts=opts,
            )
        if topic.page and self.subscribers.pager_url is not None:
            # The pager URL embeds the integration key: keep it secret in inputs and state.
            aws.sns.TopicSubscription(
                f"{subscriber_prefix}-pager",
                topic=resource.arn,
                protocol="https",
                endpoint=pulumi.Output.secret(self.subscribers.pager_url),
                endpoint_auto_confirms=True,
                opts=pulumi.ResourceOptions.merge(
                    opts, pulumi.ResourceOptions(additional_secret_outputs=["endpoint"])
                ),
            )
        return resource.arn


def _key_policy(account_id: str, publisher_services: Sequence[str]) -> str:
    """Key policy: the account administers the key; the publishing services encrypt with it.

    The service grants are the statement AWS documents for service publishers to encrypted topics
    (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
    CloudWatch's carries the confused-deputy guard (aws:SourceAccount). EventBridge's does not:
    the EventBridge guide says the aws:SourceArn, aws:SourceAccount and aws:SourceOrgID keys are
    not supported in the KMS key policy of an encrypted SNS target (eb-use-resource-based,
    Amazon SNS permissions), so a guard there would drop every event. The topic policy still
    limits EventBridge to this account's rules, and this key protects only the alarm topics;
    the exception and its reason are in policies/config/*.json.
    """
    return document(
        [
            account_administers_key(account_id),
            *_publisher_key_statements(account_id, publisher_services),
        ]
    )


_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")


def _publisher_key_statements(
    account_id: str, publisher_services: Sequence[str]
) -> list[dict[str, Any]]:
    """CloudWatch (guarded by the source account) and, when it publishes, EventBridge (unguarded:
    see `_key_policy`)."""
    statements: list[dict[str, Any]] = []
    if ALARM_PUBLISHER in publisher_services:
        statements.append(
            service_principal_statement(
                ALARM_PUBLISHER,
                _KEY_ACTIONS,
                account_id=account_id,
                resource="*",
                sid="AlarmPublishersEncrypt",
            )
        )
    if EVENT_PUBLISHER in publisher_services:
        # No source condition: EventBridge does not support them in this key policy (_key_policy).
        statements.append(
            {
                "Sid": "EventPublishersEncrypt",
                "Effect": "Allow",
                "Principal": {"Service": EVENT_PUBLISHER},
                "Action": sorted(_KEY_ACTIONS),
                "Resource": "*",
            }
        )
    unknown = set(publisher_services) - {ALARM_PUBLISHER, EVENT_PUBLISHER}
    if unknown:
        raise ValueError(f"no key grant is defined for publishers {sorted(unknown)}")
    return statements


def _topic_policy(topic_arn: str, account_id: str, publisher_services: Sequence[str]) -> str:
    """Topic policy: only this account's alarms and event rules publish, and only over TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                service_principal_statement(
                    publisher_services,
                    "sns:Publish",
                    account_id=account_id,
                    resource=topic_arn,
                    sid="AlarmPublishersFromThisAccount",
                ),
                {
                    "Sid": "DenyPublishWithoutTls",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        },
        sort_keys=True,
    )


def _email_logical_suffix(email: str) -> str:
    """Stable, order-independent suffix: adding an address never renames the others."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:10]
