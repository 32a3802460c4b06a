"""Mock runtime for the edge and observability component tests (pulumi/examples testing-unit-py).

`render(build)` runs `build` under `pulumi.runtime.set_mocks`, waits for every registration, and
returns what was registered, so tests assert on plain data after the program has finished.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from components.alarms import Alarms, AlarmsArgs
from components.signals import SignalScope, SignalSources
from config.sections import AlarmSettings
from plan.render import ensure_event_loop

ACCOUNT_ID = "123456789012"
REGION = "eu-central-1"
CALLER_IDENTITY = "aws:index/getCallerIdentity:getCallerIdentity"
ELB_SERVICE_ACCOUNT = "aws:elb/getServiceAccount:getServiceAccount"
ELB_ACCOUNT_ARN = "arn:aws:iam::054676820928:root"
PAGER_URL = "https://events.example-pager.com/integration/dummy-pager-key-7f3a"

# The alarm section of a realistic stack, by its Pulumi.yaml keys (fixture `alarm_settings`).
ALARM_CONFIG = {
    "alarmEmails": ["oncall@example.com", "Lead@Example.com"],
    "http5xxCriticalPercent": 5,
    "http5xxWarningPercent": 1,
    "latencyP95CriticalSeconds": 3,
    "latencyP95WarningSeconds": 1,
    "ecsCpuHighPercent": 80,
    "ecsMemoryHighPercent": 85,
    "databaseFailingMinutes": 3,
    "bookingFailuresPerPeriod": 3,
    "cspViolationsPerPeriod": 50,
    "alarmEvaluationPeriods": 5,
    "availabilityEvaluationPeriods": 2,
}
ALARM_SETTINGS = AlarmSettings.model_validate(ALARM_CONFIG)
SIGNAL_SOURCES = SignalSources(
    load_balancer="app/miko-prod/0123456789abcdef",
    target_group="targetgroup/miko-prod/fedcba9876543210",
    cluster_name="miko-prod-cluster",
    service_name="miko-prod-app",
    environment="production",
)
SIGNAL_SCOPE = SignalScope("miko-prod", SIGNAL_SOURCES, "hc-1234")
ALARM_OUTPUTS = (
    "alarm_names",
    "topic_arn",
    "warning_topic_arn",
    "us_east_1_topic_arn",
    "us_east_1_warning_topic_arn",
    "health_check_id",
)


@dataclass
class Registered:
    typ: str
    name: str
    inputs: dict[str, Any]
    provider: str
    secret_inputs: frozenset[str]
    protect: bool = False


def _region_of(args: pulumi.runtime.MockResourceArgs) -> str:
    return "us-east-1" if "us-east-1" in (args.provider or "") else REGION


def _computed_outputs(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    """Only the computed outputs the components read, like the provider would return them."""
    region = _region_of(args)
    if args.typ == "aws:sns/topic:Topic":
        return {"arn": f"arn:aws:sns:{region}:{ACCOUNT_ID}:{args.inputs['name']}"}
    if args.typ == "aws:kms/key:Key":
        return {
            "arn": f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{args.name}",
            "keyId": f"{args.name}-key-id",
        }
    if args.typ == "aws:cloudwatch/eventRule:EventRule":
        return {"arn": f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{args.inputs['name']}"}
    if args.typ == "aws:s3/bucket:Bucket":
        return {"arn": f"arn:aws:s3:::{args.inputs['bucket']}"}
    if args.typ == "aws:acm/certificate:Certificate":
        domain = args.inputs["domainName"]
        return {
            "arn": f"arn:aws:acm:{region}:{ACCOUNT_ID}:certificate/{args.name}",
            "domainValidationOptions": [
                {
                    "domainName": domain,
                    "resourceRecordName": f"_acme.{domain}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": "_check.acm-validations.aws.",
                }
            ],
        }
    return {}


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    registered: list[Registered] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.registered.append(
            Registered(
                typ=args.typ,
                name=args.name,
                inputs=_unwrap_secrets(args.inputs),
                provider=args.provider or "",
                secret_inputs=frozenset(
                    key for key, value in args.inputs.items() if _is_secret(value)
                ),
            )
        )
        return f"{args.name}-id", {**args.inputs, **_computed_outputs(args)}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        if args.token == CALLER_IDENTITY:
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/test",
                "id": ACCOUNT_ID,
                "userId": "AIDATEST",
            }
        if args.token == ELB_SERVICE_ACCOUNT:
            return {"arn": ELB_ACCOUNT_ARN, "id": "054676820928"}
        raise AssertionError(f"unexpected invoke {args.token}")

    def of_type(self, typ: str) -> list[Registered]:
        return [resource for resource in self.registered if resource.typ == typ]

    def named(self, name: str) -> Registered:
        matches = [resource for resource in self.registered if resource.name == name]
        assert len(matches) == 1, f"expected one resource named {name}, got {len(matches)}"
        return matches[0]


class ProtectRecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, noting each resource's `protect` option (mocks never see it)."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        for resource in self.recording.registered:
            if (resource.typ, resource.name) == (request.type, request.name):
                resource.protect = bool(request.protect)
        return response


def provider_name(reference: str) -> str:
    """Logical name of the provider in a reference `urn:...::<type>::<name>::<id>`."""
    return reference.split("::")[3]


def _is_secret(value: Any) -> bool:
    return bool(rpc.is_rpc_secret(value))


def _unwrap_secrets(value: Any) -> Any:
    if _is_secret(value):
        return _unwrap_secrets(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {key: _unwrap_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(item) for item in value]
    return value


def render(build: Callable[[], Any]) -> RecordingMocks:
    """Run `build` (which creates components and may return an Output) under fresh mocks."""
    ensure_event_loop()
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(
        mocks,
        project="miko-platform",
        stack="test",
        preview=False,
        monitor=ProtectRecordingMonitor(mocks),
    )
    pulumi.runtime.test(build)()
    return mocks


def capture(output: pulumi.Output[Any], into: dict[str, Any], key: str) -> pulumi.Output[None]:
    """Store an output's resolved value in `into[key]` once the program has run."""
    return output.apply(lambda value: into.__setitem__(key, value))


def render_alarms(
    settings: AlarmSettings = ALARM_SETTINGS,
    *,
    pager_url: Any = PAGER_URL,
    outputs: dict[str, Any] | None = None,
    protect: bool = True,
) -> RecordingMocks:
    """The Alarms component alone, for miko-prod; `outputs` receives its resolved outputs."""

    def build() -> list[pulumi.Output[None]]:
        main = aws.Provider("main", region="eu-central-1")
        us_east_1 = aws.Provider("us-east-1", region="us-east-1")
        alarms = Alarms(
            "alarms",
            AlarmsArgs(
                prefix="miko-prod",
                settings=settings,
                sources=SIGNAL_SOURCES,
                app_log_group_name="/ecs/miko-prod/app",
                site_hostname="app.example.com",
                pager_url=pager_url,
                us_east_1_provider=us_east_1,
                protect=protect,
            ),
            opts=pulumi.ResourceOptions(providers=[main]),
        )
        sink = outputs if outputs is not None else {}
        return [capture(getattr(alarms, output), sink, output) for output in ALARM_OUTPUTS]

    return render(build)
