"""Map (inline and distributed) and Parallel states, from AWS's pages "Map state in Inline
mode", "Map state in Distributed mode" (its ToleratedFailure fields), "ItemsPath",
"ItemSelector" and "Parallel workflow state"."""

from __future__ import annotations

import pytest

from tests.conformance.conftest import single

# where the embedded engine differs (docs/stepfunctions-fidelity.md)
NOT_AN_ARRAY = (
    "moto answers States.QueryEvaluationError (the JSONata error) in JSONPath states too; the "
    "check is inline in StateMap._eval_execution"
)
INT_PERCENTAGE = (
    "moto's ASL grammar takes ToleratedFailurePercentage only as a decimal (40.0): an integer "
    "such as 40 is refused at CreateStateMachine"
)

# "ItemSelector (Map)": the page's example input
SHIPPING = {
    "ship-date": "2016-03-14T01:59:00Z",
    "detail": {
        "delivery-partner": "UQS",
        "shipped": [
            {"prod": "R31", "dest-code": 9511, "quantity": 1344},
            {"prod": "S39", "dest-code": 9511, "quantity": 40},
        ],
    },
}


def processor(states: dict, start: str | None = None, mode: str = "INLINE") -> dict:
    config = {"Mode": mode} if mode == "INLINE" else {"Mode": mode, "ExecutionType": "STANDARD"}
    return {"ProcessorConfig": config, "StartAt": start or next(iter(states)), "States": states}


def pass_end(**fields) -> dict:
    return {"Type": "Pass", "End": True, **fields}


def test_map_items_path_and_item_selector(run):
    # the page's example: each item and a field of the input, through the context object
    state = {
        "Type": "Map",
        "ItemsPath": "$.detail.shipped",
        "ItemSelector": {
            "parcel.$": "$$.Map.Item.Value",
            "courier.$": "$.detail.delivery-partner",
            "index.$": "$$.Map.Item.Index",
        },
        "ItemProcessor": processor({"Ship": pass_end()}),
    }
    out = run(single(state), SHIPPING).output
    shipped = SHIPPING["detail"]["shipped"]
    assert out == [
        {"parcel": shipped[0], "courier": "UQS", "index": 0},
        {"parcel": shipped[1], "courier": "UQS", "index": 1},
    ]


def test_map_output_keeps_the_order_of_the_items(run):
    state = {
        "Type": "Map",
        "MaxConcurrency": 2,
        "ItemProcessor": processor(
            {"Double": pass_end(Parameters={"n.$": "States.MathAdd($, $)"})}
        ),
    }
    assert run(single(state), list(range(7))).output == [{"n": 2 * i} for i in range(7)]


def test_map_max_concurrency_one_runs_items_one_at_a_time(run):
    state = {"Type": "Map", "MaxConcurrency": 1, "ItemProcessor": processor({"P": pass_end()})}
    result = run(single(state), ["a", "b", "c"])
    assert result.output == ["a", "b", "c"]
    kinds = [e["type"] for e in result.events if e["type"].startswith("MapIteration")]
    assert kinds == ["MapIterationStarted", "MapIterationSucceeded"] * 3  # never two at once


def test_map_of_an_empty_array_is_an_empty_array(run):
    state = {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": processor({"P": pass_end()})}
    assert run(single(state), {"items": []}).output == []


def test_map_result_path_keeps_the_input(run):
    state = {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ResultPath": "$.results",
        "ItemProcessor": processor({"P": pass_end(Result="done")}),
    }
    assert run(single(state), {"items": [1, 2]}).output == {
        "items": [1, 2],
        "results": ["done", "done"],
    }


@pytest.mark.xfail(strict=True, reason=NOT_AN_ARRAY)
def test_map_items_path_to_a_non_array_fails(run):
    state = {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": processor({"P": pass_end()})}
    result = run(single(state), {"items": {"not": "an array"}})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")


def test_a_failing_iteration_fails_the_map_with_its_error(run):
    failing = {
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Bad"}],
            "Default": "Good",
        },
        "Bad": {"Type": "Fail", "Error": "ItemRejected", "Cause": "two"},
        "Good": pass_end(),
    }
    state = {"Type": "Map", "ItemProcessor": processor(failing)}
    result = run(single(state), [1, 2, 3])
    assert (result.status, result.error, result.cause) == ("FAILED", "ItemRejected", "two")


def test_map_catch_gets_the_iteration_error(run):
    state = {
        "Type": "Map",
        "ItemProcessor": processor(
            {"Bad": {"Type": "Fail", "Error": "ItemRejected", "Cause": "no"}}
        ),
        "Catch": [{"ErrorEquals": ["ItemRejected"], "ResultPath": "$.error", "Next": "Handled"}],
        "Next": "Handled",
    }
    definition = {
        "StartAt": "M",
        "States": {"M": {**state, "ItemsPath": "$.items"}, "Handled": pass_end()},
    }
    result = run(definition, {"items": [1]})
    assert result.output == {"items": [1], "error": {"Error": "ItemRejected", "Cause": "no"}}


def distributed(tolerated: dict) -> dict:
    failing = {
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$", "NumericGreaterThan": 2, "Next": "Bad"}],
            "Default": "Good",
        },
        "Bad": {"Type": "Fail", "Error": "TooBig", "Cause": "over two"},
        "Good": pass_end(),
    }
    return single(
        {"Type": "Map", "ItemProcessor": processor(failing, mode="DISTRIBUTED"), **tolerated}
    )


