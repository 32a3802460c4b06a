"""`evaluate` on a whole compliant stack, and one change per policy that only that policy blocks."""

import dataclasses
import json
from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE

from app.security_headers import security_headers
from policies.evaluate import evaluate, load_policy_config
from policies.observability import PROMISED_ALARMS
from policies.pack import ALL_POLICIES
from policies.zone import POLICIES as ZONE_POLICIES
from tests.policies.conftest import (
    KEY_ARN,
    REQUIRED_TAGS,
    TOPIC_ARN,
    planned_aws_provider,
    planned_resource,
    urn_of,
)

PROVIDER = planned_aws_provider(
    {"region": "eu-west-1", "defaultTags": json.dumps({"tags": REQUIRED_TAGS})}
)
DIGEST = "sha256:" + "b" * 64
HTTPS_LISTENER_ARN = "arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/miko/1/2"
HOST_CONDITION = {"hostHeader": {"values": ["www.example.com"]}}
ORIGIN_PROOF_CONDITION = {"httpHeader": {"httpHeaderName": "x-miko-origin-auth", "values": ["s"]}}
STATEFUL = {
    "aws:kms/key:Key",
    "aws:secretsmanager/secret:Secret",
    "aws:backup/vault:Vault",
    "aws:s3/bucket:Bucket",
}


def planned(resource_type, name, props, **kwargs):
    aws = resource_type.startswith("aws:")
    return planned_resource(
        resource_type,
        name,
        props,
        provider=PROVIDER if aws else None,
        protect=resource_type in STATEFUL,
        **kwargs,
    )


def container_definitions(**changes):
    container = {
        "name": "app",
        "image": f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/miko@{DIGEST}",
        "user": "10001:10001",
        "readonlyRootFilesystem": True,
        "logConfiguration": {"logDriver": "awslogs"},
        "environment": [
            {"name": "APP_ENV", "value": "production"},
            {"name": "PORT", "value": "8080"},
        ],
        "secrets": [
            {
                "name": "DATABASE_URL",
                "valueFrom": "arn:aws:secretsmanager:eu-west-1:1:secret:db:DATABASE_URL::",
            }
        ],
    }
    return json.dumps([{**container, **changes}])


def edge_resources():
    headers = security_headers(["https://abc.supabase.co"])
    header_rule = {
        "action": "rewrite",
        "expression": "true",
        "actionParameters": {
            "headers": {
                name: {"operation": "set", "value": value} for name, value in headers.items()
            }
        },
    }
    cache_rules = [
        {
            "action": "set_cache_settings",
            "description": "assets",
            "actionParameters": {"cache": True},
            "expression": 'http.request.uri.path.extension in {"js" "css"} '
            'and not starts_with(http.request.uri.path, "/api/")',
        },
        {
            "action": "set_cache_settings",
            "description": "api",
            "actionParameters": {"cache": False},
            "expression": 'starts_with(http.request.uri.path, "/api/")',
        },
    ]
    rate_rule = {
        "action": "block",
        "expression": 'starts_with(http.request.uri.path, "/api/")',
        "ratelimit": {"characteristics": ["ip.src"], "period": 60, "requestsPerPeriod": 100},
    }
    ruleset = "cloudflare:index/ruleset:Ruleset"
    setting = "cloudflare:index/zoneSetting:ZoneSetting"
    return [
        planned(
            ruleset, "headers", {"phase": "http_response_headers_transform", "rules": [header_rule]}
        ),
        planned(ruleset, "cache", {"phase": "http_request_cache_settings", "rules": cache_rules}),
        planned(ruleset, "ratelimit", {"phase": "http_ratelimit", "rules": [rate_rule]}),
        *[
            planned(setting, key, {"settingId": key, "value": value})
            for key, value in {
                "ssl": "strict",
                "min_tls_version": "1.2",
                "always_use_https": "on",
            }.items()
        ],
    ]


