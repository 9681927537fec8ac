"""Fixtures for the deployer: moto's in-process mock, a private copy of the workflow's sources,
a fake Docker client. Helpers the tests import live in deploy_support.py."""

from __future__ import annotations

import os
import shutil

import pytest
from moto import mock_aws
from moto.sagemaker.responses import SageMakerResponse

from harness.config import LAMBDAS_DIR, STATE_MACHINE_FILE, Settings
from tests.deploy.deploy_support import (
    REGION,
    FakeDocker,
    update_endpoint,
    write_model,
)


@pytest.fixture
def aws(monkeypatch):
    """moto's mock with dummy credentials and no endpoint override in the environment."""
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setattr(SageMakerResponse, "update_endpoint", update_endpoint, raising=False)
    with mock_aws():
        yield


@pytest.fixture
def sources(tmp_path) -> Settings:
    """Settings pointing at a private copy of lambdas/, the ASL file, a tiny data set and model."""
    # A copy: tests edit handlers and the definition, never the repository's own.
    lambdas = tmp_path / "lambdas"
    shutil.copytree(LAMBDAS_DIR, lambdas, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    definition = tmp_path / "workflow.asl.json"
    shutil.copy(STATE_MACHINE_FILE, definition)
    data = tmp_path / "data"
    (data / "test").mkdir(parents=True)
    rows = []
    for i, name in enumerate(
        ["bicycle_s_000001.png", "motorcycle_s_000002.png", "bike_s_000003.png"]
    ):
        (data / "test" / name).write_bytes(b"\x89PNG fake " + name.encode())
        rows.append(f"{i}\t{i % 2}\t{name}")
    (data / "test.lst").write_text("\n".join(rows) + "\n")
    model = tmp_path / "model.tar.gz"
    write_model(model, b"onnx-bytes-v1")
    return Settings(
        target="aws",
        region=REGION,
        bucket="scones-test-bucket",
        lambdas_dir=lambdas,
        state_machine_file=definition,
        data_dir=data,
        model_artifact=model,
        state_dir=tmp_path / "state",
    )


@pytest.fixture
def docker_client():
    return FakeDocker()
