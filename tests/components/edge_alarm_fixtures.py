"""Mock runtime for the edge and observability component tests (pulumi/examples testing-unit-py).

`render(build)` runs `build` under `pulumi.runtime.set_mocks`, waits for every registration, and
returns what was registered, so tests assert on plain data after the program has finished.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from components.alarms import AlarmThresholds
from plan.render import ensure_event_loop

ACCOUNT_ID = "123456789012"
REGION = "eu-central-1"
CALLER_IDENTITY = "aws:index/getCallerIdentity:getCallerIdentity"
ELB_SERVICE_ACCOUNT = "aws:elb/getServiceAccount:getServiceAccount"
ELB_ACCOUNT_ARN = "arn:aws:iam::054676820928:root"


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


# Thresholds as the staging stack sets them, for component tests that need a realistic set.
STAGING_THRESHOLDS = AlarmThresholds(
    http_5xx_critical_percent=5,
    http_5xx_warning_percent=1,
    latency_p95_critical_seconds=3,
    latency_p95_warning_seconds=1,
    cpu_high_percent=80,
    memory_high_percent=85,
    database_failures_per_period=3,
    booking_failures_per_period=3,
    evaluation_periods=5,
    availability_evaluation_periods=2,
)