def alarm_resources():
    topic = planned(
        "aws:sns/topic:Topic", "alarms", {"kmsMasterKeyId": KEY_ARN}, outputs={"arn": TOPIC_ARN}
    )
    resources = [topic]
    for key in PROMISED_ALARMS:
        if key == "deployment-failed":
            rule = planned(
                "aws:cloudwatch/eventRule:EventRule",
                key,
                {"tags": {"alarm": key}},
                resource_id="deploy-rule",
            )
            target = planned(
                "aws:cloudwatch/eventTarget:EventTarget",
                f"{key}-target",
                {"rule": "deploy-rule", "arn": TOPIC_ARN},
            )
            resources += [rule, target]
        else:
            resources.append(
                planned(
                    "aws:cloudwatch/metricAlarm:MetricAlarm",
                    key,
                    {
                        "tags": {"alarm": key},
                        "alarmActions": [TOPIC_ARN],
                        "okActions": [TOPIC_ARN],
                        **(
                            WHOLE_DAYS
                            if key in ("backup-dump-failed", "backup-verify-failed")
                            else {}
                        ),
                    },
                )
            )
    return resources


WHOLE_DAYS = {"period": 86400, "evaluationWindow": {"wallClockWindow": {"timezone": "UTC"}}}


ABORT_INCOMPLETE_UPLOADS_RULE = {
    "id": "abort-incomplete-uploads",
    "status": "Enabled",
    "filter": {"prefix": ""},
    "abortIncompleteMultipartUpload": {"daysAfterInitiation": 1},
}


DENY_INSECURE_TRANSPORT = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def tls_only_policy_granting(*statements):
    """The dump bucket's policy: TLS only, plus `statements`."""
    return json.dumps({"Statement": [DENY_INSECURE_TRANSPORT, *statements]})


def storage_resources():
    bucket_urn = urn_of("aws:s3/bucket:Bucket", "dumps")
    tls_only = {"Statement": [DENY_INSECURE_TRANSPORT]}

    def companion(resource_type, name, props):
        return planned(
            resource_type,
            name,
            {"bucket": "dumps-id", **props},
            property_dependencies={"bucket": [bucket_urn]},
        )

    copy = {
        "destinationVaultArn": "arn:aws:backup:eu-central-1:123456789012:backup-vault:copy",
        "lifecycle": {"deleteAfter": 35},
    }
    return [
        planned("aws:s3/bucket:Bucket", "dumps", {"bucket": "miko-dumps"}, resource_id="dumps-id"),
        companion(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "dumps-pab",
            dict.fromkeys(
                [
                    "blockPublicAcls",
                    "blockPublicPolicy",
                    "ignorePublicAcls",
                    "restrictPublicBuckets",
                ],
                True,
            ),
        ),
        companion(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "dumps-sse",
            {
                "rules": [
                    {
                        "applyServerSideEncryptionByDefault": {
                            "sseAlgorithm": "aws:kms",
                            "kmsMasterKeyId": KEY_ARN,
                        }
                    }
                ]
            },
        ),
        companion(
            "aws:s3/bucketVersioning:BucketVersioning",
            "dumps-versioning",
            {"versioningConfiguration": {"status": "Enabled"}},
        ),
        companion(
            "aws:s3/bucketPolicy:BucketPolicy", "dumps-policy", {"policy": json.dumps(tls_only)}
        ),
        companion(
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            "dumps-ownership",
            {"rule": {"objectOwnership": "BucketOwnerEnforced"}},
        ),
        companion(
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            "dumps-lifecycle",
            {"rules": [ABORT_INCOMPLETE_UPLOADS_RULE]},
        ),
        planned(
            "aws:backup/vault:Vault", "vault", {"kmsKeyArn": KEY_ARN}, resource_id="miko-vault"
        ),
        planned(
            "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
            "vault-lock",
            {"backupVaultName": "miko-vault"},
        ),
        planned(
            "aws:backup/plan:Plan",
            "plan",
            {
                "rules": [
                    {"ruleName": "daily", "lifecycle": {"deleteAfter": 35}, "copyActions": [copy]}
                ]
            },
        ),
    ]


KEY_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
)
FLOW_LOG_GROUP_ARN = "arn:aws:logs:eu-west-1:123456789012:log-group:/miko/vpc-flow-logs"


