"""Helpers shared by the model server tests (a module of its own: tests import helpers, not a conftest)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import boto3
from botocore.config import Config

from harness.config import Settings
from harness.model_server import ModelServerHandle

EXTERNAL_URL = os.environ.get("MODEL_SERVER_TEST_URL", "").rstrip("/")
ENDPOINT = Settings().endpoint_name
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


@dataclass
class ServerUnderTest:
    url: str
    handle: ModelServerHandle | None  # None when external


def runtime_client(url: str | None, retries: int = 1):
    """boto3's sagemaker-runtime, unmodified; retries off so that an error shows at once."""
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name=REGION,
        config=Config(
            retries={"max_attempts": retries, "mode": "standard"}, max_pool_connections=32
        ),
        **CREDENTIALS,
    )


def local_settings(**changes) -> Settings:
    base = Settings(
        model_server_host="127.0.0.1", model_server_port=0, capture_enabled=False, region=REGION
    )
    return base.replace(**changes)
