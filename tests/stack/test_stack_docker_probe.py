"""Auto mode skips `docker info` only where no Docker engine can answer."""

from __future__ import annotations

import json

import pytest

from harness.stack import compose


@pytest.fixture
def no_docker(tmp_path, monkeypatch):
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "config"))
    monkeypatch.setattr(compose, "_socket_paths", lambda: [tmp_path / "docker.sock"])
    return tmp_path


def test_no_socket_no_host_no_context_means_no_engine(no_docker):
    assert compose.engine_may_run() is False


def test_a_socket_means_docker_is_asked(no_docker):
    (no_docker / "docker.sock").touch()
    assert compose.engine_may_run() is True


def test_docker_host_or_a_context_means_docker_is_asked(no_docker, monkeypatch):
    (no_docker / "config").mkdir()
    (no_docker / "config" / "config.json").write_text(json.dumps({"currentContext": "colima"}))
    assert compose.engine_may_run() is True
    (no_docker / "config" / "config.json").write_text(json.dumps({"currentContext": "default"}))
    assert compose.engine_may_run() is False
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    assert compose.engine_may_run() is True
