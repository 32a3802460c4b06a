"""The ECR repository and the app image: immutable, scanned, encrypted, pushed, run by digest."""

import json

from components.image import PLATFORM, context_digest, lifecycle_policy


def test_repository_is_immutable_scanned_and_kms_encrypted(rendering):
    repository = rendering.get("aws:ecr/repository:Repository", "image-repository")
    assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    (encryption,) = repository.inputs["encryptionConfigurations"]
    assert encryption == {
        "encryptionType": "KMS",
        "kmsKey": rendering.get("aws:kms/key:Key", "secrets-key").outputs["arn"],
    }


def test_untagged_images_expire(staging, prod):
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


def test_image_is_built_from_app_for_amd64_and_in_previews(rendering):
    image = rendering.get("docker:index/image:Image", "image-image")
    assert image.inputs["build"] == {
        "context": "./app",
        "dockerfile": "./app/Dockerfile",
        "platform": PLATFORM,
    }
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
