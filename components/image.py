"""The service image: built here once, or promoted from the stack that built it, or pinned.

- **Built** (staging): an ECR repository, and the image built and pushed by pulumi-docker from
  the project (context `.`, app/Dockerfile): the service, and the front end from
  `frontendSource` (built in a Node stage: npm ci and its build script) or the bundled
  placeholder. Tags are immutable, so the tag is derived from the build's inputs: the release
  version, the last commit that touched them and a digest of their content. An unchanged build
  keeps its tag (no push, no diff); a changed one gets a new tag.
- **Promoted** (prod, `imagePromoteFrom`): the `image_ref` the named stack exports, i.e. the
  digest that stack ran and passed. Nothing is built or pushed on the way to prod.
- **Pinned** (`imageRef`): that digest; this is the rollback (README, "Rolling back"). A
  building stack that is pinned keeps its repository: only the build stops.
The service runs the image by its repo digest (`repo@sha256:...`), so the task definition
changes exactly when the image does, and the execution role may pull from the repository the
digest names (derived from it).
"""

import hashlib
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from app.static_files import StaticFiles
from config.sections import ImageSettings

PLATFORM = "linux/amd64"
CONTEXT = "."
DOCKERFILE = "app/Dockerfile"
SERVICE_DIR = "app"
# Build-context entries that do not reach the image (see app/Dockerfile.dockerignore) or that
# local runs create, so they must not change the content tag.
IGNORED_PARTS = frozenset(
    {
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        "tests",
        "node_modules",
        "dist",
        ".git",
    }
)
IGNORED_SUFFIXES = (".pyc", ".pyo", ".md")
ECR_REFERENCE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<repository>[a-z0-9._/-]+)@sha256:[0-9a-f]{64}$"
)
IMAGE_REF_OUTPUT = "image_ref"
RELEASE_OUTPUT = "release"
"""The stack outputs a promoting stack reads (exported by __main__.py)."""
PLACEHOLDER = "app/static"
"""The bundled placeholder front end, served when no frontendSource is set."""


@dataclass
class AppImageArgs:
    repository_name: str
    version: str
    settings: ImageSettings
    frontend_source: str
    """Path inside the project to the SPA's source or dist; empty for the placeholder."""
    kms_key_arn: pulumi.Input[str]
    """The stack's key: it encrypts the repository's images."""
    project_dir: Path
    """The build context (the project); frontend_source is relative to it."""


