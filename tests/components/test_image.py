"""The ECR repository and the app image: immutable, scanned, encrypted, pushed, run by digest."""

import json

import pytest

from components.image import (
    PLATFORM,
    context_digest,
    last_commit,
    lifecycle_policy,
    promoted_stack_name,
    repository_arn_of,
)
from config.stack import PROJECT_DIR


def test_repository_is_immutable_scanned_and_kms_encrypted(staging):
    rendering = staging
    repository = rendering.get("aws:ecr/repository:Repository", "image-repository")
    assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    (encryption,) = repository.inputs["encryptionConfigurations"]
    assert encryption == {
        "encryptionType": "KMS",
        "kmsKey": rendering.get("aws:kms/key:Key", "secrets-key").outputs["arn"],
    }


def test_untagged_images_expire(staging, render_with):
    # prod promotes staging's image; built there too, it keeps its own expiry.
    prod = render_with("prod", {"imagePromoteFrom": ""})
    for rendering, days in ((staging, 3), (prod, 14)):
        policy = json.loads(
            rendering.get("aws:ecr/lifecyclePolicy:LifecyclePolicy", "image-lifecycle").inputs[
                "policy"
            ]
        )
        (rule,) = policy["rules"]
        assert rule["selection"]["tagStatus"] == "untagged"
        assert rule["selection"]["countNumber"] == days
        assert rule["action"] == {"type": "expire"}


def test_image_is_built_from_the_project_for_amd64_and_in_previews(staging):
    rendering = staging
    image = rendering.get("docker:index/image:Image", "image-image")
    commit = last_commit(PROJECT_DIR, "app")
    assert image.inputs["build"] == {
        "context": ".",
        "dockerfile": "app/Dockerfile",
        "platform": PLATFORM,
        "args": {"FRONTEND_SOURCE": "", "RELEASE_COMMIT": commit},
    }
    # The tag names the build's inputs: release version, last commit touching them, content.
    tag = image.inputs["imageName"].rsplit(":", 1)[1]
    assert tag.split("-")[1] == commit[:12]
    assert tag.split("-")[2] == context_digest(PROJECT_DIR / "app")[:12]
    assert PLATFORM == "linux/amd64"
    assert image.inputs["buildOnPreview"] is True
    repository = rendering.get("aws:ecr/repository:Repository", "image-repository")
    assert image.inputs["imageName"].startswith(repository.outputs["repositoryUrl"] + ":")
    assert image.inputs["registry"]["server"] == repository.outputs["repositoryUrl"].split("/")[0]
    assert image.inputs["registry"]["password"] == "[secret]"
    assert "registry.password" in image.secret_paths


def test_build_on_preview_follows_config(render_with):
    rendering = render_with("staging", {"imageBuildOnPreview": False})
    assert (
        rendering.get("docker:index/image:Image", "image-image").inputs["buildOnPreview"] is False
    )


def test_a_front_end_source_is_built_into_the_image_and_changes_its_tag(render_with):
    built = render_with("staging", {"frontendSource": "tests/frontend/spa"})
    image = built.get("docker:index/image:Image", "image-image")

    assert image.inputs["build"]["args"]["FRONTEND_SOURCE"] == "tests/frontend/spa"
    placeholder = render_with("staging", {}).get("docker:index/image:Image", "image-image")
    assert image.inputs["imageName"] != placeholder.inputs["imageName"]


def test_the_repository_of_an_image_reference_is_derived_from_it():
    reference = "123456789012.dkr.ecr.us-east-2.amazonaws.com/miko-staging-app@sha256:" + "0" * 64
    assert (
        repository_arn_of(reference)
        == "arn:aws:ecr:us-east-2:123456789012:repository/miko-staging-app"
    )
    with pytest.raises(ValueError, match="not an ECR image by digest"):
        repository_arn_of("ghcr.io/someone/app:latest")


def test_a_short_stack_name_is_qualified_with_this_organization_and_project():
    assert promoted_stack_name("acme/miko-platform/staging") == "acme/miko-platform/staging"


def test_context_digest_follows_content_and_ignores_caches(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "main.py").write_text("print('hi')\n")
    first = context_digest(tmp_path)
    (tmp_path / "pkg" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\x00")
    (tmp_path / "pkg" / "stale.pyc").write_bytes(b"\x01")
    assert context_digest(tmp_path) == first
    (tmp_path / "pkg" / "main.py").write_text("print('bye')\n")
    assert context_digest(tmp_path) != first


def test_lifecycle_policy_is_deterministic_json():
    assert lifecycle_policy(7) == lifecycle_policy(7)
    assert json.loads(lifecycle_policy(7))["rules"][0]["selection"]["countUnit"] == "days"


def test_a_pinned_building_stack_keeps_its_repository_and_only_stops_building(staging, render_with):
    # The rollback by imageRef: staging runs an earlier digest. Its repository holds every
    # release (prod runs them from it), so it stays, with its lifecycle; only the build stops.
    earlier = staging.exports["image_ref"].split("@")[0] + "@sha256:" + "ab" * 32
    pinned = render_with("staging", {"imageRef": earlier})

    kept = pinned.get("aws:ecr/repository:Repository", "image-repository")
    assert kept.inputs == staging.get("aws:ecr/repository:Repository", "image-repository").inputs
    pinned.get("aws:ecr/lifecyclePolicy:LifecyclePolicy", "image-lifecycle")
    assert pinned.of_type("docker:index/image:Image") == []
    assert pinned.exports["image_ref"] == earlier
    # prod promotes: it never owns a repository, pinned or not.
    assert render_with("prod", {"imageRef": earlier}).of_type("aws:ecr/repository:Repository") == []
