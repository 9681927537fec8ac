"""Faults on a real embedded stack (free ports, a state folder of its own): what an execution
does when the endpoint or a function fails on purpose, as it would on AWS, and what `status`
shows meanwhile. Timed faults here last a few seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from botocore.exceptions import ClientError
from rich.console import Console

from harness import clients
from harness.dataset import listed_images
from harness.e2e.cases import invoke
from harness.e2e.runner import run_execution
from harness.executions.api import state_machine_arn
from harness.executions.history import state_rows
from harness.faults.store import ENDPOINT, LAMBDA, FaultStore, new_fault
from harness.loop.invoke import invoke as invoke_function
from harness.stack import stack
from harness.stack.readiness import wait_until
from tests.support.stacks import embedded_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local(tmp_path_factory, settings, data_dir):
    with embedded_stack(settings, tmp_path_factory.mktemp("faults-stack"), data_dir) as (local, _):
        yield local


@pytest.fixture
def store(local):
    store = FaultStore(local.state_dir)
    store.clear()
    yield store
    store.clear()


@pytest.fixture(scope="module")
def confident_key(local) -> str:
    """A test image the served model passes: without faults its execution succeeds."""
    runtime = clients.client(local, "sagemaker-runtime")
    for image in listed_images(local.data_dir):
        if max(invoke(runtime, local, image.path.read_bytes())) >= local.threshold:
            return image.key
    pytest.fail("the served model passes no test image")


def execute(local, key: str):
    sfn = clients.client(local, "stepfunctions")
    machine = state_machine_arn(sfn, local.state_machine_name)
    result = run_execution(sfn, machine, local.bucket, key, timeout=90)
    events = sfn.get_execution_history(executionArn=result.arn, maxResults=1000)["events"]
    return result, events


def failures(events) -> list[tuple[str, str]]:
    return [
        (e["taskFailedEventDetails"]["error"], e["taskFailedEventDetails"].get("cause", ""))
        for e in events
        if e["type"] == "TaskFailed"
    ]


def row(events, name: str):
    return next(r for r in state_rows(events) if r.name == name)


def harness(local, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **local.as_environ(), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def status_text(local) -> str:
    console = Console(record=True, width=250)
    stack.print_status(local, console)
    return console.export_text()


def test_model_not_ready_for_2_s_is_retried_and_the_execution_succeeds(local, store, confident_key):
    fault = store.add(
        new_fault(ENDPOINT, local.endpoint_name, "ModelNotReadyException", duration=2.0)
    )
    result, events = execute(local, confident_key)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    failed = failures(events)
    assert failed and all(error == "EndpointTransientError" for error, _ in failed)
    assert "ModelNotReadyException" in failed[0][1] and fault.id in failed[0][1]
    classify = row(events, "Classify image")
    assert classify.retries == len(failed) >= 1 and classify.status == "succeeded"


def test_a_lambda_service_error_meets_the_states_lambda_service_exception_retry(
    local, store, confident_key
):
    # through the CLI as a user types it: 2 s of ServiceException on the first step
    added = harness(
        local, "fault", "lambda", "serialize_image_data", "--error", "Lambda.ServiceException",
        "--for", "2s",
    )  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    result, events = execute(local, confident_key)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    failed = failures(events)
    assert failed and {error for error, _ in failed} == {"Lambda.ServiceException"}
    assert "Status Code: 500" in failed[0][1]
    assert row(events, "Serialize image").retries == len(failed)


@pytest.mark.parametrize(
    ("name", "status"), [("ServiceException", 500), ("TooManyRequestsException", 429)]
)
def test_a_service_error_is_what_invoke_answers_over_http(local, store, name, status):
    store.add(
        new_fault(
            LAMBDA,
            "filter_inferences",
            "error",
            params={"error": name, "service": True, "status": status},
        )
    )
    lam = clients.client(local, "lambda", retries={"total_max_attempts": 1})
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName="filter_inferences", Payload=b"{}")
    assert caught.value.response["Error"]["Code"] == name
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_a_function_error_fails_the_execution_with_that_name(local, store, confident_key):
    store.add(
        new_fault(
            LAMBDA, "filter_inferences", "error", params={"error": "KeyError", "service": False}
        )
    )
    result, events = execute(local, confident_key)
    assert (result.status, result.error) == ("FAILED", "KeyError")  # no Retry names it
    assert json.loads(result.cause)["errorType"] == "KeyError"
    assert row(events, "Filter low-confidence inferences").retries == 0
    # `harness invoke` (Invoke over HTTP) sees what Lambda answers for a function error
    answer = invoke_function(local, "filter_inferences", {})
    assert (answer.function_error, answer.error_type) == ("Unhandled", "KeyError")
    assert "[ERROR] KeyError: injected by `harness fault`" in answer.log_tail


def test_a_timeout_ends_as_lambdas_own_after_the_functions_timeout(local, store, confident_key):
    store.add(new_fault(LAMBDA, "filter_inferences", "timeout"))  # Timeout: 5 s
    result, _ = execute(local, confident_key)
    assert (result.status, result.error) == ("FAILED", "Sandbox.Timedout")
    assert "Task timed out after 5.00 seconds" in json.loads(result.cause)["errorMessage"]
    assert result.seconds >= 5.0


def test_a_crash_kills_the_worker_mid_invocation_and_the_next_call_gets_a_new_one(
    local, store, confident_key
):
    fault = store.add(new_fault(LAMBDA, "serialize_image_data", "crash"))
    result, _ = execute(local, confident_key)
    assert (result.status, result.error) == ("FAILED", "Runtime.ExitError")
    assert "Runtime exited with error" in json.loads(result.cause)["errorMessage"]
    store.clear(fault.id)
    result, _ = execute(local, confident_key)
    assert result.status == "SUCCEEDED", (result.error, result.cause)


def test_status_shows_active_faults_with_time_left_until_they_expire(local, store):
    short = store.add(new_fault(ENDPOINT, local.endpoint_name, "slow", 0.3, {"delay": 2}, 2.0))
    store.add(new_fault(LAMBDA, "classify_image", "crash"))
    text = status_text(local)
    assert "Injected faults (2 active)" in text
    assert f"{short.id}" in text and "slow: +2 s a request" in text and "0.3" in text
    assert "crash (worker killed: Runtime.ExitError)" in text and "until cleared" in text
    assert any(f"{s} s" in text for s in (1, 2))  # its time left
    wait_until(lambda: short.id not in status_text(local), "the timed fault to expire", timeout=10)
    assert "Injected faults (1 active)" in status_text(local)
    listed = harness(local, "fault", "list")
    assert short.id not in listed.stdout and "classify_image" in listed.stdout
    assert short.id not in local.state_dir.joinpath("faults.json").read_text()  # list dropped it
    assert harness(local, "fault", "clear").returncode == 0
    assert "Injected faults" not in status_text(local)


def test_an_unknown_function_is_named_with_the_deployed_ones(local, store):
    refused = harness(local, "fault", "lambda", f"nope-{uuid.uuid4().hex[:4]}", "--crash")
    assert refused.returncode == 1
    assert "use one of deployed: classify_image, filter_inferences, serialize_image_data" in (
        refused.stderr
    )
