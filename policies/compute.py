"""ECS clusters, services and task definitions, and the ECR repository images come from.

The Security Hub controls cited are those of the AWS Foundational Security Best Practices
(FSBP) standard, as the Security Hub user guide defines them (awsdocs/aws-security-hub-user-guide,
doc_source/ecs-controls.md and ecr-controls.md, commit 47bfe2f, June 2023), except ECS.17,
which is newer than that snapshot.
"""

import re
from collections.abc import Callable, Iterator
from typing import Any

from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.stripe import StripeDetector
from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)

from policies._props import (
    REDACTION_MARKER,
    UNKNOWN,
    ConfigSchema,
    Props,
    Report,
    config_value,
    is_true,
    is_unknown,
    items,
    json_document,
    lookup,
    property_check,
    references,
    resource_policy,
    resources_of,
    stack_policy,
    string_setting,
)

SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
ECR_LIFECYCLE_POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
CLUSTER = "aws:ecs/cluster:Cluster"
FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")
CONTAINER_INSIGHTS_ON = ("enabled", "enhanced")
"""`enhanced` (Container Insights with enhanced observability) is newer than the control's
text and includes what `enabled` collects."""
HOST_NAMESPACE_MODES = {
    "networkMode": "the host's network stack (FSBP ECS.17, newer than the June 2023 guide; "
    "ECS.1 checks host network mode with a root user)",
    "pidMode": "the host's process namespace (FSBP ECS.3)",
    "ipcMode": "the host's IPC namespace (no control names it; the same isolation)",
}

# A KMS key id or ARN names a key, it does not hold one: `BACKUP_KMS_KEY_ID` stays plain.
SENSITIVE_NAME_PATTERN = (
    r"(^|_)((?<!KMS_)KEY|APIKEY|SECRET|TOKEN|PASSWORD|PASSWD|PWD|DSN|CREDENTIALS?|PRIVATE)(_|$)"
    r"|(^|_)DATABASE_URL$|(^|_)WEBHOOK_URL$"
)

ENV_SCHEMA: ConfigSchema = {
    "secretNamePattern": string_setting(
        description="Regular expression (case-insensitive) for environment variable names "
        "that must come from `secrets` (valueFrom), never from plain `environment`.",
        default=SENSITIVE_NAME_PATTERN,
    )
}

# Detectors the field maintains (Yelp detect-secrets), plus two shapes it does not cover:
# Google API keys and credentials carried in a URL's user part (e.g. a Sentry DSN key).
_DETECTORS: list[RegexBasedDetector] = [
    AWSKeyDetector(),
    BasicAuthDetector(),
    GitHubTokenDetector(),
    JwtTokenDetector(),
    PrivateKeyDetector(),
    SlackDetector(),
    StripeDetector(),
]
_EXTRA_CREDENTIAL_PATTERNS = [
    re.compile(r"AIza[0-9A-Za-z_\-]{35}"),
    re.compile(r"://[^/\s:@]+(:[^/\s@]*)?@"),
]

_DIGEST_REFERENCE = re.compile(r"@sha256:[0-9a-f]{64}$")
_ROOT_USERS = re.compile(r"^(root|0)(:.*)?$")

ContainerCheck = Callable[[dict[str, Any], Props], str | None]


def looks_like_credential(value: str) -> bool:
    if value == REDACTION_MARKER:
        return True
    if any(pattern.search(value) for pattern in _EXTRA_CREDENTIAL_PATTERNS):
        return True
    return any(next(iter(detector.analyze_string(value)), None) for detector in _DETECTORS)


def _containers(props: Props) -> Any:
    """The parsed container definitions: a list, or `UNKNOWN`, or None when not JSON."""
    document = json_document(lookup(props, "containerDefinitions"))
    if document is UNKNOWN or document is None:
        return document
    return [container for container in items(document) if isinstance(container, dict)]


def _container_label(container: dict[str, Any]) -> str:
    name = container.get("name")
    return f"container '{name}'" if isinstance(name, str) else "a container"


def _task_definition_policy(
    name: str, description: str, check: ContainerCheck, schema: ConfigSchema | None = None
) -> ResourceValidationPolicy:
    def validate(props: Props, args: ResourceValidationArgs, report: Report) -> None:
        containers = _containers(props)
        if containers is UNKNOWN:
            return
        if containers is None:
            if check is _no_plaintext_secrets:
                report(
                    f"Task definition '{args.name}': containerDefinitions is not readable JSON "
                    "(a secret value inside it?); build it with json.dumps of plain values and "
                    "pass secrets through `secrets` valueFrom."
                )
            return
        for container in containers:
            problem = check(container, args.get_config())
            if problem:
                report(f"Task definition '{args.name}', {_container_label(container)}: {problem}")

    return resource_policy(name, description, (TASK_DEFINITION,), validate, schema)


