"""Pieces every private bucket of the platform shares, created under the caller's component."""

from collections.abc import Callable
from typing import TypeVar

import pulumi
import pulumi_aws as aws

R = TypeVar("R", bound=pulumi.Resource)


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


class BucketSettings:
    """A bucket's settings, written one at a time: each waits for the one created before it.

    S3 answers 409 OperationAborted ("A conflicting conditional operation is currently in
    progress against this resource") when configuration writes to one bucket overlap, and the
    engine runs resources with no dependency between them in parallel. Every sub-resource of a
    bucket goes through `then`, so the chain stays whole when a setting is added. Order matters
    where S3 says so: the policy after the public access block, object lock and noncurrent-
    version lifecycle rules after versioning.
    """

    def __init__(self, bucket: aws.s3.Bucket, parent: pulumi.Resource) -> None:
        self.bucket = bucket
        self._parent = parent
        self.last: pulumi.Resource = bucket
        """The setting written last so far: what waits for the whole bucket depends on it."""

    def then(self, create: Callable[[pulumi.ResourceOptions], R]) -> R:
        """`create(opts)` with options that make it wait for the previous setting."""
        resource = create(pulumi.ResourceOptions(parent=self._parent, depends_on=[self.last]))
        self.last = resource
        return resource

    def private_baseline(
        self,
        logical_name: Callable[[str], str],
        *,
        policy: pulumi.Input[str],
        kms_key_arn: pulumi.Input[str] | None,
    ) -> None:
        """The first settings of every bucket, in S3's order: owner-enforced objects, public
        access blocked, default encryption (the KMS key, or SSE-S3 where the writer supports
        nothing else), `policy`, versioning. `logical_name(kind)` names each sub-resource."""
        bucket = self.bucket
        self.then(
            lambda opts: aws.s3.BucketOwnershipControls(
                logical_name("ownership"),
                bucket=bucket.id,
                rule={"object_ownership": "BucketOwnerEnforced"},
                opts=opts,
            )
        )
        self.then(
            lambda opts: block_public_access(logical_name("public-access-block"), bucket.id, opts)
        )
        self.then(
            lambda opts: aws.s3.BucketServerSideEncryptionConfiguration(
                logical_name("encryption"),
                bucket=bucket.id,
                rules=[_default_encryption(kms_key_arn)],
                opts=opts,
            )
        )
        self.then(
            lambda opts: aws.s3.BucketPolicy(
                logical_name("policy"), bucket=bucket.id, policy=policy, opts=opts
            )
        )
        self.then(
            lambda opts: aws.s3.BucketVersioning(
                logical_name("versioning"),
                bucket=bucket.id,
                versioning_configuration={"status": "Enabled"},
                opts=opts,
            )
        )

    def default_retention(self, name: str, *, mode: str, days: int) -> None:
        """Object lock's default retention (the bucket was created with object lock enabled);
        S3 takes it only once versioning is on, so it follows `private_baseline`."""
        bucket = self.bucket
        self.then(
            lambda opts: aws.s3.BucketObjectLockConfiguration(
                name,
                bucket=bucket.id,
                rule={"default_retention": {"mode": mode, "days": days}},
                opts=opts,
            )
        )


NONCURRENT_DAYS = 1
"""Days a replaced or deleted version of an expiring object is kept."""
INCOMPLETE_UPLOAD_DAYS = 1
"""Days after initiation that S3 aborts a multipart upload a writer never completed (its parts
are billed until then and are invisible to listings)."""
ABORT_INCOMPLETE_UPLOADS_RULE_ID = "abort-incomplete-uploads"


def abort_incomplete_uploads_rule() -> aws.s3.BucketLifecycleConfigurationRuleArgsDict:
    """The lifecycle rule every bucket of the platform carries: an enabled rule over every object
    (empty prefix) aborting multipart uploads `INCOMPLETE_UPLOAD_DAYS` after initiation, e.g. a
    dump or an upload of a task killed half-way.

    Security Hub S3.10 ("S3 buckets with versioning enabled should have lifecycle policies
    configured") and S3.13 ("S3 buckets should have lifecycle policies configured"), AWS Security
    Hub user guide (awsdocs/aws-security-hub-user-guide, s3-controls); held by the policy
    `s3-bucket-lifecycle-aborts-multipart` (policies/storage_backups.py).
    """
    return {
        "id": ABORT_INCOMPLETE_UPLOADS_RULE_ID,
        "status": "Enabled",
        "filter": {"prefix": ""},
        "abort_incomplete_multipart_upload": {"days_after_initiation": INCOMPLETE_UPLOAD_DAYS},
    }


def expiring_objects_rules(
    rule_id: str, days: int
) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
    """Lifecycle of a versioned bucket whose objects expire `days` after their last write: the
    expiry, then the delete markers it leaves, then multipart uploads a writer never finished."""
    return [
        {
            "id": rule_id,
            "status": "Enabled",
            "filter": {"prefix": ""},
            "expiration": {"days": days},
            "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_DAYS},
        },
        {
            # S3 takes Days and ExpiredObjectDeleteMarker in separate rules only.
            "id": "remove-expired-delete-markers",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "expiration": {"expired_object_delete_marker": True},
        },
        abort_incomplete_uploads_rule(),
    ]


def suffixed_names(name: str) -> Callable[[str], str]:
    """`<name>-<kind>` for a bucket's sub-resources; its TLS-only policy is `<name>-tls-only`."""
    return lambda kind: f"{name}-{'tls-only' if kind == 'policy' else kind}"


def _default_encryption(
    kms_key_arn: pulumi.Input[str] | None,
) -> aws.s3.BucketServerSideEncryptionConfigurationRuleArgsDict:
    if kms_key_arn is None:
        return {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}
    return {
        "apply_server_side_encryption_by_default": {
            "sse_algorithm": "aws:kms",
            "kms_master_key_id": kms_key_arn,
        },
        "bucket_key_enabled": True,
    }
