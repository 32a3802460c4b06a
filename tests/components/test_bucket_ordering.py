"""Every bucket's configuration is written one setting at a time, in both stacks' renderings.

Source of truth: S3's documented answer to overlapping configuration writes on one bucket,
409 OperationAborted ("A conflicting conditional operation is currently in progress against
this resource", https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html), and
S3's own prerequisites: an object lock configuration and noncurrent-version lifecycle rules
need versioning enabled, and a bucket policy is refused while the public access block is being
applied. The engine runs resources with no path between them in parallel, so the test reads the
dependencies the program registered (the rendering's `dependencies`: explicit `depends_on` and
inputs alike) and asks that each bucket's sub-resources form a total order. Sub-resources are
found by their `bucket` input, so a setting added later is held to the same rule.
"""

from plan.render import RenderedResource, Rendering

BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
# (earlier, later): pairs S3 itself needs in this order, whatever else the chain holds.
REQUIRED_BEFORE = (
    (VERSIONING, OBJECT_LOCK),
    (VERSIONING, LIFECYCLE),
    (PUBLIC_ACCESS_BLOCK, POLICY),
)
# The buckets each stack is expected to have: a bucket the test does not see is not checked.
EXPECTED_BUCKETS = {
    "staging": {
        "release-assets-bucket",
        "backups-dumps-bucket",
        "synthetic-journey-artifacts",
        "audit-bucket",
    },
    "prod": {
        "release-assets-bucket",
        "backups-dumps-bucket",
        "audit-bucket",
        "load-balancer-access-logs",
        "synthetic-journey-artifacts",
    },
}


def sub_resources(rendering: Rendering, bucket: RenderedResource) -> list[RenderedResource]:
    """Everything that names the bucket as its `bucket` (by id or by name)."""
    names = {bucket.outputs["id"], bucket.outputs["bucket"]}
    return [
        resource
        for resource in rendering.resources
        if resource.urn != bucket.urn and resource.inputs.get("bucket") in names
    ]


def assert_total_order(rendering: Rendering, settings: list[RenderedResource]) -> None:
    """Of any two settings, one waits for the other: no two are written in parallel."""
    for index, first in enumerate(settings):
        for second in settings[index + 1 :]:
            assert rendering.waits_for(first, second) or rendering.waits_for(second, first), (
                f"{first.type} {first.name} and {second.type} {second.name} may run in parallel"
            )


def test_each_bucket_is_configured_one_setting_at_a_time(rendering):
    buckets = rendering.of_type(BUCKET)
    assert {bucket.name for bucket in buckets} == EXPECTED_BUCKETS[rendering.stack]
    for bucket in buckets:
        settings = sub_resources(rendering, bucket)
        # Ownership, public access block, encryption, policy, versioning, lifecycle at least.
        assert len(settings) >= 6, (bucket.name, [s.type for s in settings])
        assert_total_order(rendering, settings)
        for earlier_type, later_type in REQUIRED_BEFORE:
            for later in (s for s in settings if s.type == later_type):
                for earlier in (s for s in settings if s.type == earlier_type):
                    assert rendering.waits_for(later, earlier), (later.name, earlier.name)


def test_the_dump_bucket_writes_its_object_lock_after_versioning(rendering):
    lock = rendering.get(OBJECT_LOCK, "backups-dumps-object-lock")
    versioning = rendering.get(VERSIONING, "backups-dumps-versioning")
    assert rendering.waits_for(lock, versioning)


def test_the_load_balancer_waits_for_its_log_bucket_to_be_configured(prod):
    """The ALB checks at creation that it may write to the bucket: policy and encryption."""
    alb = prod.get("aws:lb/loadBalancer:LoadBalancer", "load-balancer-alb")
    bucket = prod.get(BUCKET, "load-balancer-access-logs")
    for setting in sub_resources(prod, bucket):
        assert prod.waits_for(alb, setting), setting.type
