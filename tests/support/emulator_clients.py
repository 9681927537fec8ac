"""boto3 clients for an EmbeddedAWS a test started in-process (tests/emulator, tests/conformance)."""

from __future__ import annotations

from collections.abc import Callable

import boto3
from botocore.config import Config


def client(url: str, service: str, config: Config | None = None):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=config,
    )


def factory(url: str) -> Callable:
    """make(service) -> a client of that service on the emulator at `url`."""
    return lambda service: client(url, service)
