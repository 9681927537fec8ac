"""Fixtures for the handler tests: events from tests/events, a fake context, moto S3, a stubbed endpoint.

Handlers are imported inside fixtures, after the environment is set: their module-level boto3
clients are built at import time, as on Lambda.
"""

from __future__ import annotations

import importlib
import io
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"
REGION = "us-east-1"
BUCKET = "scones-unlimited-local"  # the bucket the events in tests/events name


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    """load_event("classify_input") -> the parsed tests/events/classify_input.json."""

    def load(name: str) -> dict[str, Any]:
        return json.loads((EVENTS_DIR / f"{name}.json").read_text())

    return load


@dataclass
class FakeLambdaContext:
    function_name: str = "test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2026/11/27/[$LATEST]test"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 3000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def make_context() -> type[FakeLambdaContext]:
    """FakeLambdaContext itself, for tests that need one per function name."""
    return FakeLambdaContext


@pytest.fixture(autouse=True)
def lambda_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What Lambda gives every function: a region and credentials; no endpoint overrides."""
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
        "AWS_PROFILE",
        "ENDPOINT_NAME",
        "THRESHOLD",
        "LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")


def _import(name: str) -> ModuleType:
    return importlib.import_module(f"{name}.handler")


@pytest.fixture
def serialize_module() -> ModuleType:
    return _import("serialize_image_data")


@pytest.fixture
def classify_module() -> ModuleType:
    return _import("classify_image")


@pytest.fixture
def filter_module() -> ModuleType:
    return _import("filter_inferences")


@pytest.fixture
def s3() -> Iterator[Any]:
    """An in-process moto S3 with the events' bucket created."""
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def runtime_stub() -> Iterator[tuple[Any, Stubber]]:
    """A real sagemaker-runtime client whose answers are queued on a botocore Stubber."""
    client = boto3.client("sagemaker-runtime", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def endpoint_answer(probabilities: list[float]) -> dict[str, Any]:
    """An InvokeEndpoint response as the stubbed client returns it."""
    raw = json.dumps(probabilities).encode()
    return {
        "Body": StreamingBody(io.BytesIO(raw), len(raw)),
        "ContentType": "application/json",
        "InvokedProductionVariant": "AllTraffic",
    }


@pytest.fixture
def answer() -> Callable[[list[float]], dict[str, Any]]:
    return endpoint_answer
