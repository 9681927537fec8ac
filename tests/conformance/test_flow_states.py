"""Wait, Pass, Succeed and Fail, from AWS's pages "Wait workflow state", "Pass workflow
state", "Succeed workflow state" and "Fail workflow state". Waits are a second at most."""

from __future__ import annotations

import datetime

from tests.conformance.conftest import single


def wait_then_pass(**wait) -> dict:
    return {
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", **wait, "Next": "P"}, "P": {"Type": "Pass", "End": True}},
    }


def test_wait_seconds_and_seconds_path_and_timestamps(run_many):
    past = "2020-01-01T00:00:00Z"
    soon = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    seconds, path, old, old_path, future = run_many(
        [
            (wait_then_pass(Seconds=1), {"keep": 1}),
            (wait_then_pass(SecondsPath="$.wait"), {"wait": 1}),
            (wait_then_pass(Timestamp=past), {}),
            (wait_then_pass(TimestampPath="$.until"), {"until": past}),
            (wait_then_pass(Timestamp=soon), {}),
        ]
    )
    waited = {
        name: r.gaps("WaitStateEntered", "WaitStateExited")[0]
        for name, r in (("seconds", seconds), ("path", path), ("old", old), ("old_path", old_path))
    }
    assert 0.9 <= waited["seconds"] <= 1.6 and 0.9 <= waited["path"] <= 1.6, waited
    assert waited["old"] < 0.5 and waited["old_path"] < 0.5, waited  # a past time: no wait
    assert (
        future.status == "SUCCEEDED"
        and future.gaps("WaitStateEntered", "WaitStateExited")[0] <= 2.1
    )
    assert seconds.output == {"keep": 1}  # a Wait passes its input on


def test_wait_seconds_path_that_is_not_a_number_fails(run):
    result = run(wait_then_pass(SecondsPath="$.wait"), {"wait": "soon"})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")


def test_pass_without_result_passes_its_input(run):
    assert run(single({"Type": "Pass"}), {"a": [1, {"b": None}]}).output == {"a": [1, {"b": None}]}


def test_pass_result_is_its_output(run):
    # "Pass workflow state": Result, placed by ResultPath
    state = {
        "Type": "Pass",
        "Result": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
        "ResultPath": "$.coords",
    }
    out = run(single(state), {"georefOf": "Home"}).output
    assert out == {
        "georefOf": "Home",
        "coords": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
    }


def test_succeed_outputs_its_input(run):
    assert run({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}, {"a": 1}).output == {"a": 1}


def test_succeed_with_input_and_output_path(run):
    definition = {
        "StartAt": "S",
        "States": {"S": {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}},
    }
    assert run(definition, {"a": {"b": 2}}).output == 2


def test_fail_error_and_cause(run):
    definition = {
        "StartAt": "F",
        "States": {"F": {"Type": "Fail", "Error": "ErrorA", "Cause": "Kaiju attack"}},
    }
    result = run(definition, {})
    assert (result.status, result.error, result.cause) == ("FAILED", "ErrorA", "Kaiju attack")


def test_fail_without_error_or_cause(run):
    result = run({"StartAt": "F", "States": {"F": {"Type": "Fail"}}}, {})
    assert result.status == "FAILED" and not result.error and not result.cause


def test_fail_error_path_and_cause_path(run):
    # "ErrorPath"/"CausePath": a reference path, or an intrinsic function returning a string
    definition = {
        "StartAt": "F",
        "States": {
            "F": {
                "Type": "Fail",
                "ErrorPath": "$.code",
                "CausePath": "States.Format('this is the error: {}, and this is the cause: {}', $.code, $.why)",
            }
        },
    }
    result = run(definition, {"code": "Oops", "why": "disk full"})
    assert (result.error, result.cause) == (
        "Oops",
        "this is the error: Oops, and this is the cause: disk full",
    )


def test_fail_is_caught_as_its_error(run):
    # a Fail inside a Parallel branch: its Error and Cause reach the Catch
    state = {
        "Type": "Parallel",
        "Branches": [
            {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Mine", "Cause": "c"}}}
        ],
        "Catch": [{"ErrorEquals": ["Mine"], "ResultPath": "$.err", "Next": "Done"}],
        "Next": "Done",
    }
    definition = {"StartAt": "P", "States": {"P": state, "Done": {"Type": "Pass", "End": True}}}
    assert run(definition, {"in": 1}).output == {"in": 1, "err": {"Error": "Mine", "Cause": "c"}}
