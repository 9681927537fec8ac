"""The local target: the emulated AWS on 127.0.0.1:4566 and the model server as the endpoint.

What differs from AWS is data only: clients point at the emulator (SageMaker's control plane
at settings.sagemaker_api_url, its own service in docker mode), functions reach the
model server through AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME and carry their code paths (the
emulator hot-reloads from there), SageMaker holds records for describe calls.
"""

from __future__ import annotations

import os
import threading
from functools import cached_property
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from harness.clients import local_client
from harness.config import Settings
from harness.deploy.base import Identity, Run
from harness.deploy.workflow import code_paths
from harness.emulator.contract import CODE_PATHS_TAG  # the emulator reads the same name
from harness.errors import HarnessError

LOCAL_IMAGE = "scones-model-server:local"  # a record only: the stack runs the model server itself
_CONFIG = Config(
    connect_timeout=2,
    read_timeout=30,
    retries={"max_attempts": 2},
    max_pool_connections=16,
    request_checksum_calculation="when_required",
)  # no CRC32 per test image

# Creating a client loads its service model and endpoint rules (~0.1 s each): keep them per
# process, so a redeploy from the same process (tests, benchmarks, `up` twice) skips that.
_clients: dict[tuple, Any] = {}
_clients_lock = threading.Lock()


def _client(region: str, endpoint_url: str | None, service: str) -> Any:
    key = (region, endpoint_url, service)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = local_client(
                service, region_name=region, endpoint_url=endpoint_url, config=_CONFIG
            )
        return _clients[key]


class LocalTarget:
    name = "local"
    real_endpoint = False

    def __init__(self, settings: Settings, endpoint_url: str | None = "default"):
        self.settings = settings
        # endpoint_url=None: boto3's default endpoints (tests run this target under moto's mock)
        self.endpoint_url = settings.aws_endpoint_url if endpoint_url == "default" else endpoint_url
        # SageMaker's control plane may answer elsewhere (docker mode: the sagemaker-api service)
        self._endpoints = (
            {"sagemaker": settings.sagemaker_api_url} if endpoint_url == "default" else {}
        )

    def client(self, service: str) -> Any:
        return _client(
            self.settings.region, self._endpoints.get(service, self.endpoint_url), service
        )

    @cached_property
    def _identity(self) -> Identity:
        try:
            ident = self.client("sts").get_caller_identity()
        except (EndpointConnectionError, ConnectionError) as exc:
            raise HarnessError(
                f"The local stack does not answer at {self.endpoint_url}.",
                "start it with `make local-up` (or check HARNESS_AWS_PORT)",
            ) from exc
        except (BotoCoreError, ClientError) as exc:
            raise HarnessError(f"The local stack at {self.endpoint_url} failed: {exc}") from exc
        return Identity(account=ident["Account"], region=self.settings.region, arn=ident["Arn"])

    def identity(self) -> Identity:
        return self._identity

    def function_environment(self) -> dict[str, str]:
        s = self.settings
        url = s.lambda_model_server_url or s.model_server_url
        return {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": url}

    def function_tags(self, folder: str) -> dict[str, str]:
        return {
            CODE_PATHS_TAG: os.pathsep.join(
                str(p) for p in code_paths(folder, self.settings.lambdas_dir)
            )
        }

    def preflight(self, dry_run: bool) -> None:
        pass

    def model_image(self, run: Run) -> str:
        return LOCAL_IMAGE

    def destroy_extra(self, run: Run) -> None:
        pass

    def wait_for_endpoint(self, run: Run, endpoint_name: str) -> None:
        pass  # a record is InService at once; the stack checks the model server's /ping
