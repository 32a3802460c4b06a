"""IAM roles that one AWS service assumes, each with its inline policy under the same name.

The flow logs, the app's task and the backup jobs and their scheduler all need the same pair:
a role trusting one service principal and, usually, one inline policy scoped to what it touches.
"""

import pulumi
import pulumi_aws as aws

from components.policy_documents import assume_role_policy


def service_role(
    name: str,
    *,
    service: str,
    policy: pulumi.Input[str] | None,
    opts: pulumi.ResourceOptions,
    description: str | None = None,
) -> aws.iam.Role:
    """A role only `service` may assume; `policy`, when given, is its inline policy `name`."""
    role = aws.iam.Role(
        name,
        description=description,
        assume_role_policy=assume_role_policy(service),
        opts=opts,
    )
    if policy is not None:
        aws.iam.RolePolicy(name, role=role.id, policy=policy, opts=opts)
    return role
