"""Retry and Catch, from AWS's page "Handling errors in Step Functions workflows" (error
names, retriers and their timing, fallback states, error output) and "Fail workflow state".
Task scenarios call one tiny Lambda (conftest.TINY): `{"raise": "Name"}` raises that error,
`{"fail_until": n, "counter": id}` fails its first n-1 calls, `{"sleep": s}` sleeps."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError


def task(arn: str, payload: dict | None = None, **fields) -> dict:
    parameters = (
        {"FunctionName": arn, "Payload": payload}
        if payload
        else {"FunctionName": arn, "Payload.$": "$"}
    )
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": parameters,
        "OutputPath": "$.Payload",
        **fields,
    }


def machine(first: dict, **others) -> dict:
    states = {"T": {**first, "End": True} if "Next" not in first else first}
    for name, state in others.items():
        states[name] = state
    return {"StartAt": "T", "States": states}


def marker(name: str) -> dict:
    return {"Type": "Pass", "Result": name, "ResultPath": "$.went", "End": True}


def flaky(fail_until: int) -> dict:
    return {"fail_until": fail_until, "counter": uuid.uuid4().hex, "raise_error": "Transient"}


def test_the_first_matching_catcher_wins(run, tiny_lambda):
    catch = [
        {"ErrorEquals": ["Other"], "Next": "Wrong"},
        {"ErrorEquals": ["Boom", "Other2"], "Next": "Right"},
        {"ErrorEquals": ["States.ALL"], "Next": "Wrong"},
    ]
    definition = machine(
        task(tiny_lambda, Catch=catch, Next="Right"), Right=marker("right"), Wrong=marker("wrong")
    )
    assert run(definition, {"raise": "Boom"}).output["went"] == "right"


def test_states_task_failed_matches_a_function_error(run, tiny_lambda):
    catch = [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}]
    definition = machine(task(tiny_lambda, Catch=catch, Next="Caught"), Caught=marker("caught"))
    assert run(definition, {"raise": "AnyError"}).output["went"] == "caught"


def test_catch_output_is_error_and_cause(run, tiny_lambda):
    # without ResultPath the fallback state's input is the error output {Error, Cause}
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
    definition = machine(
        task(tiny_lambda, Catch=catch, Next="Caught"), Caught={"Type": "Pass", "End": True}
    )
    out = run(definition, {"raise": "Boom", "message": "it broke"}).output
    assert set(out) == {"Error", "Cause"} and out["Error"] == "Boom"
    cause = json.loads(out["Cause"])  # a Lambda's error: its error payload as JSON text
    assert cause["errorType"] == "Boom" and cause["errorMessage"] == "it broke"


def test_catch_result_path_keeps_the_input(run, tiny_lambda):
    catch = [{"ErrorEquals": ["Boom"], "ResultPath": "$.error", "Next": "Caught"}]
    definition = machine(
        task(tiny_lambda, Catch=catch, Next="Caught"), Caught={"Type": "Pass", "End": True}
    )
    out = run(definition, {"raise": "Boom"}).output
    assert out["raise"] == "Boom" and out["error"]["Error"] == "Boom" and "Cause" in out["error"]


def test_max_attempts_zero_never_retries(run, tiny_lambda):
    retry = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}]
    result = run(machine(task(tiny_lambda, Retry=retry)), {"raise": "Boom"})
    assert (result.status, result.error) == ("FAILED", "Boom")
    assert len(result.of_type("TaskScheduled")) == 1


def test_retry_then_catch(run, tiny_lambda):
    # the retrier runs out, then the catcher handles the error
    retry = [{"ErrorEquals": ["Boom"], "MaxAttempts": 1, "IntervalSeconds": 1}]
    catch = [{"ErrorEquals": ["Boom"], "Next": "Caught"}]
    definition = machine(
        task(tiny_lambda, Retry=retry, Catch=catch, Next="Caught"), Caught=marker("caught")
    )
    result = run(definition, {"raise": "Boom"})
    assert result.output["Error"] == "Boom" and result.output["went"] == "caught"
    assert len(result.of_type("TaskFailed")) == 2


def test_a_retrier_that_does_not_match_is_skipped(run, tiny_lambda):
    retry = [
        {"ErrorEquals": ["Other"], "MaxAttempts": 5},
        {"ErrorEquals": ["Transient"], "MaxAttempts": 2, "IntervalSeconds": 1, "BackoffRate": 1},
    ]
    result = run(machine(task(tiny_lambda, flaky(2), Retry=retry)))
    assert result.output["calls"] == 2


def test_retry_count_is_in_the_context_object(run, tiny_lambda):
    payload = {**flaky(2), "retry.$": "$$.State.RetryCount"}
    retry = [{"ErrorEquals": ["Transient"], "IntervalSeconds": 1}]
    assert run(machine(task(tiny_lambda, payload, Retry=retry))).output["event"]["retry"] == 1


@pytest.mark.xfail(
    strict=True,
    reason="moto accepts States.ALL before other catchers (and refuses definitions with an empty "
    "error code, not InvalidDefinition)",
)
def test_states_all_must_be_last(sfn, role_arn, tiny_lambda):
    # "States.ALL must appear alone in ErrorEquals and in the last catcher/retrier"
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "C"}, {"ErrorEquals": ["Boom"], "Next": "C"}]
    definition = machine(task(tiny_lambda, Catch=catch, Next="C"), C=marker("c"))
    with pytest.raises(ClientError) as raised:
        sfn.create_state_machine(
            name=f"sm-{uuid.uuid4().hex[:8]}", roleArn=role_arn, definition=json.dumps(definition)
        )
    assert raised.value.response["Error"]["Code"] == "InvalidDefinition"


def test_timeout_is_states_timeout_and_not_task_failed(run, tiny_lambda):
    # States.TaskFailed matches any task failure except States.Timeout; States.ALL matches it
    catch = [
        {"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong"},
        {"ErrorEquals": ["States.ALL"], "Next": "Right"},
    ]
    state = task(tiny_lambda, {"sleep": 2}, TimeoutSeconds=1, Catch=catch, Next="Right")
    out = run(machine(state, Right={"Type": "Pass", "End": True}, Wrong=marker("wrong"))).output
    assert out["Error"] == "States.Timeout"


def test_states_all_does_not_catch_states_runtime(run):
    # "States.ALL ... can't catch the States.DataLimitExceeded and States.Runtime errors"
    state = {
        "Type": "Parallel",
        "Branches": [
            {
                "StartAt": "Bad",
                "States": {"Bad": {"Type": "Pass", "InputPath": "$.missing", "End": True}},
            }
        ],
        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "IntervalSeconds": 1}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
        "Next": "Caught",
    }
    definition = {"StartAt": "P", "States": {"P": state, "Caught": marker("caught")}}
    result = run(definition, {"present": 1})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert len(result.of_type("ParallelStateStarted")) == 1  # and no retry either


# --- timing: delay = IntervalSeconds x BackoffRate^(retry-1), capped by MaxDelaySeconds ----


def retried(arn: str, fail_until: int, **retrier) -> dict:
    return machine(task(arn, flaky(fail_until), Retry=[{"ErrorEquals": ["Transient"], **retrier}]))


def test_retry_delays_follow_interval_backoff_and_max_delay(run_many, tiny_lambda):
    # measured from the history: each TaskFailed to the next TaskScheduled
    plain, backoff, capped, jitter = run_many(
        [
            (retried(tiny_lambda, 2, IntervalSeconds=1, BackoffRate=1, MaxAttempts=3), None),
            (retried(tiny_lambda, 3, IntervalSeconds=1, BackoffRate=2, MaxAttempts=3), None),
            (
                retried(
                    tiny_lambda,
                    4,
                    IntervalSeconds=1,
                    BackoffRate=3,
                    MaxDelaySeconds=1,
                    MaxAttempts=3,
                ),
                None,
            ),
            (
                retried(
                    tiny_lambda,
                    3,
                    IntervalSeconds=1,
                    BackoffRate=2,
                    JitterStrategy="FULL",
                    MaxAttempts=3,
                ),
                None,
            ),
        ]
    )
    gaps = {
        name: r.gaps("TaskFailed", "TaskScheduled")
        for name, r in (
            ("plain", plain),
            ("backoff", backoff),
            ("capped", capped),
            ("jitter", jitter),
        )
    }
    for result in (plain, backoff, capped, jitter):
        assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert len(gaps["plain"]) == 1 and 0.9 <= gaps["plain"][0] <= 1.6, gaps  # 1 s, one retry
    assert [round(g) for g in gaps["backoff"]] == [1, 2], gaps  # 1 x 2^0, 1 x 2^1
    assert all(0.9 <= g <= 1.6 for g in gaps["capped"]) and len(gaps["capped"]) == 3, gaps
    # FULL jitter: a random delay in [0, 1] then [0, 2]
    assert len(gaps["jitter"]) == 2 and gaps["jitter"][0] <= 1.6 and gaps["jitter"][1] <= 2.6, gaps
