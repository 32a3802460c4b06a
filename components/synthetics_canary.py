"""The synthetic patient journey: a CloudWatch Synthetics canary on the public URL, and its alarm.

Every `canarySchedule` (five minutes) the canary loads the home page and the consultation booking
page through the public URL, as a patient does, and fails when a page does not answer 200, lacks a
security header, does not render its selector or logs an error (canary/journey.js, tested locally
against the fixture SPA in Chromium: tests/canary/). What the SPA must render is stack config
(CanarySettings), handed to the script as environment variables.

- The script: canary/index.js (the Synthetics handler) and canary/journey.js, zipped here with
  fixed timestamps and modes, so the same files always make the same bytes. The provider takes a
  local zip by path (`zip_file`) and updates the canary when that path changes, so the zip is
  named after its content: a changed script is a changed path, shown in the preview.
- Its runtime: `syn-nodejs-playwright-8.0` (Playwright 1.61.1, Chromium 150), the Playwright
  version canary/package.json pins for the local tests.
- Its artifacts (screenshots, HAR, logs) go to a bucket of their own, private, TLS-only and
  versioned like every bucket of the platform (BucketSettings), expired after
  `canaryArtifactRetentionDays`, incomplete multipart uploads aborted (expiring_objects_rules).
  SSE-KMS (Security Hub S3.17) with a key of the canary's own, not the stack key: the canary
  writes its artifacts with it (`artifact_config.s3_encryption` SSE_KMS) and the bucket's
  default encryption names it (bucket key on, as every KMS bucket of the platform), so the role
  may use this key and stays away from the key that guards every integration secret. The key:
  rotated yearly, a 30-day deletion window, an explicit key policy (the account administers it,
  IAM grants decide who uses it: only the canary's role), protected like the bucket.
- Its role: the permissions AWS documents for canaries
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Synthetics_Canaries_CanaryPermissions.html),
  each scoped to this canary: its bucket and its key, its own Lambda log groups, metrics in the
  CloudWatchSynthetics namespace only; trusted by Lambda for this account only.
- Its alarm, `synthetic-journey-failed`: SuccessPercent below 100 in `canaryFailedRunsToAlarm`
  consecutive runs (one run per period). Critical: the journey is the site's reason to exist (a
  patient books a consultation), so two failed runs in a row, ten minutes of a broken journey,
  page on-call; one failed run alone does not, as a single run can fail on a transient network
  error between the canary and the edge. No data is treated as failing: a canary that stopped
  running verifies nothing.
"""

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from app.security_headers import security_headers
from components.alarms import alarm_name
from components.policy_documents import (
    allow,
    assume_role_policy,
    document,
    iam_governed_key_policy,
    tls_only_bucket_policy,
)
from components.runbooks import alarm_description
from components.s3_buckets import BucketSettings, expiring_objects_rules, suffixed_names
from config.sections import CanarySettings

PROJECT_DIR: Final = Path(__file__).resolve().parent.parent
CANARY_DIR: Final = PROJECT_DIR / "canary"
SCRIPT_FILES: Final = ("index.js", "journey.js")
"""What the zip holds: the handler and the journey (run-local.js and package.json stay out)."""
BUILD_DIR: Final = "canary/.build"
"""Where the zip is written, relative to the project (the provider reads `zip_file` from there)."""
HANDLER: Final = "index.handler"
RUNTIME_VERSION: Final = "syn-nodejs-playwright-8.0"
RUNTIME_PLAYWRIGHT_VERSION: Final = "1.61.1"
"""The Playwright version of RUNTIME_VERSION (AWS's runtime notes); canary/package.json pins it."""
ZIP_TIMESTAMP: Final = (1980, 1, 1, 0, 0, 0)
ALARM_KEY: Final = "synthetic-journey-failed"
METRICS_NAMESPACE: Final = "CloudWatchSynthetics"
SUCCESS_METRIC: Final = "SuccessPercent"
ARTIFACT_ENCRYPTION_MODE: Final = "SSE_KMS"
KEY_ACTIONS: Final = ("kms:GenerateDataKey", "kms:Decrypt")
"""What the role may do with the canary's key: AWS's statement for SSE-KMS artifacts."""
KEY_DELETION_WINDOW_DAYS: Final = 30
PAGE_WAITS_PER_RUN: Final = 4
"""Each page wait (navigation, selector) gets timeout / 4: two pages, two waits each."""


def canary_name(prefix: str) -> str:
    """`<prefix>-journey`: lower-case, at most 21 characters for the prefixes of this project."""
    return f"{prefix}-journey"


