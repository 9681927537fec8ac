"""Endpoint faults on a real model server: boto3's sagemaker-runtime raises the exception class it
raises on AWS for each, the classify Lambda sorts them into transient and permanent as it would
there, the container path answers as a container, and a timed fault ends by itself."""

from __future__ import annotations

import http.client
import importlib
import json
import random
import time
from urllib.parse import urlsplit

import pytest

from harness import clients
from harness.clients import runtime_at
from harness.config import Settings
from harness.faults.store import ENDPOINT, FaultStore, new_fault
from harness.model_server import start_model_server
from harness.stack.readiness import wait_until
from tests.model_server.ms_helpers import ENDPOINT as ENDPOINT_NAME
from tests.model_server.ms_helpers import local_settings
from tests.support.images import png
from tests.support.tiny_model import build_tiny_model_dir

IMAGE = png()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("fault-state")
    model_dir = build_tiny_model_dir(tmp_path_factory.mktemp("tiny") / "model")
    handle = start_model_server(local_settings(state_dir=state_dir), model_dir)
    yield handle, FaultStore(state_dir)
    handle.stop()


@pytest.fixture
def store(server):
    _, store = server
    store.clear()
    yield store
    store.clear()


@pytest.fixture
def runtime(server):
    return runtime_at(server[0].url)  # one attempt: what the server answered, unretried


def add(store, kind, **kwargs):
    return store.add(new_fault(ENDPOINT, ENDPOINT_NAME, kind, **kwargs))


def invoke(runtime):
    return runtime.invoke_endpoint(EndpointName=ENDPOINT_NAME, ContentType="image/png", Body=IMAGE)


def test_model_not_ready_is_botocores_model_not_ready_exception_429(store, runtime):
    fault = add(store, "ModelNotReadyException")
    with pytest.raises(runtime.exceptions.ModelNotReadyException) as caught:
        invoke(runtime)
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert fault.id in response["Error"]["Message"]


def test_service_unavailable_is_503_and_botocore_retries_it(store, server):
    add(store, "ServiceUnavailable")
    retrying = clients.client(
        Settings(),
        "sagemaker-runtime",
        endpoint_url=server[0].url,
        retries={"mode": "standard", "total_max_attempts": 3},
    )
    with pytest.raises(retrying.exceptions.ServiceUnavailable) as caught:
        invoke(retrying)
    meta = caught.value.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 503 and meta["RetryAttempts"] == 2  # retryable, as on AWS


def test_model_error_is_424_with_the_containers_status_and_log_stream(store, runtime):
    add(store, "ModelError", params={"status": 502})
    with pytest.raises(runtime.exceptions.ModelError) as caught:
        invoke(runtime)
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == 502
    assert "Injected model failure" in response["OriginalMessage"]
    assert response["LogStreamArn"].startswith("arn:aws:logs:")
    assert response["Error"]["Message"].startswith("Received server error (502) from primary")


def test_slow_adds_its_delay_and_then_answers(store, runtime):
    assert json.loads(invoke(runtime)["Body"].read())  # warm: the model answers at once
    add(store, "slow", params={"delay": 0.4})
    started = time.monotonic()
    answer = json.loads(invoke(runtime)["Body"].read())
    assert time.monotonic() - started >= 0.4 and len(answer) == 2


def test_the_classify_lambda_retries_what_aws_would_and_fails_the_rest(store, server, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    handler = importlib.import_module("classify_image.handler")
    errors = importlib.import_module("shared.errors")
    runtime = runtime_at(server[0].url)
    for kind, expected in (
        ("ModelNotReadyException", errors.EndpointTransientError),
        ("ServiceUnavailable", errors.EndpointTransientError),
        ("ModelError", errors.EndpointInvocationError),
    ):
        store.clear()
        add(store, kind)
        with pytest.raises(expected):
            handler.invoke_endpoint(IMAGE, "image/png", ENDPOINT_NAME, runtime)


def post_container(url: str) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("POST", "/invocations", body=IMAGE, headers={"Content-Type": "image/png"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_the_container_path_answers_as_a_container(store, server):
    url = server[0].url
    add(store, "ModelError", params={"status": 507})
    status, body = post_container(url)
    assert status == 507 and b"Injected model failure" in body
    store.clear()
    add(store, "ModelNotReadyException")
    assert post_container(url)[0] == 503
    store.clear()
    assert post_container(url)[0] == 200


def test_a_rate_fails_that_share_of_requests(store, server, runtime):
    server[0].app.faults.file.roll = random.Random(3).random  # the server's own dice, seeded
    try:
        add(store, "ServiceUnavailable", rate=0.3)
        failed = 0
        for _ in range(100):
            try:
                invoke(runtime)
            except runtime.exceptions.ServiceUnavailable:
                failed += 1
        assert 15 <= failed <= 45
    finally:
        server[0].app.faults.file.roll = random.random


def test_a_timed_fault_ends_by_itself(store, runtime):
    add(store, "ModelNotReadyException", duration=1.0)
    with pytest.raises(runtime.exceptions.ModelNotReadyException):
        invoke(runtime)

    def answers() -> bool:
        try:
            return bool(invoke(runtime)["Body"].read())
        except runtime.exceptions.ModelNotReadyException:
            return False

    took = wait_until(answers, "the endpoint once its fault expired", timeout=10)
    assert 0.2 < took < 3
    assert FaultStore(store.path.parent).active() == []  # expired: no longer listed
