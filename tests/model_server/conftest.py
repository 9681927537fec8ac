"""Fixtures for the model server tests: the tiny model, a server, boto3 clients, moto's S3.

`model_server` is an in-process server on a free port, unless MODEL_SERVER_TEST_URL names an
external one (e.g. the container the Docker CI stage starts with the tiny model mounted);
tests that need in-process control use `local_server` and are skipped then.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from PIL import Image

from harness.model_server import start_model_server
from harness.stack.readiness import free_port
from tests.model_server.ms_helpers import (
    CREDENTIALS,
    EXTERNAL_URL,
    REGION,
    ServerUnderTest,
    local_settings,
    runtime_client,
)
from tests.support.tiny_model import build_tiny_artifact, build_tiny_model_dir


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory) -> Path:
    return build_tiny_artifact(tmp_path_factory.mktemp("tiny-artifact"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model_dir(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def model_server(tiny_model_dir: Path) -> Iterator[ServerUnderTest]:
    if EXTERNAL_URL:
        yield ServerUnderTest(EXTERNAL_URL, None)
        return
    handle = start_model_server(local_settings(), tiny_model_dir)
    yield ServerUnderTest(handle.url, handle)
    handle.stop()


@pytest.fixture
def local_server(model_server: ServerUnderTest) -> ServerUnderTest:
    if model_server.handle is None:
        pytest.skip("needs an in-process server (MODEL_SERVER_TEST_URL is set)")
    return model_server


@pytest.fixture(scope="session")
def runtime(model_server: ServerUnderTest):
    return runtime_client(model_server.url)


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """moto's S3 API on 127.0.0.1 and a free port, for Data Capture."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(moto_s3: str):
    return boto3.client("s3", endpoint_url=moto_s3, region_name=REGION, **CREDENTIALS)


@pytest.fixture
def capture_bucket(s3) -> str:
    name = f"capture-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def huge_png() -> bytes:
    """A real 10000x10000 PNG (100 megapixels, 12 KB compressed): a decompression bomb."""
    buf = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buf, "PNG")
    return buf.getvalue()
