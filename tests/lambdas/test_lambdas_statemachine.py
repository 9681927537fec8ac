"""statemachine/workflow.asl.json: its structure, and real executions in moto's interpreter.

The executions run the three real handlers in process (moto's own Lambda would need Docker);
errors are marshalled by awslambdaric, as on AWS and in the local workers.
"""

from __future__ import annotations

import base64
import io
import json
import re
import sys
import time
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from awslambdaric.bootstrap import build_fault_result
from awslambdaric.lambda_runtime_marshaller import to_json
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws
from moto.awslambda.models import LambdaFunction

from harness.config import STATE_MACHINE_FILE
from tests.support.lambda_zip import zip_code

PLACEHOLDERS = {
    "SerializeImageDataFunctionArn": "serialize_image_data",
    "ClassifyImageFunctionArn": "classify_image",
    "FilterInferencesFunctionArn": "filter_inferences",
}
LAMBDA_RETRY_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
REGION = "us-east-1"
BUCKET = "scones-unlimited-local"
PNG = b"\x89PNG\r\n\x1a\n" + b"scones" * 10


@pytest.fixture(scope="module")
def asl_text() -> str:
    return STATE_MACHINE_FILE.read_text()


@pytest.fixture(scope="module")
def asl(asl_text: str) -> dict[str, Any]:
    return json.loads(asl_text)


# -- structure ------------------------------------------------------------------------------
def test_placeholders_are_exactly_the_three_function_arns(asl_text):
    assert set(re.findall(r"\$\{([^}]*)\}", asl_text)) == set(PLACEHOLDERS)


def test_every_task_invokes_lambda_with_the_whole_input(asl):
    for name, state in asl["States"].items():
        assert state["Type"] == "Task", name
        assert state["Resource"] == "arn:aws:states:::lambda:invoke", name
        assert state["Parameters"]["Payload.$"] == "$", name
        assert re.fullmatch(r"\$\{\w+FunctionArn\}", state["Parameters"]["FunctionName"]), name
        assert state["OutputPath"] == "$.Payload.body", name


def test_every_task_retries_lambda_service_errors_like_the_console(asl):
    for name, state in asl["States"].items():
        # the console's retrier first; only the classify step has one more (the next test)
        retry, *others = state["Retry"]
        assert len(others) == (1 if name == "Classify image" else 0), name
        assert set(retry["ErrorEquals"]) == LAMBDA_RETRY_ERRORS, name
        assert retry["IntervalSeconds"] in (1, 2) and 3 <= retry["MaxAttempts"] <= 6, name
        assert retry["BackoffRate"] == 2, name


def test_only_the_classify_step_retries_transient_endpoint_errors(asl):
    # statemachine/README.md "Retrying the endpoint" says why these numbers
    _, transient = asl["States"]["Classify image"]["Retry"]
    assert transient == {
        "ErrorEquals": ["EndpointTransientError"],
        "IntervalSeconds": 1,
        "MaxAttempts": 5,
        "BackoffRate": 2,
        "MaxDelaySeconds": 16,
        "JitterStrategy": "FULL",
    }
    waits = [min(1 * 2**n, transient["MaxDelaySeconds"]) for n in range(transient["MaxAttempts"])]
    # long enough for a restarting server (back within 2 s), short enough that a dead endpoint
    # is a named error well within a minute (tests/docker_mode expects < 60 s)
    assert 2 < sum(waits) <= 31
    for state in asl["States"].values():  # ModelError and friends are never retried
        for retry in state["Retry"]:
            assert "EndpointInvocationError" not in retry["ErrorEquals"]


def test_nothing_catches_the_threshold_error(asl):
    # A Catch (even States.ALL) would turn the low-confidence failure into a success.
    for name, state in asl["States"].items():
        assert "Catch" not in state, name
        for retry in state.get("Retry", []):
            assert not {"THRESHOLD_CONFIDENCE_NOT_MET", "States.ALL"} & set(retry["ErrorEquals"])


def test_transitions_form_one_chain(asl):
    states = asl["States"]
    assert asl["StartAt"] in states
    for name, state in states.items():
        assert ("Next" in state) != state.get("End", False), name
        assert state.get("Next", asl["StartAt"]) in states, name
    order, current = [], asl["StartAt"]
    while current:
        order.append(current)
        current = states[current].get("Next")
    assert [states[s]["Parameters"]["FunctionName"] for s in order] == [
        "${SerializeImageDataFunctionArn}",
        "${ClassifyImageFunctionArn}",
        "${FilterInferencesFunctionArn}",
    ]