def script_zip(canary_dir: Path = CANARY_DIR) -> bytes:
    """The canary's zip: SCRIPT_FILES at the root, fixed timestamp and mode, in a fixed order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in SCRIPT_FILES:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the mode above is read as such everywhere
            archive.writestr(info, (canary_dir / name).read_bytes(), compresslevel=9)
    return buffer.getvalue()


def build_script_zip(project_dir: Path = PROJECT_DIR, canary_dir: Path = CANARY_DIR) -> str:
    """Writes the zip under BUILD_DIR, named after its content; its path relative to the project."""
    content = script_zip(canary_dir)
    relative = f"{BUILD_DIR}/journey-{hashlib.sha256(content).hexdigest()[:16]}.zip"
    path = project_dir / relative
    if not path.is_file() or path.read_bytes() != content:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(".tmp")
        scratch.write_bytes(content)
        scratch.replace(path)
    return relative


def required_security_headers(csp_mode: str) -> list[str]:
    """The header names every page must carry: the set the edge and the service send."""
    return [name.lower() for name in security_headers([], csp_mode)]


def journey_environment(
    settings: CanarySettings, base_url: str, required_headers: Sequence[str]
) -> dict[str, str]:
    """The canary's environment: canary/journey.js `configFromEnv` reads every key."""
    return {
        "JOURNEY_BASE_URL": base_url.rstrip("/"),
        "JOURNEY_HOME_SELECTOR": settings.home_selector,
        "JOURNEY_BOOKING_PATH": settings.booking_path,
        "JOURNEY_BOOKING_SELECTOR": settings.booking_selector,
        "JOURNEY_REQUIRED_HEADERS": ",".join(required_headers),
        "JOURNEY_IGNORED_CONSOLE_ERRORS": json.dumps(list(settings.ignored_console_errors)),
        "JOURNEY_TIMEOUT_MS": str(settings.timeout_seconds * 1000 // PAGE_WAITS_PER_RUN),
        "JOURNEY_SETTLE_MS": "1000",
    }


def trust_policy(account_id: str) -> str:
    """Lambda (which runs the canary) may assume the role, for this account's functions only."""
    return assume_role_policy("lambda.amazonaws.com", account_id)


def role_policy(bucket_arn: str, key_arn: str, region: str, account_id: str, name: str) -> str:
    """AWS's documented canary permissions, each scoped to this canary."""
    log_groups = f"arn:aws:logs:{region}:{account_id}:log-group:/aws/lambda/cwsyn-{name}-*"
    return document(
        [
            # Artifacts: this bucket holds nothing else.
            allow(["s3:PutObject", "s3:GetObject"], [f"{bucket_arn}/*"]),
            allow(["s3:GetBucketLocation"], [bucket_arn]),
            # SSE-KMS artifacts: the role encrypts them with the canary's key
            # (kms:GenerateDataKey) and decrypts what it reads back (kms:Decrypt, e.g. visual
            # monitoring's baseline), the two actions AWS documents, on this key alone
            # ("Encrypting canary artifacts",
            # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Synthetics_artifact_encryption.html).
            allow(KEY_ACTIONS, [key_arn]),
            # Synthetics lists buckets to check the artifact location (AWS's statement).
            allow(["s3:ListAllMyBuckets"], ["*"]),
            allow(
                ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], [log_groups]
            ),
            {
                **allow(["cloudwatch:PutMetricData"], ["*"]),
                "Condition": {"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
            },
        ]
    )


def lifecycle_rules(days: int) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
    return expiring_objects_rules("expire-canary-artifacts", days)


def alarm_properties(settings: CanarySettings, name: pulumi.Input[str]) -> dict[str, Any]:
    """The journey alarm's MetricAlarm properties, but for its name and notifications."""
    runs = settings.failed_runs_to_alarm
    minutes = settings.interval_seconds // 60
    return {
        "alarm_description": alarm_description(
            f"The synthetic patient journey (home page, then {settings.booking_path}) failed "
            f"{runs} run(s) in a row, one every {minutes} min: patients may not reach or load "
            "the booking page (critical)",
            ALARM_KEY,
        ),
        "namespace": METRICS_NAMESPACE,
        "metric_name": SUCCESS_METRIC,
        "dimensions": {"CanaryName": name},
        "statistic": "Average",
        "period": settings.interval_seconds,
        "evaluation_periods": runs,
        "datapoints_to_alarm": runs,
        "comparison_operator": "LessThanThreshold",
        "threshold": 100,
        # A canary that stopped running verifies nothing.
        "treat_missing_data": "breaching",
        "tags": {"alarm": ALARM_KEY},
    }


@dataclass
class SyntheticsCanaryArgs:
    prefix: str
    """Prefix of physical names, e.g. `miko-prod`."""
    region: str
    account_id: pulumi.Input[str]
    settings: CanarySettings
    site_url: str
    """The public URL the journey loads (https://<siteDomain>)."""
    csp_mode: str
    """The stack's CSP mode: which CSP header name the pages must carry."""
    critical_topic_arn: pulumi.Input[str]
    """The critical alarm topic (Alarms.topic_arn): on-call's pager and emails."""
    protect: bool
    """Whether the artifact key and bucket are protected (as every stateful resource in prod)."""


class SyntheticsCanary(pulumi.ComponentResource):
    canary_name: pulumi.Output[str]
    alarm_name: pulumi.Output[str]
    artifact_bucket_name: pulumi.Output[str]
    artifact_key_arn: pulumi.Output[str]
    """ARN of the KMS key that encrypts the artifacts."""

    def __init__(
        self, name: str, args: SyntheticsCanaryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:observability:SyntheticsCanary", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)
        physical_name = canary_name(args.prefix)
        days = args.settings.artifact_retention_days

        # The canary's own key, not the stack key: the canary's role is its only user.
        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the {physical_name} Synthetics canary's artifacts",
            enable_key_rotation=True,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            # Only IAM grants use it (role_policy); S3 uses it on the role's behalf.
            policy=pulumi.Output.from_input(args.account_id).apply(iam_governed_key_policy),
            opts=stateful,
        )
        bucket = aws.s3.Bucket(
            f"{name}-artifacts", bucket=f"{args.prefix}-canary-artifacts", opts=stateful
        )
        bucket_settings = BucketSettings(bucket, parent=self)
        bucket_settings.private_baseline(
            suffixed_names(f"{name}-artifacts"),
            policy=bucket.arn.apply(tls_only_bucket_policy),
            kms_key_arn=key.arn,
        )
        bucket_settings.then(
            lambda opts: aws.s3.BucketLifecycleConfiguration(
                f"{name}-artifacts-lifecycle",
                bucket=bucket.id,
                rules=lifecycle_rules(days),
                opts=opts,
            )
        )

        role = aws.iam.Role(
            f"{name}-role",
            description=f"Runs the {physical_name} Synthetics canary",
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(trust_policy),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-role",
            role=role.id,
            policy=pulumi.Output.all(bucket.arn, key.arn, args.account_id).apply(
                lambda values: role_policy(
                    values[0], values[1], args.region, values[2], physical_name
                )
            ),
            opts=child,
        )

        environment = journey_environment(
            args.settings, args.site_url, required_security_headers(args.csp_mode)
        )
        canary = aws.synthetics.Canary(
            f"{name}-canary",
            name=physical_name,
            artifact_s3_location=bucket.bucket.apply(lambda value: f"s3://{value}/"),
            artifact_config={
                "s3_encryption": {
                    "encryption_mode": ARTIFACT_ENCRYPTION_MODE,
                    "kms_key_arn": key.arn,
                }
            },
            execution_role_arn=role.arn,
            handler=HANDLER,
            runtime_version=RUNTIME_VERSION,
            zip_file=build_script_zip(),
            schedule={"expression": args.settings.schedule},
            run_config={
                "timeout_in_seconds": args.settings.timeout_seconds,
                "memory_in_mb": args.settings.memory_mb,
                "active_tracing": False,
                "environment_variables": environment,
            },
            success_retention_period=days,
            failure_retention_period=days,
            start_canary=True,
            # Removing the canary removes its Lambda function and layers too.
            delete_lambda=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, bucket_settings.last]),
        )

        self.alarm_name = pulumi.Output.from_input(alarm_name(args.prefix, ALARM_KEY))
        aws.cloudwatch.MetricAlarm(
            f"{name}-alarm",
            name=alarm_name(args.prefix, ALARM_KEY),
            alarm_actions=[args.critical_topic_arn],
            ok_actions=[args.critical_topic_arn],
            **alarm_properties(args.settings, canary.name),
            opts=child,
        )

        self.canary_name = canary.name
        self.artifact_bucket_name = bucket.bucket
        self.artifact_key_arn = key.arn
        self.register_outputs(
            {
                "canary_name": self.canary_name,
                "alarm_name": self.alarm_name,
                "artifact_bucket_name": self.artifact_bucket_name,
                "artifact_key_arn": self.artifact_key_arn,
            }
        )