def network_resources():
    vpc_urn = urn_of("aws:ec2/vpc:Vpc", "vpc")
    flow_group_urn = urn_of("aws:cloudwatch/logGroup:LogGroup", "flow-logs")
    return [
        planned("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.40.0.0/16"}, resource_id="vpc-1"),
        planned(
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
            "default-sg",
            {"vpcId": "vpc-1", "ingress": [], "egress": []},
            property_dependencies={"vpcId": [vpc_urn]},
        ),
        planned(
            "aws:cloudwatch/logGroup:LogGroup",
            "flow-logs",
            {"retentionInDays": 365, "kmsKeyId": KEY_ARN},
            outputs={"arn": FLOW_LOG_GROUP_ARN},
        ),
        planned(
            "aws:ec2/flowLog:FlowLog",
            "flow-log",
            {
                "vpcId": "vpc-1",
                "logDestinationType": "cloud-watch-logs",
                "logDestination": FLOW_LOG_GROUP_ARN,
            },
            property_dependencies={"logDestination": [flow_group_urn], "vpcId": [vpc_urn]},
        ),
    ]


HARDENED_ALB = {
    "dropInvalidHeaderFields": True,
    "enableDeletionProtection": True,
    "accessLogs": {"bucket": "alb-logs", "enabled": True},
    "subnets": ["subnet-a", "subnet-b"],
}
SCOPED_ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": KEY_ARN},
    ],
}


def with_statement(statement):
    """The role policy with one more Allow statement."""
    return json.dumps(
        {**SCOPED_ROLE_POLICY, "Statement": [*SCOPED_ROLE_POLICY["Statement"], statement]}
    )


def baseline_resources():
    """The ECS cluster, ECR lifecycle, subnet, certificate, queue and role policy that the
    Security Hub baseline policies (issue 15) look at."""
    return [
        planned(
            "aws:ecs/cluster:Cluster",
            "cluster",
            {"settings": [{"name": "containerInsights", "value": "enabled"}]},
        ),
        planned(
            "aws:ecr/lifecyclePolicy:LifecyclePolicy",
            "repo-lifecycle",
            {"repository": "repo-name", "policy": json.dumps({"rules": []})},
            property_dependencies={"repository": [urn_of("aws:ecr/repository:Repository", "repo")]},
        ),
        planned(
            "aws:ec2/subnet:Subnet",
            "private-0",
            {"vpcId": "vpc-1", "cidrBlock": "10.40.128.0/20", "mapPublicIpOnLaunch": False},
        ),
        planned(
            "aws:acm/certificate:Certificate",
            "certificate",
            {"domainName": "www.example.com", "validationMethod": "DNS"},
        ),
        planned("aws:sqs/queue:Queue", "dead-letters", {"kmsMasterKeyId": KEY_ARN}),
        planned(
            "aws:iam/rolePolicy:RolePolicy",
            "task-role-policy",
            {"role": "task-role", "policy": json.dumps(SCOPED_ROLE_POLICY)},
        ),
    ]


MANAGEMENT_EVENTS = {
    "name": "Management events",
    "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}],
}
DUMPS_OBJECT_EVENTS = {
    "name": "Object events of the dump bucket",
    "fieldSelectors": [
        {"field": "eventCategory", "equals": ["Data"]},
        {"field": "resources.type", "equals": ["AWS::S3::Object"]},
        {"field": "resources.ARN", "startsWiths": ["arn:aws:s3:::miko-dumps/"]},
    ],
}


