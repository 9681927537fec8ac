"""State machines really execute in the embedded AWS, and Lambda errors drive Retry and Catch."""

from __future__ import annotations

import json
import time
import uuid

import pytest

ADD_ONE = """
def handler(event, context):
    return {"value": event["value"] + 1}
"""

THRESHOLD = """
class ThresholdConfidenceNotMet(Exception):
    pass

def handler(event, context):
    if event["value"] < 10:
        raise ThresholdConfidenceNotMet(f"value {event['value']} below 10")
    return event
"""


def flaky(counter_file) -> str:
    """Raises TransientGlitch on its first two calls (counted in a file: any worker may serve)."""
    return f"""
from pathlib import Path

class TransientGlitch(Exception):
    pass

def handler(event, context):
    counter = Path({str(counter_file)!r})
    calls = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(calls))
    if calls <= 2:
        raise TransientGlitch(f"call {{calls}} failed")
    return {{"calls": calls}}
"""


def task(arn: str, next_state: str | None, **extra) -> dict:
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": arn, "Payload.$": "$"},
        "OutputPath": "$.Payload",
        **extra,
    }
    state.update({"Next": next_state} if next_state else {"End": True})
    return state


@pytest.fixture(scope="module")
def sfn(client):
    return client("stepfunctions")


@pytest.fixture(scope="module")
def arn_of(client):
    lam = client("lambda")
    return lambda name: lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]


@pytest.fixture(scope="module")
def run(sfn, role_arn):
    """run(definition, input) -> (describe_execution, history events), polled with a deadline."""

    def execute(definition: dict, payload: dict, *, deadline_s: float = 30) -> tuple[dict, list]:
        machine = sfn.create_state_machine(
            name=f"sm-{uuid.uuid4().hex[:8]}", roleArn=role_arn, definition=json.dumps(definition)
        )["stateMachineArn"]
        execution = sfn.start_execution(
            stateMachineArn=machine, name=f"ex-{uuid.uuid4().hex[:8]}", input=json.dumps(payload)
        )["executionArn"]
        return wait_done(sfn, execution, deadline_s)

    return execute


def wait_done(sfn, execution_arn: str, deadline_s: float = 30) -> tuple[dict, list]:
    deadline = time.monotonic() + deadline_s
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{execution_arn} still RUNNING after {deadline_s} s"
        time.sleep(0.02)
    return described, sfn.get_execution_history(executionArn=execution_arn)["events"]


def test_two_tasks_succeed(make_function, arn_of, run):
    add = arn_of(make_function(ADD_ONE))
    described, events = run(
        {"StartAt": "First", "States": {"First": task(add, "Second"), "Second": task(add, None)}},
        {"value": 1},
    )
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"value": 3}
    assert [e["type"] for e in events].count("TaskSucceeded") == 2


def test_failure_shows_error_type_as_error(make_function, arn_of, run):
    check = arn_of(make_function(THRESHOLD))
    described, events = run(
        {"StartAt": "Filter", "States": {"Filter": task(check, None)}}, {"value": 3}
    )
    assert described["status"] == "FAILED"
    assert described["error"] == "ThresholdConfidenceNotMet"
    failed = next(e for e in events if e["type"] == "TaskFailed")["taskFailedEventDetails"]
    assert failed["error"] == "ThresholdConfidenceNotMet"
    assert json.loads(failed["cause"])["errorMessage"] == "value 3 below 10"


def test_catch_matches_custom_error_name(make_function, arn_of, run):
    check = arn_of(make_function(THRESHOLD))
    definition = {
        "StartAt": "Filter",
        "States": {
            "Filter": task(
                check,
                None,
                Catch=[
                    {"ErrorEquals": ["SomethingElse"], "Next": "Wrong"},
                    {
                        "ErrorEquals": ["ThresholdConfidenceNotMet"],
                        "ResultPath": "$.error",
                        "Next": "Handled",
                    },
                ],
            ),
            "Wrong": {"Type": "Fail", "Error": "WrongCatch"},
            "Handled": {"Type": "Pass", "End": True},
        },
    }
    described, _ = run(definition, {"value": 3})
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert output["error"]["Error"] == "ThresholdConfidenceNotMet"


def test_retry_on_custom_error_then_success(make_function, arn_of, run, tmp_path):
    flaky_arn = arn_of(make_function(flaky(tmp_path / "calls.txt")))
    retry = [
        {
            "ErrorEquals": ["TransientGlitch"],
            "IntervalSeconds": 1,
            "MaxAttempts": 3,
            "BackoffRate": 1,
        }
    ]
    described, events = run(
        {"StartAt": "Flaky", "States": {"Flaky": task(flaky_arn, None, Retry=retry)}}, {}
    )
    assert described["status"] == "SUCCEEDED", events
    assert json.loads(described["output"]) == {"calls": 3}
    assert [e["type"] for e in events].count("TaskFailed") == 2


def test_lambda_timeout_fails_the_task(make_function, arn_of, run):
    slow = arn_of(
        make_function("import time\ndef handler(event, context):\n    time.sleep(30)\n", timeout=1)
    )
    described, _ = run({"StartAt": "Slow", "States": {"Slow": task(slow, None)}}, {})
    assert described["status"] == "FAILED"
    assert described["error"] == "Sandbox.Timedout"


def test_concurrent_executions(make_function, arn_of, sfn, role_arn):
    add = arn_of(make_function(ADD_ONE))
    definition = {
        "StartAt": "A",
        "States": {"A": task(add, "B"), "B": task(add, "C"), "C": task(add, None)},
    }
    machine = sfn.create_state_machine(
        name=f"sm-{uuid.uuid4().hex[:8]}", roleArn=role_arn, definition=json.dumps(definition)
    )["stateMachineArn"]
    executions = [
        sfn.start_execution(
            stateMachineArn=machine,
            name=f"par-{i}-{uuid.uuid4().hex[:6]}",
            input=json.dumps({"value": i}),
        )["executionArn"]
        for i in range(8)
    ]
    outputs = []
    for arn in executions:
        described, _ = wait_done(sfn, arn)
        assert described["status"] == "SUCCEEDED"
        outputs.append(json.loads(described["output"])["value"])
    assert outputs == [i + 3 for i in range(8)]


def test_missing_function_is_a_lambda_service_error(run):
    missing = "arn:aws:lambda:us-east-1:123456789012:function:does-not-exist"
    described, _events = run({"StartAt": "Gone", "States": {"Gone": task(missing, None)}}, {})
    assert described["status"] == "FAILED"
    assert described["error"] == "Lambda.ResourceNotFoundException"


def test_legacy_function_arn_resource(make_function, arn_of, run):
    add = arn_of(make_function(ADD_ONE))
    definition = {
        "StartAt": "Add",
        "States": {"Add": {"Type": "Task", "Resource": add, "End": True}},
    }
    described, _ = run(definition, {"value": 41})
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"value": 42}
