"""The dump lifecycle, as rendered: no storage-class move whose minimum outlasts the expiry.

Source of truth: S3's documented minimum storage durations ("Comparing the Amazon S3 storage
classes", https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-class-intro.html#sc-compare),
an object moved on earlier being billed for the rest of its class's minimum. The durations are
written out here as the page gives them, not read from config/catalogues.py, so a wrong table
there fails too.
"""

import pytest

from plan.render import RenderFailed

LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
DOCUMENTED_MINIMUM_DAYS = {
    "STANDARD_IA": 30,
    "ONEZONE_IA": 30,
    "GLACIER_IR": 90,
    "GLACIER": 90,
    "DEEP_ARCHIVE": 180,
    "INTELLIGENT_TIERING": 0,
}


def dumps_rule(rendering):
    rules = rendering.named("backups-dumps-lifecycle").inputs["rules"]
    return next(rule for rule in rules if rule["id"] == "dumps")


def test_staging_expires_dumps_without_moving_them(staging):
    rule = dumps_rule(staging)
    assert "transitions" not in rule or rule["transitions"] == []
    assert rule["expiration"]["days"] == 35


def test_prod_moves_dumps_to_glacier_ir_long_before_they_expire(prod):
    rule = dumps_rule(prod)
    assert rule["transitions"] == [{"days": 30, "storageClass": "GLACIER_IR"}]
    assert rule["expiration"]["days"] == 400


def test_no_rendered_transition_pays_a_minimum_past_its_expiry(rendering):
    for lifecycle in rendering.of_type(LIFECYCLE):
        for rule in lifecycle.inputs["rules"]:
            expire = rule.get("expiration", {}).get("days")
            for transition in rule.get("transitions", []):
                minimum = DOCUMENTED_MINIMUM_DAYS[transition["storageClass"]]
                assert expire is None or transition["days"] + minimum <= expire, (
                    lifecycle.name,
                    rule["id"],
                    transition,
                    expire,
                )


def test_a_stack_asking_for_a_move_within_the_minimum_does_not_render(render_with):
    """Staging's former setting: Glacier IR at 30 days, expiry at 35."""
    with pytest.raises(RenderFailed, match="backupColdStorageAfterDays 30 moves dumps"):
        render_with("staging", {"backupColdStorageAfterDays": 30})