def compliant_stack():
    return [
        planned("aws:lb/loadBalancer:LoadBalancer", "alb", HARDENED_ALB),
        planned(
            "aws:lb/listener:Listener",
            "https",
            {
                "arn": HTTPS_LISTENER_ARN,
                "protocol": "HTTPS",
                "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                "defaultActions": [
                    {"type": "fixed-response", "fixedResponse": {"statusCode": "403"}}
                ],
            },
        ),
        planned(
            "aws:lb/listenerRule:ListenerRule",
            "forward-from-edge",
            {
                "listenerArn": HTTPS_LISTENER_ARN,
                "priority": 100,
                "conditions": [HOST_CONDITION, ORIGIN_PROOF_CONDITION],
                "actions": [{"type": "forward"}],
            },
        ),
        planned(
            "aws:lb/listener:Listener",
            "http",
            {
                "protocol": "HTTP",
                "defaultActions": [
                    {
                        "type": "redirect",
                        "redirect": {"protocol": "HTTPS", "statusCode": "HTTP_301"},
                    }
                ],
            },
        ),
        planned(
            "aws:ec2/securityGroup:SecurityGroup",
            "alb-sg",
            {
                "ingress": [
                    {
                        "protocol": "tcp",
                        "fromPort": 443,
                        "toPort": 443,
                        "cidrBlocks": ["173.245.48.0/20"],
                    }
                ]
            },
        ),
        planned(
            "aws:ecs/service:Service",
            "service",
            {
                "launchType": "FARGATE",
                "networkConfiguration": {"assignPublicIp": False},
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            },
        ),
        planned(
            "aws:ecs/taskDefinition:TaskDefinition",
            "task",
            {"networkMode": "awsvpc", "containerDefinitions": container_definitions()},
        ),
        planned(
            "aws:ecr/repository:Repository",
            "repo",
            {
                "imageTagMutability": "IMMUTABLE",
                "imageScanningConfiguration": {"scanOnPush": True},
                "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KEY_ARN}],
            },
        ),
        planned(
            "aws:secretsmanager/secret:Secret",
            "supabase",
            {"kmsKeyId": KEY_ARN, "tags": {"rotated-on": "2026-11-01"}},
        ),
        planned(
            "aws:kms/key:Key",
            "key",
            {"enableKeyRotation": True, "deletionWindowInDays": 30, "policy": KEY_POLICY},
        ),
        planned(
            "aws:cloudwatch/logGroup:LogGroup",
            "logs",
            {"retentionInDays": 365, "kmsKeyId": KEY_ARN},
        ),
        planned(
            "aws:cloudtrail/trail:Trail",
            "trail",
            {
                "isMultiRegionTrail": True,
                "enableLogFileValidation": True,
                "kmsKeyId": KEY_ARN,
                "cloudWatchLogsGroupArn": "arn:aws:logs:eu-west-1:123456789012:log-group:trail:*",
                "advancedEventSelectors": [MANAGEMENT_EVENTS, DUMPS_OBJECT_EVENTS],
            },
        ),
        *network_resources(),
        *baseline_resources(),
        planned(
            "aws:scheduler/schedule:Schedule",
            "dump-schedule",
            {"kmsKeyArn": KEY_ARN, "scheduleExpression": "cron(0 3 * * ? *)"},
        ),
        *storage_resources(),
        *alarm_resources(),
        *edge_resources(),
    ]


def stack_config(stack="prod"):
    config = load_policy_config(stack)
    config["secret-rotation-age"]["today"] = "2026-11-25"
    return config


def replace(resources, name, **changes):
    return [dataclasses.replace(r, **changes) if r.name == name else r for r in resources]


def merge_props(resources, name, **props):
    return [
        dataclasses.replace(r, props={**r.props, **props}) if r.name == name else r
        for r in resources
    ]


def without(resources, name):
    return [r for r in resources if r.name != name]