def _readonly_root(container: dict[str, Any], _config: Props) -> str | None:
    if container.get("readonlyRootFilesystem") is True:
        return None
    return "set readonlyRootFilesystem to true (mount a tmpfs/volume for writable paths)."


def _non_root(container: dict[str, Any], _config: Props) -> str | None:
    user = container.get("user")
    if isinstance(user, str) and user and not _ROOT_USERS.match(user.strip()):
        return None
    return "set `user` to a non-root uid:gid (e.g. '10001:10001')."


def _not_privileged(container: dict[str, Any], _config: Props) -> str | None:
    if container.get("privileged") is True:
        return "remove `privileged: true`."
    return None


def _has_logging(container: dict[str, Any], _config: Props) -> str | None:
    log_configuration = container.get("logConfiguration")
    if isinstance(log_configuration, dict) and log_configuration.get("logDriver"):
        return None
    return "add a logConfiguration with a logDriver (awslogs to the service's log group)."


def _plain_environment(container: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for variable in items(container.get("environment")):
        if isinstance(variable, dict) and isinstance(variable.get("name"), str):
            yield variable["name"], variable.get("value")


def _no_plaintext_secrets(container: dict[str, Any], config: Props) -> str | None:
    pattern = re.compile(config_value(config, ENV_SCHEMA, "secretNamePattern"), re.IGNORECASE)
    offending = sorted(
        name
        for name, value in _plain_environment(container)
        if pattern.search(name) or (isinstance(value, str) and looks_like_credential(value))
    )
    if not offending:
        return None
    return (
        f"environment variables {', '.join(offending)} look like secrets; move them to "
        "`secrets` with valueFrom pointing at Secrets Manager."
    )


def _pinned_by_digest(container: dict[str, Any], _config: Props) -> str | None:
    image = container.get("image")
    if not isinstance(image, str) or is_unknown(image) or _DIGEST_REFERENCE.search(image):
        return None
    return "reference the image by digest (repository@sha256:<digest>), not by tag."


_check_no_public_ip = property_check(
    "Service", "networkConfiguration.assignPublicIp", lambda assign: assign is not True, "to false"
)


def _check_circuit_breaker(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    breaker = lookup(props, "deploymentCircuitBreaker")
    if breaker is UNKNOWN:
        return
    flags = [lookup(breaker, "enable"), lookup(breaker, "rollback")]
    if any(is_unknown(flag) for flag in flags):
        return
    if flags != [True, True]:
        report(
            f"Service '{args.name}' must set deploymentCircuitBreaker with enable and rollback "
            "both true."
        )


_check_immutable_tags = property_check(
    "Repository",
    "imageTagMutability",
    lambda mutability: mutability == "IMMUTABLE",
    "to 'IMMUTABLE'",
)
_check_scan_on_push = property_check(
    "Repository", "imageScanningConfiguration.scanOnPush", is_true, "to true"
)


def _check_customer_kms_key(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    """FSBP ECR.5 (newer than the June 2023 guide: "ECR repositories should be encrypted with
    customer managed AWS KMS keys"): encryptionType KMS with a key of ours. KMS without a key
    means AWS's managed aws/ecr key, and no configuration means AES256."""
    configurations = [c for c in items(lookup(props, "encryptionConfigurations")) if c]
    if any(is_unknown(c) for c in configurations):
        return
    for configuration in configurations or [{}]:
        kind, key = lookup(configuration, "encryptionType"), lookup(configuration, "kmsKey")
        if is_unknown(kind) or is_unknown(key):
            continue
        if kind != "KMS" or not key:
            report(
                f"ECR repository '{args.name}' is encrypted with "
                f"{'AWS managed aws/ecr key' if kind == 'KMS' else 'AES256'}, not a customer "
                "managed KMS key: set encryption_configurations to encryption_type 'KMS' with "
                "kms_key (FSBP ECR.5)."
            )


def _check_host_namespaces(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    """FSBP ECS.3 (ecs-controls.md: pidMode host shares the host's process namespace), ECS.17
    (newer than the June 2023 guide: no host network mode) and the network part of ECS.1
    (ecs-controls.md: host network mode without a non-root user): no task shares a namespace
    with its host. Refusing host mode outright covers ECS.1 whatever the user."""
    for prop, shared in HOST_NAMESPACE_MODES.items():
        mode = lookup(props, prop)
        if isinstance(mode, str) and not is_unknown(mode) and mode.lower() == "host":
            report(
                f"Task definition '{args.name}' sets {prop} 'host', sharing {shared}: use "
                "'awsvpc' networking and leave pidMode/ipcMode unset (task-private namespaces)."
            )


def _is_fargate(props: Props) -> bool:
    if lookup(props, "launchType") == "FARGATE":
        return True
    strategies = lookup(props, "capacityProviderStrategies")
    return any(
        lookup(strategy, "capacityProvider") in FARGATE_PROVIDERS for strategy in items(strategies)
    )


def _check_fargate_platform(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    """FSBP ECS.10 (ecs-controls.md, "ECS Fargate services should run on the latest Fargate
    platform version"): platformVersion absent (AWS uses LATEST) or LATEST."""
    version = lookup(props, "platformVersion")
    if is_unknown(version) or version in (None, "LATEST") or not _is_fargate(props):
        return
    report(
        f"Service '{args.name}' pins Fargate platform version {version!r}: leave "
        "platformVersion unset or 'LATEST' so tasks get the patched runtime (FSBP ECS.10)."
    )


def _check_container_insights(props: Props, args: ResourceValidationArgs, report: Report) -> None:
    """FSBP ECS.12 (ecs-controls.md, "ECS clusters should use Container Insights")."""
    settings = lookup(props, "settings")
    if is_unknown(settings):
        return
    values = [
        lookup(setting, "value")
        for setting in items(settings)
        if lookup(setting, "name") == "containerInsights"
    ]
    if any(is_unknown(value) for value in values):
        return
    if not any(value in CONTAINER_INSIGHTS_ON for value in values):
        report(
            f"Cluster '{args.name}' must turn Container Insights on: a settings entry "
            "containerInsights = 'enabled' (or 'enhanced') (FSBP ECS.12)."
        )


def _check_ecr_lifecycle(args: StackValidationArgs, report: ReportViolation) -> None:
    """FSBP ECR.3 (ecr-controls.md, "ECR repositories should have at least one lifecycle policy
    configured"): an aws.ecr.LifecyclePolicy names each repository."""
    policies = list(resources_of(args, ECR_LIFECYCLE_POLICY))
    for repository in resources_of(args, ECR_REPOSITORY):
        if not any(references(policy, "repository", repository) for policy in policies):
            report(
                f"ECR repository '{repository.name}' has no lifecycle policy: add an "
                "aws.ecr.LifecyclePolicy naming it that expires untagged images and keeps the "
                "tagged releases (components/image.py; FSBP ECR.3).",
                repository.urn,
            )


POLICIES = [
    resource_policy(
        "ecs-service-no-public-ip",
        "Prohibits ECS services that give their tasks public IP addresses.",
        (SERVICE,),
        _check_no_public_ip,
    ),
    resource_policy(
        "ecs-service-circuit-breaker-rollback",
        "Checks whether ECS services use the deployment circuit breaker with automatic rollback.",
        (SERVICE,),
        _check_circuit_breaker,
    ),
    _task_definition_policy(
        "ecs-task-readonly-root-filesystem",
        "Checks whether every container runs with a read-only root filesystem.",
        _readonly_root,
    ),
    _task_definition_policy(
        "ecs-task-non-root-user",
        "Checks whether every container runs as a non-root user.",
        _non_root,
    ),
    _task_definition_policy(
        "ecs-task-no-privileged",
        "Prohibits privileged containers.",
        _not_privileged,
    ),
    _task_definition_policy(
        "ecs-task-log-configuration",
        "Checks whether every container sends its logs through a log configuration.",
        _has_logging,
    ),
    _task_definition_policy(
        "ecs-task-no-plaintext-secrets",
        "Prohibits plain container environment variables whose names or values look like "
        "credentials.",
        _no_plaintext_secrets,
        ENV_SCHEMA,
    ),
    _task_definition_policy(
        "ecs-task-image-pinned-by-digest",
        "Checks whether every container image is referenced by its sha256 digest.",
        _pinned_by_digest,
    ),
    resource_policy(
        "ecr-immutable-tags",
        "Checks whether ECR repositories make image tags immutable.",
        (ECR_REPOSITORY,),
        _check_immutable_tags,
    ),
    resource_policy(
        "ecr-scan-on-push",
        "Checks whether ECR repositories scan images on push.",
        (ECR_REPOSITORY,),
        _check_scan_on_push,
    ),
    resource_policy(
        "ecs-task-host-namespaces-isolated",
        "Prohibits task definitions that share the host's network, process or IPC namespace "
        "(FSBP ECS.1, ECS.3, ECS.17).",
        (TASK_DEFINITION,),
        _check_host_namespaces,
    ),
    resource_policy(
        "ecs-fargate-latest-platform",
        "Checks whether Fargate services run on the latest Fargate platform version (FSBP ECS.10).",
        (SERVICE,),
        _check_fargate_platform,
    ),
    resource_policy(
        "ecs-cluster-container-insights",
        "Checks whether ECS clusters have Container Insights on (FSBP ECS.12).",
        (CLUSTER,),
        _check_container_insights,
    ),
    resource_policy(
        "ecr-customer-kms-key",
        "Checks whether ECR repositories are encrypted with a customer managed KMS key (FSBP "
        "ECR.5).",
        (ECR_REPOSITORY,),
        _check_customer_kms_key,
    ),
    stack_policy(
        "ecr-lifecycle-policy",
        "Checks whether every ECR repository has a lifecycle policy (FSBP ECR.3).",
        _check_ecr_lifecycle,
    ),
]
