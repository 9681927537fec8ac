"""Helpers shared by the model server tests (a module of its own: `conftest` names clash across folders)."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import boto3
from botocore.config import Config
from PIL import Image

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


def png(rgb=(200, 30, 30), size=(32, 32), mode: str = "RGB", fmt: str = "PNG") -> bytes:
    """A uniform image of colour `rgb`, stored in `mode` (RGB, RGBA, L, P) and `fmt`."""
    image = Image.new("RGB", size, rgb)
    if mode == "RGBA":
        image = image.convert("RGBA")
    elif mode == "L":
        image = Image.new("L", size, rgb[0])
    elif mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE)
    buf = io.BytesIO()
    image.save(buf, fmt, **({"quality": 100} if fmt == "JPEG" else {}))
    return buf.getvalue()


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