def test_distributed_map_within_tolerated_failure_count_succeeds(run):
    # "ToleratedFailureCount": the Map Run fails only when more items fail than this
    result = run(distributed({"ToleratedFailureCount": 1}), [1, 2, 3])
    assert result.status == "SUCCEEDED", (result.error, result.cause)


def test_distributed_map_without_tolerance_fails_on_one_failure(run):
    result = run(distributed({}), [1, 2, 3])
    assert (result.status, result.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")


def test_distributed_map_over_tolerated_failure_count_fails(run):
    # beyond it: States.ExceedToleratedFailureThreshold
    result = run(distributed({"ToleratedFailureCount": 1}), [1, 2, 3, 4])
    assert (result.status, result.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")


@pytest.mark.xfail(strict=True, reason=INT_PERCENTAGE)
def test_distributed_map_over_tolerated_failure_percentage_fails(run):
    result = run(distributed({"ToleratedFailurePercentage": 40}), [1, 2, 3, 4])  # 50 % fail
    assert (result.status, result.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")


@pytest.mark.xfail(strict=True, reason=INT_PERCENTAGE)
def test_distributed_map_within_tolerated_failure_percentage_succeeds(run):
    result = run(distributed({"ToleratedFailurePercentage": 50}), [1, 2, 3, 4])
    assert result.status == "SUCCEEDED", (result.error, result.cause)


# --- Parallel --------------------------------------------------------------------------------


def branch(states: dict) -> dict:
    return {"StartAt": next(iter(states)), "States": states}


def test_parallel_output_is_the_array_of_branch_outputs(run):
    # "Parallel workflow state": the output is an array with one element per branch, in order
    state = {
        "Type": "Parallel",
        "Branches": [
            branch({"A": pass_end(Parameters={"from": "A", "in.$": "$.v"})}),
            branch({"B": pass_end(Result="B")}),
            branch(
                {"C": {"Type": "Wait", "Seconds": 0, "Next": "C2"}, "C2": pass_end(InputPath="$.v")}
            ),
        ],
    }
    assert run(single(state), {"v": 7}).output == [{"from": "A", "in": 7}, "B", 7]


def test_parallel_result_path_and_selector(run):
    state = {
        "Type": "Parallel",
        "Branches": [branch({"A": pass_end(Result=1)}), branch({"B": pass_end(Result=2)})],
        "ResultSelector": {"sum.$": "States.MathAdd($[0], $[1])"},
        "ResultPath": "$.total",
    }
    assert run(single(state), {"keep": 1}).output == {"keep": 1, "total": {"sum": 3}}


def test_a_failing_branch_fails_the_parallel_state(run):
    state = {
        "Type": "Parallel",
        "Branches": [
            branch({"Fine": pass_end()}),
            branch({"Broken": {"Type": "Fail", "Error": "BranchBroke", "Cause": "on purpose"}}),
        ],
    }
    result = run(single(state), {})
    assert (result.status, result.error, result.cause) == ("FAILED", "BranchBroke", "on purpose")


def test_a_failing_branch_is_caught_with_error_and_cause(run):
    state = {
        "Type": "Parallel",
        "Branches": [branch({"Broken": {"Type": "Fail", "Error": "BranchBroke", "Cause": "why"}})],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recovered"}],
        "Next": "Recovered",
    }
    definition = {"StartAt": "P", "States": {"P": state, "Recovered": pass_end()}}
    # without ResultPath, the Catch's output is the error output {Error, Cause}
    assert run(definition, {"in": 1}).output == {"Error": "BranchBroke", "Cause": "why"}


@pytest.mark.parametrize(("percentage", "status"), [(50.0, "SUCCEEDED"), (40.0, "FAILED")])
def test_distributed_map_tolerated_failure_percentage_as_a_decimal(run, percentage, status):
    # half the items fail: within 50 %, beyond 40 %
    result = run(distributed({"ToleratedFailurePercentage": percentage}), [1, 2, 3, 4])
    assert result.status == status, (result.error, result.cause)
