"""Every bucket of both stacks, as rendered, against the Security Hub S3 controls of issue 15.

Source of truth: the AWS Security Hub user guide's S3 controls (awsdocs/aws-security-hub-user-guide,
doc_source/s3-controls.md at 47bfe2f): S3.10 and S3.13 (lifecycle policies configured), here
with S3's own AbortIncompleteMultipartUpload rule ("Configuring a bucket lifecycle
configuration to delete incomplete multipart uploads", Amazon S3 user guide) in an enabled rule
over every object; S3.12 (ACLs not used: BucketOwnerEnforced ownership). The rule values are
written out here as S3's API takes them, not read from components/s3_buckets.py.
"""

from typing import Any

from plan.render import RenderedResource, Rendering
from tests.components.test_bucket_ordering import BUCKET, LIFECYCLE, sub_resources

OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
MAX_DAYS_AFTER_INITIATION = 7


def settings_of(
    rendering: Rendering, bucket: RenderedResource, type_: str
) -> list[RenderedResource]:
    return [s for s in sub_resources(rendering, bucket) if s.type == type_]


def aborts_every_incomplete_upload(rule: dict[str, Any]) -> bool:
    days = (rule.get("abortIncompleteMultipartUpload") or {}).get("daysAfterInitiation")
    return (
        rule.get("status") == "Enabled"
        and not rule.get("prefix")
        and rule.get("filter", {}) in ({}, {"prefix": ""})
        and isinstance(days, int)
        and 1 <= days <= MAX_DAYS_AFTER_INITIATION
    )


def test_every_bucket_aborts_incomplete_multipart_uploads(rendering):
    buckets = rendering.of_type(BUCKET)
    assert buckets
    for bucket in buckets:
        [lifecycle] = settings_of(rendering, bucket, LIFECYCLE)
        rules = lifecycle.inputs["rules"]
        assert any(aborts_every_incomplete_upload(rule) for rule in rules), (bucket.name, rules)
        # S3 refuses two rules with one id.
        assert len({rule["id"] for rule in rules}) == len(rules), bucket.name


def test_the_access_log_bucket_expires_logs_and_aborts_uploads(prod):
    bucket = prod.get(BUCKET, "load-balancer-access-logs")
    [lifecycle] = settings_of(prod, bucket, LIFECYCLE)
    rules = {rule["id"]: rule for rule in lifecycle.inputs["rules"]}
    assert set(rules) == {"expire-access-logs", "abort-incomplete-uploads"}
    assert rules["abort-incomplete-uploads"] == {
        "id": "abort-incomplete-uploads",
        "status": "Enabled",
        "filter": {"prefix": ""},
        "abortIncompleteMultipartUpload": {"daysAfterInitiation": 1},
    }
    # Only the abort rule was added: the expiry is unchanged.
    assert "abortIncompleteMultipartUpload" not in rules["expire-access-logs"]


def test_the_dump_bucket_aborts_uploads_over_every_object_not_only_dumps(rendering):
    rules = rendering.named("backups-dumps-lifecycle").inputs["rules"]
    [abort] = [rule for rule in rules if "abortIncompleteMultipartUpload" in rule]
    assert aborts_every_incomplete_upload(abort)


def test_every_bucket_disables_acls(rendering):
    for bucket in rendering.of_type(BUCKET):
        [ownership] = settings_of(rendering, bucket, OWNERSHIP)
        assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}, bucket.name
        assert "acl" not in bucket.inputs
        assert "grants" not in bucket.inputs
