"""boto3 clients for the configured target: the local stack or AWS. One place for endpoints."""

from __future__ import annotations

import boto3
from botocore.config import Config

from harness.config import Settings

# Locally any credentials work; set them so a user without ~/.aws gets no NoCredentialsError.
LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def client(settings: Settings, service: str, endpoint_url: str | None = None, **config):
    """A client for the target; an explicit `endpoint_url` beats the target's own endpoint."""
    kwargs = {"region_name": settings.region, "config": Config(**config) if config else None}
    if settings.target != "aws":
        endpoint = settings.aws_endpoint_url
        if service == "sagemaker-runtime":
            endpoint = settings.model_server_url
        elif service == "sagemaker":
            endpoint = settings.sagemaker_api_url
        kwargs.update(endpoint_url=endpoint, **LOCAL_CREDENTIALS)
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    return boto3.session.Session().client(service, **kwargs)


def runtime_at(url: str, **config):
    """boto3's sagemaker-runtime, unmodified, pointed at a model server at `url` (a container
    or a bench's own server) with no retries, so a failure shows as it happened."""
    return client(Settings(), "sagemaker-runtime", endpoint_url=url, retries={"total_max_attempts": 1}, **config)
