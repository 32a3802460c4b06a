"""The audit-trail policy: a multi-region, validated, KMS-encrypted trail, or an organization's."""

import pytest
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE

from tests.policies.conftest import KEY_ARN, stack_resource

POLICY = "cloudtrail-multi-region-validated-encrypted"
TRAIL = "aws:cloudtrail/trail:Trail"
COMPLIANT = {"isMultiRegionTrail": True, "enableLogFileValidation": True, "kmsKeyId": KEY_ARN}


def trail(name="audit", **changes):
    return stack_resource(TRAIL, {**COMPLIANT, **changes}, name=name)


def test_multi_region_validated_encrypted_trail_passes(run_stack):
    assert run_stack(POLICY, [trail()]) == []


def test_stack_without_a_trail_is_reported(run_stack):
    reported = run_stack(POLICY, [])
    assert len(reported) == 1
    assert "no CloudTrail trail" in reported[0][0]
    assert reported[0][1] is None


def test_organization_trail_stands_in_for_the_stack_s_own(run_stack):
    assert run_stack(POLICY, [], {"organizationTrail": True}) == []


@pytest.mark.parametrize(
    ("prop", "value", "named"),
    [
        ("isMultiRegionTrail", False, "isMultiRegionTrail"),
        ("isMultiRegionTrail", None, "isMultiRegionTrail"),
        ("enableLogFileValidation", False, "enableLogFileValidation"),
        ("kmsKeyId", None, "kmsKeyId"),
        ("kmsKeyId", "", "kmsKeyId"),
    ],
)
def test_trail_lacking_a_requirement_is_reported(run_stack, prop, value, named):
    subject = trail(**{prop: value})
    reported = run_stack(POLICY, [subject])
    assert len(reported) == 1
    message, urn = reported[0]
    assert named in message
    assert "'audit'" in message
    assert urn == subject.urn


def test_one_compliant_trail_is_enough(run_stack):
    assert run_stack(POLICY, [trail("regional", isMultiRegionTrail=False), trail()]) == []


def test_unknown_values_count_as_met(run_stack):
    subject = trail(
        isMultiRegionTrail=UNKNOWN_BOOLEAN_VALUE,
        enableLogFileValidation=UNKNOWN_BOOLEAN_VALUE,
        kmsKeyId=UNKNOWN_STRING_VALUE,
    )
    assert run_stack(POLICY, [subject]) == []