# -- executions in moto's Step Functions interpreter ------------------------------------------
class FakeEndpoint:
    """sagemaker-runtime stand-in: answers per image, records what it received."""

    def __init__(self, answers: dict[bytes, list[float]]):
        self.answers, self.requests = answers, []

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        return {"Body": io.BytesIO(json.dumps(self.answers[request["Body"]]).encode())}


@pytest.fixture
def workflow(monkeypatch, s3, serialize_module, classify_module, filter_module, make_context):
    """A state machine created from the file in moto, its Lambda tasks run by the real handlers."""
    handlers = {
        "serialize_image_data": serialize_module.handler,
        "classify_image": classify_module.handler,
        "filter_inferences": filter_module.handler,
    }
    invoked_with: list[tuple[str, Any]] = []

    def invoke_in_process(function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        invoked_with.append((function.function_name, event))
        context = make_context(function_name=function.function_name)
        try:
            return to_json(handlers[function.function_name](event, context)), False, ""
        except Exception as exc:  # noqa: BLE001 - the runtime reports any error, as AWS does
            fault = build_fault_result((type(exc), exc, exc.__traceback__), None)
            return to_json(fault), True, ""

    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", invoke_in_process)
    # The interpreter's Task clients must reach this in-process mock, even if an embedded stack
    # started by another test has rebound them to its own server (harness/emulator/moto_hooks).
    for module in [m for n, m in list(sys.modules.items()) if n.startswith("moto.stepfunctions")]:
        if hasattr(module, "boto_client_for"):
            monkeypatch.setattr(module, "boto_client_for", in_mock_client)
    monkeypatch.setattr(serialize_module, "s3", s3)
    endpoint = FakeEndpoint({PNG: [0.97, 0.03], PNG + b"low": [0.19, 0.81]})
    monkeypatch.setattr(classify_module, "runtime", endpoint)

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="scones-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam = boto3.client("lambda", region_name=REGION)
        arns = {
            placeholder: lam.create_function(
                FunctionName=name,
                Runtime="python3.11",
                Role=role,
                Handler="handler.handler",
                Code={
                    "ZipFile": zip_code(
                        {"handler.py": "def handler(event, context):\n    return event\n"}
                    )
                },
            )["FunctionArn"]
            for placeholder, name in PLACEHOLDERS.items()
        }
        definition = substitute(STATE_MACHINE_FILE.read_text(), arns)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="scones-workflow", definition=definition, roleArn=role
        )["stateMachineArn"]
        s3.put_object(Bucket=BUCKET, Key="test/bicycle.png", Body=PNG)
        s3.put_object(Bucket=BUCKET, Key="test/unsure.png", Body=PNG + b"low")

        def run(s3_key: str) -> dict[str, Any]:
            execution = sfn.start_execution(
                stateMachineArn=machine,
                name=f"run-{len(invoked_with)}-{time.monotonic_ns()}",
                input=json.dumps({"s3_bucket": BUCKET, "s3_key": s3_key}),
            )["executionArn"]
            deadline = time.monotonic() + 20
            while (desc := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
                assert time.monotonic() < deadline, "execution still RUNNING after 20 s"
                time.sleep(0.02)
            return desc

        yield run, invoked_with, endpoint


def in_mock_client(region: str, service: str, state_credentials: Any = None) -> Any:
    return boto3.client(
        service, region_name=region, aws_access_key_id="ak", aws_secret_access_key="sk"
    )


def substitute(text: str, values: dict[str, str]) -> str:
    """DefinitionSubstitutions: every ${Name} replaced, an unknown name is a KeyError.
    (string.Template cannot be used: ASL's own "$" and "$.Payload" are invalid placeholders.)"""
    return re.sub(r"\$\{(\w+)\}", lambda match: values[match.group(1)], text)


def test_confident_image_succeeds_with_objects_end_to_end(workflow):
    run, invoked_with, endpoint = workflow
    # GIVEN a confidently classified image WHEN the workflow runs
    desc = run("test/bicycle.png")
    # THEN it succeeds and its output is the flat event, as objects
    assert desc["status"] == "SUCCEEDED", desc
    output = json.loads(desc["output"])
    assert output == {
        "image_data": base64.b64encode(PNG).decode(),
        "s3_bucket": BUCKET,
        "s3_key": "test/bicycle.png",
        "inferences": [0.97, 0.03],
    }
    # AND each step received the previous step's body as an object (never an envelope/string)
    names = [name for name, _ in invoked_with]
    assert names == ["serialize_image_data", "classify_image", "filter_inferences"]
    for _, event in invoked_with:
        assert isinstance(event, dict) and "body" not in event and "statusCode" not in event
    assert invoked_with[1][1]["inferences"] == [] and invoked_with[2][1] == output
    assert endpoint.requests[0]["ContentType"] == "image/png"


def test_low_confidence_fails_with_the_contract_error(workflow):
    run, _, _ = workflow
    desc = run("test/unsure.png")
    assert desc["status"] == "FAILED", desc
    assert desc["error"] == "THRESHOLD_CONFIDENCE_NOT_MET"
    cause = json.loads(desc["cause"])
    assert cause["errorType"] == "THRESHOLD_CONFIDENCE_NOT_MET"
    assert cause["errorMessage"] == "top confidence 0.81 (motorcycle) is below the threshold 0.93"


def test_missing_key_fails_with_a_clear_s3_error(workflow):
    run, invoked_with, _ = workflow
    desc = run("test/no_such_image.png")
    assert desc["status"] == "FAILED", desc
    assert desc["error"] == "ImageNotFound"
    assert json.loads(desc["cause"])["errorMessage"].startswith(
        f"s3://{BUCKET}/test/no_such_image.png could not be read: NoSuchKey"
    )
    assert [name for name, _ in invoked_with] == ["serialize_image_data"]  # no retry, no next


# -- retrying a transient endpoint failure -----------------------------------------------------
class FlakyEndpoint(FakeEndpoint):
    """Fails the first `failures` calls with `error`, then answers."""

    def __init__(self, answers: dict[bytes, list[float]], error: Exception, failures: int):
        super().__init__(answers)
        self.error, self.failures = error, failures

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        if self.failures:
            self.failures -= 1
            self.requests.append(request)
            raise self.error
        return super().invoke_endpoint(**request)


def endpoint_error(code: str, status: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} from the endpoint"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "InvokeEndpoint",
    )


