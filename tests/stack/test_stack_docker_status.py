"""Docker mode's share of issue 15: Compose's restart policy supervises the model server, and
`status` reads Docker's restart counts. A fake `docker` on PATH plays the engine (as in
tests/docker/test_compose_errors.py); the real engine is CI's docker-mode stage."""

from __future__ import annotations

import stat

import pytest
import yaml

from harness.config import REPO_ROOT
from harness.stack import compose, health
from harness.stack.processes import StackState
from harness.stack.readiness import free_port

# `docker inspect --format '<service> <count>' NAME...`: one line a container that exists
FAKE_DOCKER = """#!/bin/sh
if [ "$1" = inspect ]; then
  printf 'localstack 0\\nmodel-server 3\\n'
  echo "Error: No such object: scones-sagemaker-api-1" >&2
  exit 1
fi
exit 0
"""


@pytest.fixture
def fake_docker(tmp_path, monkeypatch):
    exe = tmp_path / "bin" / "docker"
    exe.parent.mkdir()
    exe.write_text(FAKE_DOCKER)
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{exe.parent}:/usr/bin:/bin")


def test_compose_restarts_the_model_server_like_sagemaker_replaces_an_instance():
    services = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]
    # restarted when it dies, but `docker stop` / `make local-down` still stop it
    assert services["model-server"]["restart"] == "unless-stopped"


def test_restart_counts_come_from_docker_inspect(fake_docker):
    # the missing container costs its line only, not the others
    assert compose.restart_counts() == {"localstack": 0, "model-server": 3}


def test_status_shows_docker_restart_counts(fake_docker, settings, tmp_path):
    local = settings.replace(
        aws_port=free_port(), model_server_port=free_port(), state_dir=tmp_path
    )
    state = StackState("docker", local.aws_endpoint_url, local.model_server_url)
    parts = {p.component: p for p in health.parts(local, state)}
    assert parts["endpoint"].restarts == 3 and parts["AWS APIs"].restarts == 0
    assert parts["SageMaker API"].restarts is None
    # nothing answers on these free ports: every part is down, each with the one fix
    assert all(p.state == "down" for p in parts.values())
    assert all("make local-up" in line for line in health.problems(list(parts.values())))
