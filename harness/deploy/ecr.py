"""The model-server image on AWS: build it with the Docker SDK, push it to ECR once per content.

The image is tagged with its own id (content), so an unchanged build finds its tag already
in ECR and pushes nothing, and the SageMaker Model (named by a hash of its image URI) stays.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from harness.clients import not_found
from harness.config import REPO_ROOT
from harness.deploy.base import CREATE, SKIP, UNCHANGED, Run
from harness.errors import HarnessError

DOCKERFILE = "harness/model_server/Dockerfile"  # build context: the repository root
PLATFORM = "linux/amd64"  # SageMaker's instances


def default_docker_client() -> Any:
    """The Docker engine from the environment (DOCKER_HOST or the local socket), checked."""
    import docker

    dockerfile = REPO_ROOT / DOCKERFILE
    if not dockerfile.is_file():
        raise HarnessError(f"{dockerfile} not found: cannot build the model-server image.")
    try:
        client = docker.from_env()
        client.ping()
        return client
    except docker.errors.DockerException as exc:
        raise HarnessError(
            f"deploy-aws builds the model-server image and needs a Docker engine: {exc}",
            "start Docker (or set DOCKER_HOST), then run `make deploy-aws` again",
        ) from exc


def repository_uri(run: Run) -> str:
    ident = run.identity
    return f"{ident.account}.dkr.ecr.{ident.region}.amazonaws.com/{run.settings.ecr_repository}"


def repository_arn(run: Run) -> str:
    return run.arn("ecr", f"repository/{run.settings.ecr_repository}")


def ensure_repository(run: Run) -> bool:
    """Create the repository if missing; returns whether it exists now."""
    ecr, name = run.client("ecr"), run.settings.ecr_repository
    try:
        ecr.describe_repositories(repositoryNames=[name])
        run.record(UNCHANGED, "ecr repository", name)
        return True
    except ClientError as exc:
        if not not_found(exc):
            raise
    run.record(CREATE, "ecr repository", name)
    if run.apply:
        ecr.create_repository(
            repositoryName=name,
            tags=run.tag_list(),
            imageScanningConfiguration={"scanOnPush": True},
        )
    return run.apply


def _latest_tag(run: Run) -> str | None:
    images = run.client("ecr").describe_images(
        repositoryName=run.settings.ecr_repository, filter={"tagStatus": "TAGGED"}
    )["imageDetails"]
    images.sort(key=lambda i: i.get("imagePushedAt", 0))
    return images[-1]["imageTags"][0] if images else None


def _tag_exists(run: Run, tag: str) -> bool:
    try:
        run.client("ecr").describe_images(
            repositoryName=run.settings.ecr_repository, imageIds=[{"imageTag": tag}]
        )
        return True
    except ClientError as exc:
        if not_found(exc):
            return False
        raise


def _build(docker_client: Any, repository: str) -> Any:
    import docker

    try:
        image, _logs = docker_client.images.build(
            path=str(REPO_ROOT),
            dockerfile=DOCKERFILE,
            tag=f"{repository}:build",
            platform=PLATFORM,
            rm=True,
            pull=False,
        )
    except docker.errors.BuildError as exc:
        tail = "".join(
            str(line.get("stream", line.get("error", ""))) for line in list(exc.build_log)[-10:]
        )
        raise HarnessError(f"Building the model-server image failed: {exc.msg}\n{tail}") from exc
    return image


def _push(run: Run, docker_client: Any, image: Any, uri: str, tag: str) -> None:
    token = run.client("ecr").get_authorization_token()["authorizationData"][0]
    username, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    image.tag(uri, tag=tag)
    for line in docker_client.images.push(
        uri,
        tag=tag,
        stream=True,
        decode=True,
        auth_config={"username": username, "password": password},
    ):
        if "error" in line:
            raise HarnessError(
                f"Pushing {uri}:{tag} failed: {line['error']}",
                "check that your credentials may push to this ECR repository",
            )


def ensure_image(run: Run, docker_factory: Callable[[], Any]) -> str:
    """Build, tag by content, push if ECR lacks that tag; returns the image URI."""
    uri = repository_uri(run)
    exists = ensure_repository(run)
    if run.dry_run:
        latest = _latest_tag(run) if exists else None
        run.record(
            SKIP,
            "container image",
            uri,
            "plan does not build: deploy builds it and pushes it if its content changed",
        )
        return f"{uri}:{latest or 'new'}"
    docker_client = docker_factory()
    image = _build(docker_client, run.settings.ecr_repository)
    tag = image.id.split(":")[-1][:12]
    if _tag_exists(run, tag):
        run.record(UNCHANGED, "container image", f"{uri}:{tag}")
    else:
        run.record(CREATE, "container image", f"{uri}:{tag}", "pushed")
        _push(run, docker_client, image, uri, tag)
    return f"{uri}:{tag}"


def delete_repository(run: Run) -> None:
    from harness.deploy.teardown import remove

    ecr, name, arn = run.client("ecr"), run.settings.ecr_repository, repository_arn(run)

    def tags() -> list[dict[str, str]]:
        ecr.describe_repositories(repositoryNames=[name])  # raises RepositoryNotFound when gone
        return ecr.list_tags_for_resource(resourceArn=arn)["tags"]

    remove(
        run,
        "ecr repository",
        name,
        tags,
        lambda: ecr.delete_repository(repositoryName=name, force=True),
    )
