"""Pulumi mocks for rendering the program offline.

Resources echo their inputs and add only the computed outputs something in the program reads
(ARNs, ids, names, DNS names, ARN suffixes, the image's repo digest, ACM validation records,
secret version ids). Every value is derived from the inputs, so two renders are identical.
Provider functions are answered by token; an unknown token fails loudly instead of returning
an empty result that would hide a missing mock.
"""

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import pulumi

ACCOUNT_ID = "123456789012"
# The ELB log-delivery account of us-west-2 (a per-region constant AWS publishes).
ELB_SERVICE_ACCOUNT_ID = "797873946194"
# Cloudflare's published ranges (https://www.cloudflare.com/ips/), as the provider returns them.
CLOUDFLARE_IPV4 = (
    "173.245.48.0/20",
    "103.21.244.0/22",
    "103.22.200.0/22",
    "103.31.4.0/22",
    "141.101.64.0/18",
    "108.162.192.0/18",
    "190.93.240.0/20",
    "188.114.96.0/20",
    "197.234.240.0/22",
    "198.41.128.0/17",
    "162.158.0.0/15",
    "104.16.0.0/13",
    "104.24.0.0/14",
    "172.64.0.0/13",
    "131.0.72.0/22",
)
CLOUDFLARE_IPV6 = (
    "2400:cb00::/32",
    "2606:4700::/32",
    "2803:f800::/32",
    "2405:b500::/32",
    "2405:8100::/32",
    "2a06:98c0::/29",
    "2c0f:f248::/32",
)
MOCK_ECR_PASSWORD = "mock-ecr-password"  # noqa: S105 - a mock's stand-in, not a credential


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _service_of(type_token: str) -> str:
    """`aws:lb/loadBalancer:LoadBalancer` -> `lb`."""
    return type_token.split(":")[1].split("/", maxsplit=1)[0]


SECRET_MARK = "[secret]"  # noqa: S105 - plan.render's mask of a secret value


def _holds_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_secret(item) for item in value)
    return bool(value == SECRET_MARK)


