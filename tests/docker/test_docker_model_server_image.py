"""The model-server image keeps SageMaker's container contract (docs/contracts.md section 2):
`docker run IMAGE serve`, the model at /opt/ml/model, port 8080, /ping, clean SIGTERM."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from harness.clients import runtime_at
from harness.config import Settings
from harness.stack.readiness import free_port
from tests.docker.docker_helpers import logs, wait_for_ping
from tests.support.images import png
from tests.support.tiny_model import expected_probabilities

pytestmark = pytest.mark.docker

RED = (200, 30, 30)
ENDPOINT = Settings().endpoint_name


def test_image_serves_as_sagemaker_runs_it(run_container, container_model_dir):
    # GIVEN the image run the way SageMaker runs it, the tiny model mounted read-only
    _, url = run_container("serve", model_dir=container_model_dir)
    # WHEN an unmodified boto3 client invokes the endpoint
    response = runtime_at(url, max_pool_connections=8).invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="image/png", Body=png(RED)
    )
    # THEN it gets the model's answer, computed independently with numpy
    assert response["ContentType"] == "application/json"
    probabilities = json.loads(response["Body"].read())
    assert probabilities == pytest.approx(expected_probabilities(RED), abs=1e-5)


def test_default_command_is_serve(run_container, container_model_dir):
    # `docker run IMAGE` without a command starts the same server
    _, url = run_container(model_dir=container_model_dir)
    assert url.startswith("http://127.0.0.1:")


def test_sigterm_stops_the_container_cleanly_and_quickly(run_container, container_model_dir):
    # GIVEN a serving container
    container, _ = run_container("serve", model_dir=container_model_dir)
    # WHEN docker stop sends SIGTERM (with SageMaker's 30 s before SIGKILL)
    started = time.monotonic()
    container.stop(timeout=30)
    elapsed = time.monotonic() - started
    # THEN the server itself exits, cleanly, long before SIGKILL would come
    container.reload()
    assert container.attrs["State"]["ExitCode"] == 0, logs(container)
    assert elapsed < 10, f"docker stop took {elapsed:.1f} s: SIGTERM is not handled"


def test_healthcheck_reports_healthy(run_container, container_model_dir):
    container, _ = run_container("serve", model_dir=container_model_dir)
    deadline = time.monotonic() + 45  # the image's HEALTHCHECK runs every 10 s
    status = None
    while time.monotonic() < deadline:
        container.reload()
        status = container.attrs["State"].get("Health", {}).get("Status")
        if status == "healthy":
            break
        time.sleep(0.5)
    assert status == "healthy", logs(container)


def test_missing_model_fails_with_a_clear_message(run_container):
    # GIVEN nothing mounted at /opt/ml/model (and no artifact in the image)
    container, _ = run_container("serve", model_dir=None, wait=False)
    # THEN the container exits with an error naming the model folder, instead of hanging
    result = container.wait(timeout=60)
    assert result["StatusCode"] != 0
    assert "/opt/ml/model" in logs(container)


def test_image_config_matches_the_contract(docker_client, model_server_image):
    config = docker_client.images.get(model_server_image).attrs["Config"]
    assert "8080/tcp" in config["ExposedPorts"]
    assert isinstance(config["Entrypoint"], list)  # exec form: the server gets SIGTERM
    assert config["Cmd"] == ["serve"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["MODEL_SERVER_HOST"] == "0.0.0.0"
    assert env["SAGEMAKER_MODEL_DIR"] == "/opt/ml/model"
    assert env["CAPTURE_ENABLED"] == "false"  # on AWS, SageMaker captures, not the container
    assert "/ping" in " ".join(config["Healthcheck"]["Test"])


def test_server_answers_after_bad_input(run_container, container_model_dir):
    # a wrong content type gets a client error and the container keeps serving
    container, url = run_container("serve", model_dir=container_model_dir)
    request = urllib.request.Request(
        f"{url}/invocations", data=b"not an image", headers={"Content-Type": "text/plain"}
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert 400 <= err.value.code < 500
    wait_for_ping(url, container, deadline_s=5)


@pytest.fixture
def moto_s3_on_loopback():
    """moto's S3 on 127.0.0.1 and a free port; the container reaches it over the host network."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_container_data_capture_is_flushed_on_sigterm(
    docker_client, model_server_image, container_model_dir, moto_s3_on_loopback
):
    # GIVEN the container with Data Capture at 100 % into an S3 API, flushing only on shutdown
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_s3_on_loopback,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    s3.create_bucket(Bucket="capture-docker")
    port = free_port()
    container = docker_client.containers.run(
        model_server_image,
        ["serve"],
        detach=True,
        network_mode="host",  # loopback only: it binds 127.0.0.1 and writes to moto on 127.0.0.1
        volumes={str(container_model_dir): {"bind": "/opt/ml/model", "mode": "ro"}},
        environment={
            "MODEL_SERVER_HOST": "127.0.0.1",
            "MODEL_SERVER_PORT": str(port),
            "CAPTURE_ENABLED": "true",
            "CAPTURE_SAMPLING_PERCENTAGE": "100",
            "CAPTURE_FLUSH_SECONDS": "600",
            "CAPTURE_S3_ENDPOINT_URL": moto_s3_on_loopback,
            "SCONES_BUCKET": "capture-docker",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
        },
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_ping(url, container)
        # WHEN a burst of InvokeEndpoint calls (the runtime path, where SageMaker captures)
        # is followed at once by docker stop (SIGTERM)
        runtime = runtime_at(url, max_pool_connections=8)
        body = png(RED)
        with ThreadPoolExecutor(4) as pool:
            responses = list(
                pool.map(
                    lambda _: runtime.invoke_endpoint(
                        EndpointName=ENDPOINT, ContentType="image/png", Body=body
                    ),
                    range(20),
                )
            )
        assert all(r["ResponseMetadata"]["HTTPStatusCode"] == 200 for r in responses)
        container.stop(timeout=30)
        container.reload()
        assert container.attrs["State"]["ExitCode"] == 0, logs(container)
    finally:
        container.remove(force=True)
    # THEN every request left exactly one record, in SageMaker's key layout
    listed = s3.list_objects_v2(Bucket="capture-docker", Prefix="data_capture/")
    keys = [item["Key"] for item in listed.get("Contents", [])]
    assert keys, "no Data Capture file was written on shutdown"
    assert all(k.startswith("data_capture/scones-image-classifier/AllTraffic/") for k in keys)
    records = [
        json.loads(line)
        for key in keys
        for line in s3.get_object(Bucket="capture-docker", Key=key)["Body"].read().splitlines()
    ]
    assert len(records) == 20
    assert {r["captureData"]["endpointInput"]["observedContentType"] for r in records} == {
        "image/png"
    }
