"""The platform's KMS key and one Secrets Manager secret per integration.

Each secret's value is a JSON object keyed by the container variable it feeds; the container
reads one key with `valueFrom: "<secret arn>:<KEY>::"`, so the values never pass through the
task definition's plain environment.
"""

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.policy_documents import account_administers_key, document
from config.secrets import INTEGRATION_SECRETS


@dataclass
class SecretsStoreArgs:
    prefix: str
    """Prefix of physical names, e.g. `miko-staging`."""
    region: str
    account_id: pulumi.Input[str]
    secret_values: Mapping[str, pulumi.Output[str]]
    """Secret config values by config key (e.g. `supabaseAnonKey`); they stay Output secrets."""
    recovery_window_days: int
    rotated_on: Mapping[str, datetime.date]
    """Last rotation date by secret config key: each secret is tagged with its oldest one."""
    protect: bool
    """Whether the key and the secrets are protected from deletion and replacement."""
    integrations: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: INTEGRATION_SECRETS
    )
    """Integration -> {container variable: secret config key}."""


def key_policy(account_id: str, region: str) -> str:
    """Key policy: IAM decides for the account; CloudWatch Logs may encrypt its log groups.

    CloudWatch Logs needs an explicit grant scoped by its encryption context
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
    That grant carries no aws:SourceAccount/aws:SourceArn: the CloudWatch Logs guide's key policy
    guards it with the kms:EncryptionContext:aws:logs:arn condition (this account's log groups
    only), and does not document the source keys on its KMS calls; a guard it does not set would
    stop every encrypted log group. Recorded, with this reason, in policies/config/*.json.
    """
    statements: list[dict[str, Any]] = [
        account_administers_key(account_id),
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
    return document(statements)


def rotated_on_tag(config_keys: Sequence[str], rotated_on: Mapping[str, datetime.date]) -> str:
    """The oldest rotation date among the config keys one secret holds, as an ISO date."""
    return min(rotated_on[key] for key in config_keys).isoformat()


@dataclass(frozen=True)
class SecretScope:
    """What one consumer of the store (the app, a backup job) sees of it."""

    secret_arns: pulumi.Output[dict[str, str]]
    version_ids: pulumi.Output[dict[str, str]]
    container_secrets: pulumi.Output[list[dict[str, str]]]


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

    def __init__(
        self, name: str, args: SecretsStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:secrets:SecretsStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)
        self._integrations = args.integrations
        key = aws.kms.Key(
            f"{name}-key",
            description=f"{args.prefix}: encrypts secrets, log groups and images",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.from_input(args.account_id).apply(
                lambda account: key_policy(account, args.region)
            ),
            opts=stateful,
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
                tags={"rotated-on": rotated_on_tag(list(variables.values()), args.rotated_on)},
                opts=stateful,
            )
            values = {
                variable: args.secret_values[config_key]
                for variable, config_key in variables.items()
            }
            secret_json: pulumi.Output[str] = pulumi.Output.secret(
                pulumi.Output.json_dumps(values, sort_keys=True)
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
        self.register_outputs(
            {
                "key_arn": self.key_arn,
                "secret_arns": self.secret_arns,
                "version_ids": self.version_ids,
            }
        )

    def scope(self, integrations: Sequence[str]) -> SecretScope:
        """ARNs, version ids and container entries of the named integrations only."""

        def only(values: dict[str, str]) -> dict[str, str]:
            return {name: values[name] for name in integrations}

        chosen = {name: self._integrations[name] for name in integrations}
        arns = self.secret_arns.apply(only)
        return SecretScope(
            secret_arns=arns,
            version_ids=self.version_ids.apply(only),
            container_secrets=arns.apply(
                lambda resolved: container_secret_entries(resolved, chosen)
            ),
        )