class PlatformMocks(pulumi.runtime.Mocks):
    """Deterministic answers for every resource type and function the program uses."""

    def __init__(
        self, region: str, stack_outputs: Mapping[str, Mapping[str, Any]] | None = None
    ) -> None:
        self.region = region
        self.stack_outputs = stack_outputs or {}
        """Outputs a stack reference sees, by the stack's short name; others are derived."""
        self._computed: Mapping[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
            "aws:ecr/repository:Repository": self._repository,
            "docker:index/image:Image": self._image,
            "aws:lb/loadBalancer:LoadBalancer": self._load_balancer,
            "aws:lb/targetGroup:TargetGroup": self._target_group,
            "aws:acm/certificate:Certificate": self._certificate,
            "aws:kms/key:Key": lambda name, _: {"keyId": _digest(name)[:32]},
            "aws:secretsmanager/secretVersion:SecretVersion": self._secret_version,
            "aws:cloudwatch/dashboard:Dashboard": self._dashboard,
            "aws:ecs/taskDefinition:TaskDefinition": self._task_definition,
            "aws:s3/bucket:Bucket": self._bucket,
            "pulumi:pulumi:StackReference": self._stack_reference,
        }
        self._functions: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "aws:index/getAvailabilityZones:getAvailabilityZones": self._zones,
            "aws:index/getCallerIdentity:getCallerIdentity": lambda _: {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/deployer",
                "userId": "AIDAMOCKDEPLOYER",
                "id": ACCOUNT_ID,
            },
            "aws:index/getRegion:getRegion": lambda _: {"name": self.region, "region": self.region},
            "aws:index/getPartition:getPartition": lambda _: {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "id": "aws",
            },
            "aws:ecr/getAuthorizationToken:getAuthorizationToken": self._ecr_token,
            "aws:elb/getServiceAccount:getServiceAccount": lambda _: {
                "arn": f"arn:aws:iam::{ELB_SERVICE_ACCOUNT_ID}:root",
                "id": ELB_SERVICE_ACCOUNT_ID,
            },
            "cloudflare:index/getIpRanges:getIpRanges": lambda _: {
                "ipv4Cidrs": list(CLOUDFLARE_IPV4),
                "ipv6Cidrs": list(CLOUDFLARE_IPV6),
            },
            "cloudflare:index/getZone:getZone": self._zone,
        }

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        outputs = {**inputs, **self._generic(args.typ, args.name, inputs)}
        compute = self._computed.get(args.typ)
        if compute is not None:
            outputs.update(compute(args.name, inputs))
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        answer = self._functions.get(args.token)
        if answer is None:
            raise NotImplementedError(f"no mock for provider function {args.token}")
        # A plain dict: the SDK's mock monitor reads a tuple's second item as failures.
        return answer(dict(args.args))

    def _generic(self, type_token: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        outputs: dict[str, Any] = {"id": f"{name}-id"}
        physical = inputs.get("name", name)
        outputs["name"] = physical
        if type_token.startswith("aws:") and "arn" not in inputs:
            service = _service_of(type_token)
            # pulumi-aws v7 resources take their own `region`; the provider's is the default.
            region = inputs.get("region") or self.region
            outputs["arn"] = f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{service}/{physical}"
        return outputs

    def _repository(self, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        repository = inputs.get("name", name)
        return {
            "registryId": ACCOUNT_ID,
            "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{self.region}.amazonaws.com/{repository}",
            "arn": f"arn:aws:ecr:{self.region}:{ACCOUNT_ID}:repository/{repository}",
        }

    def _image(self, _: str, inputs: dict[str, Any]) -> dict[str, Any]:
        image_name = str(inputs["imageName"])
        repository = image_name.rsplit(":", 1)[0]
        return {"repoDigest": f"{repository}@sha256:{_digest(image_name)}"}

    def _load_balancer(self, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        physical = inputs.get("name", name)
        suffix = f"app/{physical}/{_digest(name)[:16]}"
        return {
            "arnSuffix": suffix,
            "arn": f"arn:aws:elasticloadbalancing:{self.region}:{ACCOUNT_ID}:loadbalancer/{suffix}",
            "dnsName": f"{physical}-{_digest(name)[:8]}.{self.region}.elb.amazonaws.com",
            "zoneId": "Z1H1FL5HABSF5",
        }

    def _target_group(self, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        suffix = f"targetgroup/{inputs.get('name', name)}/{_digest(name)[:16]}"
        return {
            "arnSuffix": suffix,
            "arn": f"arn:aws:elasticloadbalancing:{self.region}:{ACCOUNT_ID}:{suffix}",
        }

    def _certificate(self, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        domains = [inputs["domainName"], *inputs.get("subjectAlternativeNames", [])]
        return {
            "domainValidationOptions": [
                {
                    "domainName": domain,
                    "resourceRecordName": f"_{_digest(domain)[:32]}.{domain}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": f"_{_digest(name, domain)[:32]}.acm-validations.aws.",
                }
                for domain in domains
            ]
        }

    def _secret_version(self, _: str, inputs: dict[str, Any]) -> dict[str, Any]:
        # AWS gives every new value a new version id; a digest of the inputs mimics that.
        return {"versionId": _digest(inputs)[:36]}

    def _bucket(self, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        bucket = inputs.get("bucket") or f"{inputs.get('bucketPrefix', name)}{_digest(name)[:12]}"
        return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}"}

    def _stack_reference(self, _: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """The referenced stack's outputs: given by the caller, or the image it would export."""
        stack = str(inputs["name"]).rsplit("/", 1)[-1]
        derived = {
            "image_ref": f"{ACCOUNT_ID}.dkr.ecr.{self.region}.amazonaws.com/miko-{stack}-app"
            f"@sha256:{_digest(stack)}",
            "release": {
                "source": "built here",
                "commit": _digest("commit", stack)[:40],
                "frontend": _digest("frontend", stack)[:16],
            },
        }
        outputs = dict(self.stack_outputs.get(stack, derived))
        # An output holding a secret anywhere (a rendering masks it as "[secret]") is a secret
        # output, as the engine reports it: the reading stack gets it back secret.
        secret = sorted(name for name, value in outputs.items() if _holds_secret(value))
        return {"outputs": outputs, "secretOutputNames": secret}

    def _task_definition(self, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        family = inputs.get("family", name)
        without_revision = f"arn:aws:ecs:{self.region}:{ACCOUNT_ID}:task-definition/{family}"
        return {"arn": f"{without_revision}:1", "arnWithoutRevision": without_revision}

    def _dashboard(self, _: str, inputs: dict[str, Any]) -> dict[str, Any]:
        dashboard = inputs.get("dashboardName", "dashboard")
        return {
            "dashboardArn": f"arn:aws:cloudwatch::{ACCOUNT_ID}:dashboard/{dashboard}",
        }

    def _zones(self, _: dict[str, Any]) -> dict[str, Any]:
        letters = "abcd"
        return {
            "names": [f"{self.region}{letter}" for letter in letters],
            "zoneIds": [f"usw2-az{index}" for index in range(1, len(letters) + 1)],
            "id": self.region,
        }

    def _ecr_token(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "userName": "AWS",
            "password": MOCK_ECR_PASSWORD,
            "authorizationToken": "QVdTOm1vY2s=",
            "proxyEndpoint": f"https://{ACCOUNT_ID}.dkr.ecr.{self.region}.amazonaws.com",
            "expiresAt": "2030-01-01T00:00:00Z",
            "registryId": args.get("registryId", ACCOUNT_ID),
            "id": ACCOUNT_ID,
        }

    def _zone(self, args: dict[str, Any]) -> dict[str, Any]:
        zone_name = (args.get("filter") or {}).get("name", "example.com")
        return {"id": _digest("zone", zone_name)[:32], "name": zone_name}
