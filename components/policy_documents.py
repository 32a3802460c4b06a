"""IAM and resource-policy JSON documents shared by the components.

Pure functions over plain strings: called inside `Output.apply` (or `Output.json_dumps`), never
creating resources, and tested without the Pulumi runtime.
"""

import json
from collections.abc import Sequence
from typing import Any

VERSION = "2012-10-17"


def document(statements: Sequence[dict[str, Any]]) -> str:
    return json.dumps({"Version": VERSION, "Statement": list(statements)}, sort_keys=True)


def allow(actions: Sequence[str], resources: Sequence[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": sorted(actions), "Resource": list(resources)}


def assume_role_policy(service: str) -> str:
    """Trust policy letting one AWS service principal assume the role."""
    return document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
            }
        ]
    )


def deny_insecure_transport(bucket_arn: str) -> dict[str, Any]:
    """Refuses every request to the bucket that does not arrive over TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def tls_only_bucket_policy(bucket_arn: str) -> str:
    return document([deny_insecure_transport(bucket_arn)])
