"""Docker mode as a user runs it: the compose stack (LocalStack, sagemaker-api, model-server)
that `HARNESS_MODE=docker make local-up` started, with the workflow deployed into it.

These need that running stack, so they skip with a reason without one; CI's docker-mode stage
(.ci/docker-e2e) runs them between `make e2e-test` and `make local-down`.
"""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from harness import clients
from harness.config import Settings
from harness.dataset import listed_images
from harness.e2e.runner import run_execution
from harness.executions.api import state_machine_arn
from harness.stack import compose
from harness.stack.processes import StackState
from harness.stack.readiness import http_ok, wait_until


@pytest.fixture(scope="module")
def settings() -> Settings:
    settings = Settings.from_env()
    state = StackState.load(settings)
    if state is None or state.mode != "docker":
        pytest.skip(
            "needs the docker-mode stack up (`HARNESS_MODE=docker make local-up`; "
            "`make test-docker-e2e` runs these)"
        )
    return settings


@pytest.fixture(scope="module")
def machine(settings) -> str:
    return state_machine_arn(clients.client(settings, "stepfunctions"), settings.state_machine_name)


def test_localstack_itself_has_no_sagemaker(settings):
    # why the stack serves SageMaker's control plane itself: LocalStack's free edition answers
    # every SageMaker call with InternalFailure (if this starts failing, LocalStack changed)
    localstack = clients.client(settings, "sagemaker", endpoint_url=settings.aws_endpoint_url)
    with pytest.raises(ClientError) as err:
        localstack.list_endpoints()
    assert err.value.response["Error"]["Code"] in ("InternalFailure", "501")


def test_the_deployed_endpoint_is_described_by_the_control_plane(settings):
    sm = clients.client(settings, "sagemaker")
    assert sm.meta.endpoint_url == f"http://127.0.0.1:{settings.sagemaker_api_port}"
    endpoint = sm.describe_endpoint(EndpointName=settings.endpoint_name)
    assert endpoint["EndpointStatus"] == "InService"
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == settings.capture_destination
    model = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    # the artifact it names is in LocalStack's S3, where the deployer put it
    bucket, key = model["PrimaryContainer"]["ModelDataUrl"].removeprefix("s3://").split("/", 1)
    head = clients.client(settings, "s3").head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] > 0
    # one account across the stack: the role LocalStack's IAM made, the ARN of the model
    assert model["ModelArn"].split(":")[4] == model["ExecutionRoleArn"].split(":")[4]


def test_functions_run_in_sibling_containers_and_log_to_localstack(settings, machine):
    key = listed_images(settings.data_dir)[0].key
    result = run_execution(clients.client(settings, "stepfunctions"), machine, settings.bucket, key)
    assert result.status in ("SUCCEEDED", "FAILED")
    assert result.inferences, "the classify step reached the model server"
    logs = clients.client(settings, "logs")
    name = f"/aws/lambda/{settings.function_name('classify_image')}"
    streams = logs.describe_log_streams(logGroupName=name)["logStreams"]
    assert streams, f"no log stream in {name}"
    lines = [
        e["message"]
        for s in streams
        for e in logs.get_log_events(logGroupName=name, logStreamName=s["logStreamName"])["events"]
    ]
    assert any("image classified" in line for line in lines), lines[-5:]


def test_data_capture_lands_in_localstacks_s3(settings, machine):
    s3 = clients.client(settings, "s3")
    prefix = settings.capture_destination.removeprefix(f"s3://{settings.bucket}/")
    key = listed_images(settings.data_dir)[1].key
    before = s3.list_objects_v2(Bucket=settings.bucket, Prefix=prefix).get("KeyCount", 0)
    run_execution(clients.client(settings, "stepfunctions"), machine, settings.bucket, key)
    # the model server flushes every CAPTURE_FLUSH_SECONDS
    wait_until(
        lambda: (
            s3.list_objects_v2(Bucket=settings.bucket, Prefix=prefix).get("KeyCount", 0) > before
        ),
        "a new Data Capture file",
        timeout=30,
    )
    newest = max(
        s3.list_objects_v2(Bucket=settings.bucket, Prefix=prefix)["Contents"],
        key=lambda o: o["LastModified"],
    )
    record = json.loads(
        s3.get_object(Bucket=settings.bucket, Key=newest["Key"])["Body"].read().splitlines()[-1]
    )
    assert record["captureData"]["endpointInput"]["encoding"] == "BASE64"
    assert len(json.loads(record["captureData"]["endpointOutput"]["data"])) == 2  # the two classes
    assert record["eventMetadata"]["eventId"]


def test_an_unreachable_model_server_is_a_named_error_not_a_hang(settings, machine):
    container = compose.container_name("model-server")
    assert compose._docker("stop", "-t", "10", container).returncode == 0
    try:
        key = listed_images(settings.data_dir)[0].key
        start = time.monotonic()
        result = run_execution(
            clients.client(settings, "stepfunctions"), machine, settings.bucket, key, timeout=90
        )
        assert result.status == "FAILED"
        # unreachable counts as transient (a restarting container): the state machine retries
        # it for up to 31 s (statemachine/README.md), then fails with that name
        assert result.error == "EndpointTransientError", (result.error, result.cause)
        assert "model-server" in result.cause_message  # names where it tried
        assert time.monotonic() - start < 60
    finally:
        compose._docker("start", container)
        wait_until(
            lambda: http_ok(f"{settings.model_server_url}/ping"),
            "the model server again",
            timeout=60,
            hint=f"docker logs {container}",
        )


def test_the_daily_loop_commands_work_in_docker_mode(settings, tmp_path):
    import os
    import subprocess
    import sys

    def harness(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "harness", *args],
            env={**os.environ, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    image = listed_images(settings.data_dir)[0]
    run = harness("run", str(image.path))
    assert run.returncode in (0, 1) and "uploaded" in run.stdout, run.stderr
    assert ("SUCCEEDED" in run.stdout) == (run.returncode == 0)
    invoked = harness("invoke", "serialize_image_data")
    assert invoked.returncode == 0 and "START RequestId" in invoked.stdout, (
        invoked.stdout + invoked.stderr
    )
    endpoint_log = harness(
        "logs", "endpoint", "--since", "1h"
    )  # the container's log, via docker logs
    assert (
        endpoint_log.returncode == 0
        and "model server ready" in endpoint_log.stdout + endpoint_log.stderr
    )
