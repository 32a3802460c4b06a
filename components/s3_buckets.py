"""Pieces every private bucket of the platform shares, created under the caller's component."""

import pulumi
import pulumi_aws as aws


def block_public_access(
    name: str, bucket_id: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> aws.s3.BucketPublicAccessBlock:
    """All four public-access switches on: no ACL or policy can make the bucket public."""
    return aws.s3.BucketPublicAccessBlock(
        name,
        bucket=bucket_id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
