"""Docker mode: Docker Compose runs LocalStack and the model-server container."""

from __future__ import annotations

import os
import shutil
import subprocess

from harness.config import REPO_ROOT, Settings
from harness.errors import HarnessError

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
# How a Lambda container, on the compose network, reaches the endpoint.
MODEL_SERVER_URL_IN_NETWORK = "http://model-server:8080"


def engine_answers(timeout: float = 2.0) -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (subprocess.TimeoutExpired, OSError):
        return False
    return result.returncode == 0


def _compose(settings: Settings, model_dir, *args: str) -> None:
    env = {
        **os.environ,
        **settings.as_environ(),
        "MODEL_DIR": str(model_dir),
        "LOCALSTACK_PORT": str(settings.aws_port),
        "MODEL_SERVER_PORT": str(settings.model_server_port),
    }
    command = ["docker", "compose", "-f", str(COMPOSE_FILE), *args]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, check=False)
    if result.returncode != 0:
        raise HarnessError(
            f"`{' '.join(command[1:])}` failed (exit {result.returncode}).",
            "see the compose output above; docs/docker.md lists the usual causes "
            "(LocalStack auth token, ports in use, ARM machines)",
        )


def start(settings: Settings, model_dir) -> None:
    if not engine_answers():
        raise HarnessError(
            "HARNESS_MODE=docker, but no Docker engine answers.",
            "start Docker (`docker info` must work), or use HARNESS_MODE=embedded",
        )
    _compose(settings, model_dir, "up", "--wait", "--build", "--detach")


def stop(settings: Settings, model_dir) -> None:
    _compose(settings, model_dir, "down", "--remove-orphans")