def context_digest(*roots: Path) -> str:
    """SHA-256 over the build inputs' relevant files (paths and bytes), in sorted order."""
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root.parent)
            if (
                not path.is_file()
                or IGNORED_PARTS.intersection(path.relative_to(root).parts)
                or path.name.endswith(IGNORED_SUFFIXES)
            ):
                continue
            digest.update(relative.as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


REVISION_VARIABLE = "MIKO_BUILD_REVISION"
"""The git revision whose history names the commit (default HEAD). The offline plan's `--base`
render sets it, with GIT_DIR, to render another revision exported outside the repository."""


def last_commit(project_dir: Path, *paths: str) -> str:
    """The last git commit that touched `paths` (the build's inputs), or `unknown` outside git."""
    revision = os.environ.get(REVISION_VARIABLE, "HEAD")
    try:
        found = subprocess.run(
            ["git", "log", "-1", "--format=%H", revision, "--", *paths],
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return found or "unknown"


def repository_arn_of(image_ref: str) -> str:
    """The ECR repository ARN an image reference by digest names; ValueError for another kind."""
    match = ECR_REFERENCE.fullmatch(image_ref)
    if match is None:
        raise ValueError(f"not an ECR image by digest: {image_ref!r}")
    return f"arn:aws:ecr:{match['region']}:{match['account']}:repository/{match['repository']}"


def frontend_build(project_dir: Path, source: str) -> str:
    """The front-end build id the service will report (app.static_files: the same digest), or
    where to read it when the build happens inside the image build."""
    directory = project_dir / (source or PLACEHOLDER)
    if (directory / "package.json").is_file():
        return "built with the image (see /health release.frontend)"
    return StaticFiles(directory).build_id


def promoted_stack_name(stack: str) -> str:
    """`staging` -> `<organization>/<project>/staging`; a qualified name stays as it is."""
    if "/" in stack:
        return stack
    return f"{pulumi.get_organization()}/{pulumi.get_project()}/{stack}"


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
    image_ref: pulumi.Output[str]
    """The image by digest (`<repository>@sha256:...`), never a mutable tag."""
    repository_arn: pulumi.Output[str]
    """The repository holding it: the execution roles may pull from it."""
    source: str
    """How this stack gets its image, for the plan: built, promoted from S, or pinned."""
    release: pulumi.Output[dict[str, str]]
    """Where the image comes from, the last commit that touched its inputs and its front-end
    build id: this stack's build, the promoted stack's release, or only `source` when pinned."""

    def __init__(
        self, name: str, args: AppImageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("miko:image:AppImage", name, None, opts)
        self._name = name
        self._args = args
        # The stack that builds owns the repository, also while it is pinned: a rollback by
        # imageRef must not delete the repository holding every release (prod's included).
        repository = None if args.settings.promote_from else self._repository()
        if args.settings.ref:
            self.source = "pinned (imageRef)"
            self.image_ref = pulumi.Output.from_input(args.settings.ref)
            self.release = pulumi.Output.from_input({"source": self.source})
        elif args.settings.promote_from:
            self.source = f"promoted from stack {args.settings.promote_from}"
            self.image_ref = self._promoted(args.settings.promote_from)
        else:
            assert repository is not None
            self.source = "built here"
            self.image_ref = self._built(repository)
        self.repository_arn = self.image_ref.apply(repository_arn_of)
        self.register_outputs(
            {
                "image_ref": self.image_ref,
                "repository_arn": self.repository_arn,
                "release": self.release,
            }
        )

    def _promoted(self, stack: str) -> pulumi.Output[str]:
        reference = pulumi.StackReference(
            f"{self._name}-promoted-from",
            stack_name=promoted_stack_name(stack),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.release = reference.get_output(RELEASE_OUTPUT).apply(
            lambda found: {**(found or {}), "source": self.source}
        )
        return reference.require_output(IMAGE_REF_OUTPUT).apply(str)

    def _repository(self) -> aws.ecr.Repository:
        args = self._args
        child = pulumi.ResourceOptions(parent=self)
        repository = aws.ecr.Repository(
            f"{self._name}-repository",
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
            f"{self._name}-lifecycle",
            repository=repository.name,
            policy=lifecycle_policy(args.settings.untagged_image_expiry_days),
            opts=child,
        )
        return repository

    def _built(self, repository: aws.ecr.Repository) -> pulumi.Output[str]:
        args = self._args
        child = pulumi.ResourceOptions(parent=self)
        inputs = [SERVICE_DIR, *([args.frontend_source] if args.frontend_source else [])]
        commit = last_commit(args.project_dir, *inputs)
        self.release = pulumi.Output.from_input(
            {
                "source": self.source,
                "commit": commit,
                "frontend": frontend_build(args.project_dir, args.frontend_source),
            }
        )
        content = context_digest(*(args.project_dir / path for path in inputs))
        tag = f"{args.version}-{commit[:12]}-{content[:12]}"
        token = aws.ecr.get_authorization_token_output(
            registry_id=repository.registry_id, opts=pulumi.InvokeOptions(parent=self)
        )
        image = docker.Image(
            f"{self._name}-image",
            image_name=repository.repository_url.apply(lambda url: f"{url}:{tag}"),
            build=docker.DockerBuildArgs(
                context=CONTEXT,
                dockerfile=DOCKERFILE,
                platform=PLATFORM,
                args={"FRONTEND_SOURCE": args.frontend_source, "RELEASE_COMMIT": commit},
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
        return image.repo_digest
