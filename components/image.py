"""The service image: an ECR repository and the `app/` image built and pushed by pulumi-docker.

Tags are immutable, so each build gets a tag derived from the build context's content: an
unchanged `app/` keeps its tag (no push, no diff) and a changed one gets a new tag. The service
runs the pushed image by its repo digest (`repo@sha256:...`), so the task definition changes
exactly when the image does.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from config.sections import ImageSettings

PLATFORM = "linux/amd64"
# Build-context entries that do not reach the image (see app/.dockerignore) or that local runs
# create, so they must not change the content tag.
IGNORED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "tests"})
IGNORED_SUFFIXES = (".pyc", ".pyo", ".md")


@dataclass
class AppImageArgs:
    repository_name: str
    context: str
    """Build context directory, relative to the project (`./app`)."""
    version: str
    settings: ImageSettings
    kms_key_arn: pulumi.Input[str]
    """The stack's key: it encrypts the repository's images."""


def context_digest(context: Path) -> str:
    """SHA-256 over the build context's relevant files (paths and bytes), in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(context.rglob("*")):
        relative = path.relative_to(context)
        if (
            not path.is_file()
            or IGNORED_PARTS.intersection(relative.parts)
            or path.name.endswith(IGNORED_SUFFIXES)
        ):
            continue
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def lifecycle_policy(untagged_expiry_days: int) -> str:
    """Expire untagged images (superseded layers of failed or replaced pushes) after N days."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Expire untagged images after {untagged_expiry_days} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": untagged_expiry_days,
                    },
                    "action": {"type": "expire"},
                }
            ]
        },
        sort_keys=True,
    )


class AppImage(pulumi.ComponentResource):
    repository_url: pulumi.Output[str]
    repository_arn: pulumi.Output[str]
    image_ref: pulumi.Output[str]
    """The pushed image by digest (`<repository>@sha256:...`), never a mutable tag."""
    tag: str
    """The content-derived tag the image was pushed under."""

    def __init__(
        self, name: str, args: AppImageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:image:AppImage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        repository = aws.ecr.Repository(
            f"{name}-repository",
            name=args.repository_name,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                scan_on_push=True
            ),
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(
                    encryption_type="KMS", kms_key=args.kms_key_arn
                )
            ],
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=lifecycle_policy(args.settings.untagged_image_expiry_days),
            opts=child,
        )
        self.tag = f"{args.version}-{context_digest(Path(args.context))[:12]}"
        token = aws.ecr.get_authorization_token_output(
            registry_id=repository.registry_id, opts=pulumi.InvokeOptions(parent=self)
        )
        image = docker.Image(
            f"{name}-image",
            image_name=repository.repository_url.apply(lambda url: f"{url}:{self.tag}"),
            build=docker.DockerBuildArgs(
                context=args.context, dockerfile=f"{args.context}/Dockerfile", platform=PLATFORM
            ),
            # CI previews build the image too, so a broken Dockerfile fails the pull request.
            build_on_preview=args.settings.build_on_preview,
            registry=docker.RegistryArgs(
                server=repository.repository_url.apply(lambda url: url.split("/", 1)[0]),
                username=token.user_name,
                password=pulumi.Output.secret(token.password),
            ),
            opts=child,
        )
        self.repository_url = repository.repository_url
        self.repository_arn = repository.arn
        self.image_ref = image.repo_digest
        self.register_outputs(
            {
                "repository_url": self.repository_url,
                "repository_arn": self.repository_arn,
                "image_ref": self.image_ref,
            }
        )
