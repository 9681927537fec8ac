"""The emulator's execution wait (sfn_ended.py) and the runner's use of it: one held request
answers when the execution ends, instead of DescribeExecution polls."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
import uuid

import pytest

from harness.e2e import runner
from harness.emulator.contract import WAIT_EXECUTION_PATH


def machine(sfn, role_arn: str, seconds: int) -> str:
    definition = {
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": seconds, "End": True}},
    }
    return sfn.create_state_machine(
        name=f"wait-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=role_arn
    )["stateMachineArn"]


def ask(url: str, **query) -> tuple[int, dict]:
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    connection.request("GET", f"{WAIT_EXECUTION_PATH}?{urllib.parse.urlencode(query)}")
    response = connection.getresponse()
    return response.status, json.loads(response.read())


@pytest.fixture(scope="module")
def sfn(client):
    return client("stepfunctions")


def test_wait_answers_when_the_execution_ends(aws, sfn, role_arn):
    arn = sfn.start_execution(stateMachineArn=machine(sfn, role_arn, 1), input="{}")["executionArn"]
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    status, body = ask(aws.url, arn=arn, timeout=15)
    assert status == 200
    assert (body["status"], body["ended"]) == ("SUCCEEDED", True)
    assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"


def ended_with(sfn, role_arn: str, state: dict) -> str:
    definition = {"StartAt": "S", "States": {"S": {**state, "End": True}}}
    if state["Type"] == "Fail":
        definition["States"]["S"].pop("End")
    made = sfn.create_state_machine(
        name=f"end-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=role_arn
    )["stateMachineArn"]
    return sfn.start_execution(stateMachineArn=made, input="{}")["executionArn"]


@pytest.mark.parametrize(
    "state",
    [
        {"Type": "Pass", "Result": "yes"},  # a JSON string: DescribeExecution gives '"yes"'
        {"Type": "Pass", "Result": {"label": 1, "inferences": [0.9, 0.1]}},
        {"Type": "Fail", "Error": "THRESHOLD_CONFIDENCE_NOT_MET", "Cause": "0.61 < 0.93"},
    ],
)
def test_wait_answers_with_the_outcome_describe_execution_gives(aws, sfn, role_arn, state):
    arn = ended_with(sfn, role_arn, state)
    status, body = ask(aws.url, arn=arn, timeout=15)
    described = sfn.describe_execution(executionArn=arn)
    assert status == 200 and body["ended"] is True
    for name in ("status", "output", "error", "cause"):
        assert body[name] == described.get(name), name


def test_wait_gives_up_at_its_timeout_with_the_current_status(aws, sfn, role_arn):
    arn = sfn.start_execution(stateMachineArn=machine(sfn, role_arn, 60), input="{}")[
        "executionArn"
    ]
    try:
        status, body = ask(aws.url, arn=arn, timeout=0.3)
        assert (status, body) == (200, {"status": "RUNNING", "ended": False})
    finally:
        sfn.stop_execution(executionArn=arn)


def test_wait_names_bad_requests(aws):
    assert ask(aws.url, arn="arn:aws:states:us-east-1:123456789012:execution:none:x")[0] == 404
    assert ask(aws.url, timeout=1)[0] == 400
    assert ask(aws.url, arn="x", timeout="soon")[0] == 400


def test_runner_waits_without_describe(aws, sfn, role_arn):
    calls = []
    sfn.meta.events.register(
        "before-call.sfn.DescribeExecution", lambda **_: calls.append(time.monotonic())
    )
    arn = sfn.start_execution(stateMachineArn=machine(sfn, role_arn, 1), input="{}")["executionArn"]
    result = runner.wait_for(sfn, arn, "w", "", time.monotonic(), timeout=30)
    assert result.status == "SUCCEEDED"
    assert calls == []  # polling at 2-10 ms would have made ~100 calls in that second


def test_runner_reads_a_failure_from_the_wait(aws, sfn, role_arn):
    arn = ended_with(sfn, role_arn, {"Type": "Fail", "Error": "Bad", "Cause": "why"})
    result = runner.wait_for(sfn, arn, "f", "", time.monotonic(), timeout=30)
    assert (result.status, result.error, result.cause, result.output) == (
        "FAILED",
        "Bad",
        "why",
        None,
    )


def test_runner_polls_where_no_wait_is_offered(sfn, role_arn, monkeypatch):
    monkeypatch.setitem(runner._WAITS, sfn.meta.endpoint_url, False)  # as on LocalStack or AWS
    calls = []
    sfn.meta.events.register("before-call.sfn.DescribeExecution", lambda **_: calls.append(1))
    arn = sfn.start_execution(stateMachineArn=machine(sfn, role_arn, 1), input="{}")["executionArn"]
    assert runner.wait_for(sfn, arn, "p", "", time.monotonic(), timeout=30).status == "SUCCEEDED"
    assert len(calls) > 5


def test_finished_engine_threads_are_let_go(aws, sfn, role_arn):
    """moto appends each interpreter thread to TMP_THREADS and never empties it."""
    from moto.stepfunctions.parser.utils import TMP_THREADS

    arn_of = machine(sfn, role_arn, 0)
    for i in range(20):
        arn = sfn.start_execution(stateMachineArn=arn_of, name=f"t{i}", input="{}")["executionArn"]
        assert runner.wait_for(sfn, arn, "t", "", time.monotonic(), timeout=30).status == (
            "SUCCEEDED"
        )
    # each execution starts ~3 threads here; without the pruning the list holds 60 or more
    assert len(TMP_THREADS) < 10
    assert sum(thread.is_alive() for thread in TMP_THREADS) <= len(TMP_THREADS)


def test_moto_changes_under_the_hook_are_named(monkeypatch):
    from moto.stepfunctions.parser import utils

    from harness.emulator import sfn_ended

    monkeypatch.setattr(utils, "TMP_THREADS", ())
    assert sfn_ended.problems() == [
        "moto.stepfunctions.parser.utils.TMP_THREADS is no longer a list"
    ]


def test_ended_executions_leave_no_state_machine_copy_tracked(aws, sfn, role_arn):
    """Each execution runs on a deep copy of its machine; moto's tracker kept every copy."""
    from moto.stepfunctions.models import StateMachine

    arn_of = machine(sfn, role_arn, 0)
    before = len(StateMachine.instances_tracked)
    for i in range(10):
        arn = sfn.start_execution(stateMachineArn=arn_of, name=f"c{i}", input="{}")["executionArn"]
        runner.wait_for(sfn, arn, "c", "", time.monotonic(), timeout=30)
    assert len(StateMachine.instances_tracked) == before
