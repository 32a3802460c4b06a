"""The platform's KMS key and one Secrets Manager secret per integration.

Each secret's value is a JSON object keyed by the container variable it feeds; the container
reads one key with `valueFrom: "<secret arn>:<KEY>::"`, so the values never pass through the
task definition's plain environment.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.settings import INTEGRATION_SECRETS


@dataclass
class SecretsStoreArgs:
    prefix: str
    """Prefix of physical names, e.g. `miko-staging`."""
    region: str
    account_id: pulumi.Input[str]
    secret_values: Mapping[str, pulumi.Output[str]]
    """Secret config values by config key (e.g. `supabaseAnonKey`); they stay Output secrets."""
    recovery_window_days: int
    integrations: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: INTEGRATION_SECRETS
    )
    """Integration -> {container variable: secret config key}."""


def key_policy(account_id: str, region: str) -> str:
    """Key policy: IAM decides for the account; CloudWatch Logs may encrypt its log groups.

    CloudWatch Logs needs an explicit grant scoped by its encryption context
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
    """
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AccountAdministersKeyThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchLogsEncryptsThisAccountsLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": [
                "kms:Decrypt*",
                "kms:Describe*",
                "kms:Encrypt*",
                "kms:GenerateDataKey*",
                "kms:ReEncrypt*",
            ],
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:aws:logs:{region}:{account_id}:log-group:*"
                    )
                }
            },
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def container_secret_entries(
    secret_arns: Mapping[str, str], integrations: Mapping[str, Mapping[str, str]]
) -> list[dict[str, str]]:
    """ECS `secrets` entries, sorted by variable name: each reads one JSON key of its secret."""
    entries = [
        {"name": variable, "valueFrom": f"{secret_arns[integration]}:{variable}::"}
        for integration, variables in integrations.items()
        for variable in variables
    ]
    return sorted(entries, key=lambda entry: entry["name"])


class SecretsStore(pulumi.ComponentResource):
    key_arn: pulumi.Output[str]
    """ARN of the customer-managed key that encrypts the secrets, log groups and ECR images."""
    secret_arns: pulumi.Output[dict[str, str]]
    """Secret ARN by integration name."""
    version_ids: pulumi.Output[dict[str, str]]
    """Current secret version id by integration name: a new value gives a new id."""
    container_secrets: pulumi.Output[list[dict[str, str]]]
    """The container definition's `secrets` entries (name + valueFrom)."""

    def __init__(
        self, name: str, args: SecretsStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:secrets:SecretsStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = aws.kms.Key(
            f"{name}-key",
            description=f"{args.prefix}: encrypts secrets, log groups and images",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.from_input(args.account_id).apply(
                lambda account: key_policy(account, args.region)
            ),
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-key-alias", name=f"alias/{args.prefix}", target_key_id=key.key_id, opts=child
        )
        arns: dict[str, pulumi.Output[str]] = {}
        versions: dict[str, pulumi.Output[str]] = {}
        for integration, variables in args.integrations.items():
            secret = aws.secretsmanager.Secret(
                f"{name}-{integration}",
                name=f"{args.prefix}/{integration}",
                description=f"{integration} settings for the {args.prefix} service",
                kms_key_id=key.arn,
                recovery_window_in_days=args.recovery_window_days,
                opts=child,
            )
            document = {
                variable: args.secret_values[config_key]
                for variable, config_key in variables.items()
            }
            secret_json: pulumi.Output[str] = pulumi.Output.secret(
                pulumi.Output.json_dumps(document, sort_keys=True)
            )
            version = aws.secretsmanager.SecretVersion(
                f"{name}-{integration}-value",
                secret_id=secret.id,
                secret_string=secret_json,
                opts=child,
            )
            arns[integration] = secret.arn
            versions[integration] = version.version_id
        self.key_arn = key.arn
        self.secret_arns = pulumi.Output.all(**arns).apply(dict)
        self.version_ids = pulumi.Output.all(**versions).apply(dict)
        self.container_secrets = self.secret_arns.apply(
            lambda resolved: container_secret_entries(resolved, args.integrations)
        )
        self.register_outputs(
            {
                "key_arn": self.key_arn,
                "secret_arns": self.secret_arns,
                "version_ids": self.version_ids,
                "container_secrets": self.container_secrets,
            }
        )
