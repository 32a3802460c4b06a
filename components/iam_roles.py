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
    """A role only `service` may assume, for this account only (`aws:SourceAccount`, the
    confused-deputy guard); `policy`, when given, is its inline policy `name`.

    The services given roles here document the guard in their trust policies: ECS tasks
    (task-iam-roles: "use the aws:SourceAccount or aws:SourceArn condition keys ... in the trust
    relationship"), VPC flow logs (flow-logs-iam-role) and EventBridge Scheduler (setting-up,
    execution role).
    """
    account_id = aws.get_caller_identity_output(
        opts=pulumi.InvokeOutputOptions(parent=opts.parent)
    ).account_id
    role = aws.iam.Role(
        name,
        description=description,
        assume_role_policy=account_id.apply(lambda account: assume_role_policy(service, account)),
        opts=opts,
    )
    if policy is not None:
        aws.iam.RolePolicy(name, role=role.id, policy=policy, opts=opts)
    return role
