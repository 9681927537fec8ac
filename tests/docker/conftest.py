"""Fixtures for the Docker tests: an engine, the model-server image, containers run as SageMaker does.

Tests marked `docker` skip with a reason when no engine answers (`make test-docker` sets one up).
The image is DOCKER_TEST_IMAGE when set (the CI stage builds it on a local base); otherwise it
is built here from harness/model_server/Dockerfile with its default base image.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
import requests

from harness.config import REPO_ROOT
from tests.docker.docker_helpers import wait_for_ping
from tests.support.tiny_model import build_tiny_model_dir

DOCKERFILE = "harness/model_server/Dockerfile"


def _engine() -> docker.DockerClient | None:
    """A docker SDK client whose engine answers, or None (no socket, engine down)."""
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return None
    return client


@pytest.fixture(scope="session")
def docker_client():
    client = _engine()
    if client is None:
        pytest.skip("no Docker engine answers (`docker info`); `make test-docker` sets one up")
    return client


@pytest.fixture(scope="session")
def model_server_image(docker_client) -> str:
    tag = os.environ.get("DOCKER_TEST_IMAGE", "")
    if tag:
        docker_client.images.get(tag)  # fails loudly if the CI stage did not build it
        return tag
    tag = "scones-model-server:test"
    # the CLI, not the SDK: the Dockerfile's secret mounts need BuildKit
    build = subprocess.run(
        ["docker", "build", "-q", "-f", DOCKERFILE, "-t", tag, "."],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )
    if build.returncode != 0:
        # typically no registry to pull the base image from; the CI stage builds on a local base
        pytest.skip(
            f"cannot build {DOCKERFILE} here; `make test-docker` builds it:\n{build.stderr[-800:]}"
        )
    return tag


@pytest.fixture(scope="session")
def container_model_dir(tmp_path_factory) -> Path:
    """The tiny model, unpacked as SageMaker unpacks model.tar.gz; readable by the container."""
    model_dir = build_tiny_model_dir(tmp_path_factory.mktemp("docker") / "model")
    for path in [model_dir, *model_dir.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return model_dir


@pytest.fixture
def run_container(docker_client, model_server_image) -> Iterator[Callable]:
    """Start the image as SageMaker does (`docker run IMAGE serve`), port 8080 published on a free
    loopback port. Returns (container, url); every container is removed at teardown."""
    started = []

    def run(*command: str, model_dir: Path | None, env: dict[str, str] | None = None, wait=True):
        volumes = {str(model_dir): {"bind": "/opt/ml/model", "mode": "ro"}} if model_dir else {}
        container = docker_client.containers.run(
            model_server_image,
            list(command) or None,
            detach=True,
            ports={"8080/tcp": ("127.0.0.1", None)},
            volumes=volumes,
            environment={"CAPTURE_ENABLED": "false", **(env or {})},
        )
        started.append(container)
        container.reload()
        binding = (container.ports.get("8080/tcp") or [{}])[0]
        url = f"http://127.0.0.1:{binding.get('HostPort')}"
        if wait:
            wait_for_ping(url, container)
        return container, url

    yield run
    for container in started:
        with contextlib.suppress(docker.errors.NotFound):  # already gone
            container.remove(force=True)