@pytest.fixture
def recorded_waits(monkeypatch) -> list[float]:
    """The interpreter's Retry waits, recorded instead of slept (moto sleeps in the retrier)."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    waits: list[float] = []
    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=waits.append))
    return waits


def classify_calls(invoked_with) -> int:
    return sum(1 for name, _ in invoked_with if name == "classify_image")


@pytest.mark.parametrize(
    "error",
    [
        endpoint_error("ModelNotReadyException", 429),
        endpoint_error("ServiceUnavailable", 503),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9/endpoints/x/invocations"),
    ],
    ids=["model-not-ready", "service-unavailable", "connection-refused"],
)
def test_a_transient_endpoint_failure_is_retried_and_the_execution_succeeds(
    workflow, classify_module, monkeypatch, recorded_waits, error
):
    run, invoked_with, _ = workflow
    # GIVEN an endpoint that fails twice the way a restarting or loading endpoint does
    flaky = FlakyEndpoint({PNG: [0.97, 0.03]}, error, failures=2)
    monkeypatch.setattr(classify_module, "runtime", flaky)
    # WHEN the workflow runs THEN the classify step is retried and the execution succeeds
    desc = run("test/bicycle.png")
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"])["inferences"] == [0.97, 0.03]
    assert classify_calls(invoked_with) == 3 and len(flaky.requests) == 3
    # AND it waited as the definition says: full jitter under 1 s, then under 2 s
    assert len(recorded_waits) == 2
    assert 0 <= recorded_waits[0] <= 1 and 0 <= recorded_waits[1] <= 2


def test_a_model_error_on_bad_input_fails_at_once(
    workflow, classify_module, monkeypatch, recorded_waits
):
    run, invoked_with, _ = workflow
    refusal = endpoint_error("ModelError", 424)
    flaky = FlakyEndpoint({PNG: [0.97, 0.03]}, refusal, failures=1)
    monkeypatch.setattr(classify_module, "runtime", flaky)
    desc = run("test/bicycle.png")
    assert desc["status"] == "FAILED", desc
    assert desc["error"] == "EndpointInvocationError"
    assert "ModelError" in json.loads(desc["cause"])["errorMessage"]
    assert classify_calls(invoked_with) == 1 and recorded_waits == []


def test_an_endpoint_that_stays_down_fails_with_the_transient_name_after_the_retries(
    workflow, classify_module, monkeypatch, recorded_waits
):
    run, invoked_with, _ = workflow
    down = FlakyEndpoint({}, endpoint_error("ServiceUnavailable", 503), failures=100)
    monkeypatch.setattr(classify_module, "runtime", down)
    desc = run("test/bicycle.png")
    assert desc["status"] == "FAILED", desc
    assert desc["error"] == "EndpointTransientError"
    assert "ServiceUnavailable" in json.loads(desc["cause"])["errorMessage"]
    # 1 attempt + MaxAttempts 5 retries, each wait within its capped, jittered bound
    assert classify_calls(invoked_with) == 6
    assert len(recorded_waits) == 5
    for wait, ceiling in zip(recorded_waits, (1, 2, 4, 8, 16), strict=True):
        assert 0 <= wait <= ceiling
