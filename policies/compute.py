"""ECS services and task definitions, and the ECR repository images come from."""

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
from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy

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
    resource_policy,
    string_setting,
)

SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ECR_REPOSITORY = "aws:ecr/repository:Repository"

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
]
