"""The AWS target: real endpoints, an image in ECR, the standard credential chain.

Before anything else it shows who and where (STS) and refuses when that is unknown, or when
an AWS_ENDPOINT_URL* override would send the "AWS" calls to a local emulator instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, WaiterError

from harness.config import Settings
from harness.deploy import ecr
from harness.deploy.base import Identity, Run
from harness.errors import HarnessError

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "0.0.0.0", "::1", "host.docker.internal", "localstack"}
ENDPOINT_POLL_SECONDS = 15
ENDPOINT_MAX_MINUTES = 30


def local_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """AWS_ENDPOINT_URL* variables that point at this machine (or a local emulator)."""
    out = {}
    for name, value in environ.items():
        if name.startswith("AWS_ENDPOINT_URL") and value:
            host = urlparse(value if "://" in value else f"http://{value}").hostname or ""
            if host in _LOCAL_HOSTS or host.startswith("127.") or host.endswith(".localhost"):
                out[name] = value
    return out


class AwsTarget:
    name = "aws"
    real_endpoint = True

    def __init__(
        self,
        settings: Settings,
        session: boto3.session.Session | None = None,
        docker_factory: Callable[[], Any] = ecr.default_docker_client,
        environ: Mapping[str, str] | None = None,
        console: Any = None,
    ):
        overrides = local_overrides(os.environ if environ is None else environ)
        if overrides:
            raise HarnessError(
                "Refusing to target AWS while an endpoint override points at a local address: "
                + ", ".join(f"{k}={v}" for k, v in sorted(overrides.items())),
                "unset " + " ".join(sorted(overrides)) + " (they are for the local stack)",
            )
        self.settings = settings
        self._session = session or boto3.session.Session(region_name=settings.region)
        self._config = Config(
            retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=16
        )
        self._docker_factory = docker_factory
        self._docker = None
        self._console = console

    def client(self, service: str) -> Any:
        return self._session.client(service, region_name=self.settings.region, config=self._config)

    @cached_property
    def _identity(self) -> Identity:
        hint = (
            "configure credentials the standard way (aws configure / aws sso login, "
            "AWS_PROFILE, or AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY) and AWS_REGION"
        )
        try:
            ident = self.client("sts").get_caller_identity()
        except NoCredentialsError as exc:
            raise HarnessError(
                "No AWS credentials found: refusing to deploy to AWS.", hint
            ) from exc
        except (ClientError, BotoCoreError) as exc:
            raise HarnessError(f"Cannot tell which AWS account this is: {exc}", hint) from exc
        partition = ident["Arn"].split(":")[1] if ident.get("Arn", "").startswith("arn:") else "aws"
        return Identity(
            account=ident["Account"],
            region=self.settings.region,
            arn=ident["Arn"],
            partition=partition,
        )

    def identity(self) -> Identity:
        return self._identity

    def function_environment(self) -> dict[str, str]:
        return {}  # boto3's own endpoints: nothing local may leak into AWS

    def function_tags(self, folder: str) -> dict[str, str]:
        return {}

    def model_image(self, run: Run) -> str:
        return ecr.ensure_image(run, self.docker)

    def docker(self) -> Any:
        if self._docker is None:
            self._docker = self._docker_factory()
        return self._docker

    def preflight(self, dry_run: bool) -> None:
        if not dry_run:
            self.docker()  # no Docker engine: say so before anything is created

    def destroy_extra(self, run: Run) -> None:
        ecr.delete_repository(run)

    def wait_for_endpoint(self, run: Run, endpoint_name: str) -> None:
        """botocore's endpoint_in_service waiter, with a live elapsed-time display."""
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        waiter = run.client("sagemaker").get_waiter("endpoint_in_service")
        attempts = ENDPOINT_MAX_MINUTES * 60 // ENDPOINT_POLL_SECONDS
        console = self._console or Console(stderr=True)
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            progress.add_task(
                f"waiting for endpoint {endpoint_name} to be InService (usually 5-10 minutes)"
            )
            try:
                waiter.wait(
                    EndpointName=endpoint_name,
                    WaiterConfig={"Delay": ENDPOINT_POLL_SECONDS, "MaxAttempts": attempts},
                )
            except WaiterError as exc:
                reason = (exc.last_response or {}).get("FailureReason", str(exc))
                raise HarnessError(
                    f"Endpoint {endpoint_name} did not become InService: {reason}",
                    f"see the endpoint's logs in CloudWatch (/aws/sagemaker/Endpoints/{endpoint_name}); "
                    "`make destroy-aws` removes it",
                ) from exc