BREAKING_CHANGES = {
    "alb-https-listener-tls12": lambda rs: merge_props(
        rs, "https", sslPolicy="ELBSecurityPolicy-2016-08"
    ),
    "alb-http-listener-redirects-only": lambda rs: merge_props(
        rs, "http", defaultActions=[{"type": "forward"}]
    ),
    "alb-origin-proof-required": lambda rs: merge_props(
        rs, "forward-from-edge", conditions=[HOST_CONDITION]
    ),
    "alb-origin-host-check": lambda rs: merge_props(
        rs, "forward-from-edge", conditions=[ORIGIN_PROOF_CONDITION]
    ),
    "alb-drops-invalid-headers": lambda rs: merge_props(rs, "alb", dropInvalidHeaderFields=False),
    # Issue 15, the Security Hub baseline (FSBP/CIS controls in each policy's description).
    "alb-access-logs-enabled": lambda rs: merge_props(rs, "alb", accessLogs=None),
    "alb-deletion-protection": lambda rs: merge_props(rs, "alb", enableDeletionProtection=False),
    "alb-desync-mitigation": lambda rs: merge_props(rs, "alb", desyncMitigationMode="monitor"),
    "alb-multi-az": lambda rs: merge_props(rs, "alb", subnets=["subnet-a"]),
    "subnet-no-auto-public-ip": lambda rs: merge_props(rs, "private-0", mapPublicIpOnLaunch=True),
    "vpc-flow-logs-enabled": lambda rs: without(rs, "flow-log"),
    "ecs-task-host-namespaces-isolated": lambda rs: merge_props(rs, "task", pidMode="host"),
    "ecs-fargate-latest-platform": lambda rs: merge_props(rs, "service", platformVersion="1.3.0"),
    "ecs-cluster-container-insights": lambda rs: merge_props(rs, "cluster", settings=[]),
    "ecr-lifecycle-policy": lambda rs: without(rs, "repo-lifecycle"),
    "acm-certificate-auto-renewing": lambda rs: merge_props(
        rs, "certificate", validationMethod="EMAIL"
    ),
    "acm-certificate-key-strength": lambda rs: merge_props(
        rs, "certificate", keyAlgorithm="RSA_1024"
    ),
    "sns-topic-kms-encrypted": lambda rs: merge_props(rs, "alarms", kmsMasterKeyId=None),
    "sqs-queue-encrypted": lambda rs: merge_props(rs, "dead-letters", kmsMasterKeyId=None),
    "resource-policy-not-public": lambda rs: merge_props(
        rs,
        "key",
        policy=json.dumps(
            {
                "Statement": [
                    *json.loads(KEY_POLICY)["Statement"],
                    {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"},
                ]
            }
        ),
    ),
    "iam-policy-no-full-admin": lambda rs: merge_props(
        rs,
        "task-role-policy",
        policy=with_statement({"Effect": "Allow", "Action": "*", "Resource": "*"}),
    ),
    "iam-policy-no-service-wildcards": lambda rs: merge_props(
        rs,
        "task-role-policy",
        policy=with_statement({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::a"}),
    ),
    "iam-policy-no-decrypt-all-keys": lambda rs: merge_props(
        rs,
        "task-role-policy",
        policy=with_statement({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}),
    ),
    "kms-key-deletion-window": lambda rs: merge_props(rs, "key", deletionWindowInDays=7),
    "security-group-no-public-ingress": lambda rs: merge_props(
        rs,
        "alb-sg",
        ingress=[{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}],
    ),
    "ecs-service-no-public-ip": lambda rs: merge_props(
        rs, "service", networkConfiguration={"assignPublicIp": True}
    ),
    "ecs-service-circuit-breaker-rollback": lambda rs: merge_props(
        rs, "service", deploymentCircuitBreaker={"enable": True}
    ),
    "ecs-task-readonly-root-filesystem": lambda rs: merge_props(
        rs, "task", containerDefinitions=container_definitions(readonlyRootFilesystem=False)
    ),
    "ecs-task-non-root-user": lambda rs: merge_props(
        rs, "task", containerDefinitions=container_definitions(user="root")
    ),
    "ecs-task-no-privileged": lambda rs: merge_props(
        rs, "task", containerDefinitions=container_definitions(privileged=True)
    ),
    "ecs-task-log-configuration": lambda rs: merge_props(
        rs, "task", containerDefinitions=container_definitions(logConfiguration=None)
    ),
    "ecs-task-no-plaintext-secrets": lambda rs: merge_props(
        rs,
        "task",
        containerDefinitions=container_definitions(
            environment=[{"name": "SUPABASE_ANON_KEY", "value": "[secret]"}]
        ),
    ),
    "ecs-task-image-pinned-by-digest": lambda rs: merge_props(
        rs, "task", containerDefinitions=container_definitions(image="miko:latest")
    ),
    "ecr-immutable-tags": lambda rs: merge_props(rs, "repo", imageTagMutability="MUTABLE"),
    "security-controls-accounted": lambda rs: [
        *rs,
        planned("aws:rds/instance:Instance", "database", {"storageEncrypted": True}),
    ],
    "ecr-customer-kms-key": lambda rs: merge_props(
        rs, "repo", encryptionConfigurations=[{"encryptionType": "AES256"}]
    ),
    "ecr-scan-on-push": lambda rs: merge_props(
        rs, "repo", imageScanningConfiguration={"scanOnPush": False}
    ),
    "secret-customer-kms-key": lambda rs: merge_props(rs, "supabase", kmsKeyId=None),
    "kms-key-rotation-enabled": lambda rs: merge_props(rs, "key", enableKeyRotation=False),
    "kms-key-explicit-policy": lambda rs: merge_props(rs, "key", policy=None),
    "scheduler-schedule-customer-kms-key": lambda rs: merge_props(
        rs, "dump-schedule", kmsKeyArn=None
    ),
    "vpc-default-security-group-closed": lambda rs: without(rs, "default-sg"),
    "vpc-flow-log-retention": lambda rs: merge_props(rs, "flow-logs", retentionInDays=90),
    "secret-rotation-age": lambda rs: merge_props(
        rs, "supabase", tags={"rotated-on": "2026-01-01"}
    ),
    "service-principal-source-condition": lambda rs: merge_props(
        rs,
        "dumps-policy",
        policy=tls_only_policy_granting(
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::dumps/*",
            }
        ),
    ),
    "s3-bucket-public-access-block": lambda rs: without(rs, "dumps-pab"),
    "s3-public-access-block-all-enabled": lambda rs: merge_props(
        rs, "dumps-pab", blockPublicPolicy=False
    ),
    "s3-bucket-encryption": lambda rs: without(rs, "dumps-sse"),
    "s3-bucket-versioning": lambda rs: without(rs, "dumps-versioning"),
    "s3-bucket-tls-only": lambda rs: without(rs, "dumps-policy"),
    "s3-bucket-lifecycle-aborts-multipart": lambda rs: merge_props(
        rs, "dumps-lifecycle", rules=[{**ABORT_INCOMPLETE_UPLOADS_RULE, "status": "Disabled"}]
    ),
    "s3-bucket-owner-enforced": lambda rs: merge_props(
        rs, "dumps-ownership", rule={"objectOwnership": "ObjectWriter"}
    ),
    "s3-bucket-kms-encryption": lambda rs: merge_props(
        rs, "dumps-sse", rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    ),
    "s3-bucket-policy-cross-account-restricted": lambda rs: merge_props(
        rs,
        "dumps-policy",
        policy=tls_only_policy_granting(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                "Action": "s3:PutBucket*",
                "Resource": "arn:aws:s3:::dumps",
            }
        ),
    ),
    "backup-plan-retention-floor": lambda rs: merge_props(
        rs,
        "plan",
        rules=[
            {
                "ruleName": "daily",
                "lifecycle": {"deleteAfter": 7},
                "copyActions": [
                    {
                        "destinationVaultArn": "arn:aws:backup:eu-central-1:1:backup-vault:copy",
                        "lifecycle": {"deleteAfter": 35},
                    }
                ],
            }
        ],
    ),
    "backup-cross-region-copy": lambda rs: merge_props(
        rs, "plan", rules=[{"ruleName": "daily", "lifecycle": {"deleteAfter": 35}}]
    ),
    "backup-vault-encrypted": lambda rs: merge_props(rs, "vault", kmsKeyArn=None),
    "backup-vault-locked": lambda rs: without(rs, "vault-lock"),
    "stateful-resources-protected": lambda rs: replace(rs, "key", protect=False),
    "cloudtrail-multi-region-validated-encrypted": lambda rs: merge_props(
        rs, "trail", enableLogFileValidation=False
    ),
    "s3-bucket-object-events-recorded": lambda rs: merge_props(
        rs, "trail", advancedEventSelectors=[MANAGEMENT_EVENTS]
    ),
    "cloudflare-security-headers": lambda rs: without(rs, "headers"),
    "cloudflare-api-never-cached": lambda rs: merge_props(
        rs,
        "cache",
        rules=[
            {
                "action": "set_cache_settings",
                "actionParameters": {"cache": True},
                "expression": "true",
            }
        ],
    ),
    "cloudflare-api-rate-limited": lambda rs: without(rs, "ratelimit"),
    "cloudflare-zone-tls-settings": lambda rs: merge_props(rs, "min_tls_version", value="1.0"),
    "log-group-retention": lambda rs: merge_props(rs, "logs", retentionInDays=None),
    "log-group-encrypted": lambda rs: merge_props(rs, "logs", kmsKeyId=None),
    "promised-alarms-present": lambda rs: without(rs, "ecs-cpu-high"),
    "alarms-notify-topic": lambda rs: merge_props(rs, "ecs-cpu-high", alarmActions=[]),
    "backup-alarms-wall-clock-window": lambda rs: merge_props(
        rs, "backup-dump-failed", evaluationWindow=None
    ),
    "required-tags": lambda rs: replace(rs, "repo", provider=None),
}


# Prod's log floor (365 days, FSBP CloudWatch.16) equals its flow-log floor, so a short flow-log
# retention is caught there by log-group-retention too; staging keeps the two floors apart.
BREAKING_STACK = {"vpc-flow-log-retention": "staging"}


def test_every_policy_has_a_breaking_change():
    # The zone policies apply to the edge stack only (zoneHostnames in its config); their
    # breaking changes are in tests/policies/test_zone.py, against the rendered edge stack.
    edge_only = {policy.name for policy in ZONE_POLICIES}
    assert set(BREAKING_CHANGES) | edge_only == {policy.name for policy in ALL_POLICIES}
    assert not set(BREAKING_CHANGES) & edge_only


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_compliant_stack_has_no_violations(stack):
    assert evaluate(compliant_stack(), stack_config(stack)) == []


@pytest.mark.parametrize("policy_name", sorted(BREAKING_CHANGES))
def test_breaking_change_is_blocked_by_its_policy_alone(policy_name):
    stack = BREAKING_STACK.get(policy_name, "prod")
    violations = evaluate(BREAKING_CHANGES[policy_name](compliant_stack()), stack_config(stack))
    assert {v.policy_name for v in violations} == {policy_name}
    assert all(v.enforcement_level == "mandatory" for v in violations)


def test_staging_levels_are_applied():
    stack = BREAKING_CHANGES["secret-rotation-age"](compliant_stack())
    stack = BREAKING_CHANGES["stateful-resources-protected"](stack)
    violations = evaluate(stack, stack_config("staging"))
    assert [(v.policy_name, v.enforcement_level) for v in violations] == [
        ("secret-rotation-age", "advisory")
    ]
    assert violations[0].urn.endswith("::supabase")


# The controls this pack holds no policy for, excepted as prod's config does.
CONTROL_EXCEPTIONS = load_policy_config("prod")["security-controls-accounted"]


def test_levels_and_properties_come_from_the_given_config():
    config = {
        "secret-rotation-age": {
            "enforcementLevel": "advisory",
            "maxSecretAgeDays": 3,
            "today": "2026-11-25",
        },
        "ecr-immutable-tags": "disabled",
        "security-controls-accounted": CONTROL_EXCEPTIONS,
    }
    stack = BREAKING_CHANGES["ecr-immutable-tags"](compliant_stack())
    violations = evaluate(stack, config)
    assert [(v.policy_name, v.enforcement_level) for v in violations] == [
        ("secret-rotation-age", "advisory")
    ]


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"no-such-policy": "mandatory"}, "no-such-policy"),
        ({"ecr-scan-on-push": {"typo": 1}}, "typo"),
        ({"ecr-scan-on-push": "strict"}, "ecr-scan-on-push: enforcement level 'strict'"),
    ],
)
def test_config_naming_unknown_things_is_refused(config, problem):
    with pytest.raises(ValueError, match=problem):
        evaluate([], config)


def test_stack_policy_violation_names_resource_urn():
    violations = evaluate(
        BREAKING_CHANGES["s3-bucket-versioning"](compliant_stack()), stack_config()
    )
    assert [v.urn for v in violations] == [urn_of("aws:s3/bucket:Bucket", "dumps")]
    assert violations[0].urn in violations[0].message


def test_unknown_values_during_preview_never_crash_and_skip_their_checks():
    unknown: dict[str, dict[str, Any]] = {
        "https": {"sslPolicy": UNKNOWN_STRING_VALUE},
        "http": {"defaultActions": [{"type": UNKNOWN_STRING_VALUE}]},
        "alb": {
            "dropInvalidHeaderFields": UNKNOWN_BOOLEAN_VALUE,
            "enableDeletionProtection": UNKNOWN_BOOLEAN_VALUE,
            "accessLogs": {"bucket": "alb-logs", "enabled": UNKNOWN_BOOLEAN_VALUE},
            "desyncMitigationMode": UNKNOWN_STRING_VALUE,
            "subnets": UNKNOWN_STRING_VALUE,
        },
        "cluster": {"settings": UNKNOWN_STRING_VALUE},
        "certificate": {"validationMethod": UNKNOWN_STRING_VALUE},
        "dead-letters": {"kmsMasterKeyId": UNKNOWN_STRING_VALUE},
        "task-role-policy": {"policy": UNKNOWN_STRING_VALUE},
        "private-0": {"mapPublicIpOnLaunch": UNKNOWN_BOOLEAN_VALUE},
        "alb-sg": {
            "ingress": [
                {
                    "protocol": "tcp",
                    "fromPort": 443,
                    "toPort": 443,
                    "cidrBlocks": [UNKNOWN_STRING_VALUE],
                }
            ]
        },
        "service": {
            "networkConfiguration": UNKNOWN_STRING_VALUE,
            "deploymentCircuitBreaker": {"enable": UNKNOWN_BOOLEAN_VALUE, "rollback": True},
        },
        "task": {"containerDefinitions": UNKNOWN_STRING_VALUE},
        "supabase": {"kmsKeyId": UNKNOWN_STRING_VALUE, "tags": UNKNOWN_STRING_VALUE},
        "key": {"enableKeyRotation": UNKNOWN_BOOLEAN_VALUE},
        "vault": {"kmsKeyArn": UNKNOWN_STRING_VALUE},
        "plan": {
            "rules": [
                {
                    "ruleName": "daily",
                    "lifecycle": {"deleteAfter": UNKNOWN_STRING_VALUE},
                    "copyActions": [{"destinationVaultArn": UNKNOWN_STRING_VALUE}],
                }
            ]
        },
        "logs": {"kmsKeyId": UNKNOWN_STRING_VALUE, "retentionInDays": UNKNOWN_STRING_VALUE},
        "dumps-policy": {"policy": UNKNOWN_STRING_VALUE},
        "ecs-cpu-high": {"alarmActions": [UNKNOWN_STRING_VALUE]},
        "min_tls_version": {"value": UNKNOWN_STRING_VALUE},
        "repo": {"tags": UNKNOWN_STRING_VALUE, "imageTagMutability": UNKNOWN_STRING_VALUE},
        "headers": {
            "rules": [
                {
                    "action": "rewrite",
                    "expression": "true",
                    "actionParameters": {"headers": UNKNOWN_STRING_VALUE},
                }
            ]
        },
        "cache": {
            "rules": [
                {
                    "action": "set_cache_settings",
                    "expression": UNKNOWN_STRING_VALUE,
                    "actionParameters": {"cache": True},
                }
            ]
        },
        "ratelimit": {"rules": UNKNOWN_STRING_VALUE},
    }
    stack = compliant_stack()
    for name, props in unknown.items():
        stack = merge_props(stack, name, **props)
    assert evaluate(stack, stack_config()) == []


def test_pack_wide_level_applies_where_a_policy_has_none():
    stack = BREAKING_CHANGES["ecr-scan-on-push"](compliant_stack())
    config = {
        "all": "advisory",
        "secret-rotation-age": {"today": "2026-11-25"},
        "security-controls-accounted": {"exceptions": CONTROL_EXCEPTIONS["exceptions"]},
    }
    violations = evaluate(stack, config)
    assert [(v.policy_name, v.enforcement_level) for v in violations] == [
        ("ecr-scan-on-push", "advisory")
    ]


def _names(resources, stack="prod"):
    return {v.policy_name for v in evaluate(resources, stack_config(stack))}


def test_default_security_group_with_rules_is_refused():
    stack = merge_props(
        compliant_stack(),
        "default-sg",
        egress=[{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}],
    )
    [violation] = evaluate(stack, stack_config())
    assert violation.policy_name == "vpc-default-security-group-closed"
    assert "egress" in violation.message
    assert violation.urn.endswith("::default-sg")


def test_flow_log_retention_floor_comes_from_config_and_unknowns_pass():
    config = stack_config()
    config["vpc-flow-log-retention"]["minFlowLogRetentionDays"] = 400
    assert {v.policy_name for v in evaluate(compliant_stack(), config)} == {
        "vpc-flow-log-retention"
    }
    unknown = merge_props(compliant_stack(), "flow-logs", retentionInDays=UNKNOWN_STRING_VALUE)
    assert _names(unknown) == set()


def test_key_policy_must_be_a_json_document_with_statements():
    assert _names(merge_props(compliant_stack(), "key", policy="{}")) == {"kms-key-explicit-policy"}
    assert _names(merge_props(compliant_stack(), "key", policy=UNKNOWN_STRING_VALUE)) == set()
