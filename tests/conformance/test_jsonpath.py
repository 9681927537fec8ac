"""JSONPath input and output processing, from AWS's documentation pages "Processing input and
output in Step Functions", "Filtering state output using InputPath, Parameters and
ResultSelector", "Specifying state output using ResultPath", "Filtering state output using
OutputPath" and "Accessing execution data from the Context object". Each scenario is the
page's own example where it has one; the expected values are the documented answers."""

from __future__ import annotations

import re

import pytest

from tests.conformance.conftest import single

# "Filtering state output using InputPath...": the InputPath example
INPUTPATH_INPUT = {
    "comment": "Example for InputPath.",
    "dataset1": {"val1": 1, "val2": 2, "val3": 3},
    "dataset2": {"val1": "a", "val2": "b", "val3": "c"},
}
# the Parameters example
PARAMETERS_INPUT = {
    "comment": "Example for Parameters.",
    "product": {
        "details": {"color": "blue", "size": "small", "material": "cotton"},
        "availability": "in stock",
        "sku": "2317",
        "cost": "$23",
    },
}
# "Specifying state output using ResultPath": the input of every ResultPath example, and the
# HelloFunction's answer (a Pass state's Result stands in for the Lambda here)
RESULTPATH_INPUT = {
    "comment": "This is a test of the input and output of a Task state.",
    "details": "Default example",
    "who": "AWS Step Functions",
}
HELLO = "Hello, AWS Step Functions!"


def test_inputpath_selects_part_of_the_input(run):
    out = run(single({"Type": "Pass", "InputPath": "$.dataset2"}), INPUTPATH_INPUT).output
    assert out == {"val1": "a", "val2": "b", "val3": "c"}


def test_inputpath_null_gives_an_empty_object(run):
    # "If InputPath is null, the state's input is {}" (Processing input and output)
    out = run(single({"Type": "Pass", "InputPath": None}), INPUTPATH_INPUT).output
    assert out == {}


def test_parameters_select_and_add_static_values(run):
    parameters = {
        "comment": "Selecting what I care about.",
        "MyDetails": {
            "size.$": "$.product.details.size",
            "exists.$": "$.product.availability",
            "StaticValue": "foo",
        },
    }
    out = run(single({"Type": "Pass", "Parameters": parameters}), PARAMETERS_INPUT).output
    assert out == {
        "comment": "Selecting what I care about.",
        "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"},
    }


def test_parameters_path_to_a_missing_field_is_a_runtime_error(run):
    # a path that matches nothing in a ".$" field fails the state with States.Runtime
    result = run(single({"Type": "Pass", "Parameters": {"x.$": "$.nope"}}), {"a": 1})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")


def test_parameters_read_the_context_object(run):
    parameters = {
        "execution.$": "$$.Execution.Name",
        "state.$": "$$.State.Name",
        "machine.$": "$$.StateMachine.Name",
        "input.$": "$$.Execution.Input",
        "entered.$": "$$.State.EnteredTime",
        "started.$": "$$.Execution.StartTime",
    }
    definition = {
        "StartAt": "Ctx",
        "States": {"Ctx": {"Type": "Pass", "Parameters": parameters, "End": True}},
    }
    result = run(definition, {"k": "v"})
    out = result.output
    assert out["execution"] == result.described["name"]
    assert out["state"] == "Ctx"
    assert result.described["stateMachineArn"].endswith(":" + out["machine"])
    assert out["input"] == {"k": "v"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", out["entered"]), out["entered"]
    # ISO 8601 in UTC with milliseconds, as the page's example: "2019-03-26T20:14:13.192Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", out["started"]), out["started"]


def test_resultselector_shapes_the_result(run):
    # ResultSelector applies to the result of a Task, Map or Parallel state, before ResultPath
    definition = single(
        {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "A",
                    "States": {"A": {"Type": "Pass", "Result": {"n": 1}, "End": True}},
                },
                {
                    "StartAt": "B",
                    "States": {"B": {"Type": "Pass", "Result": {"n": 2}, "End": True}},
                },
            ],
            "ResultSelector": {"first.$": "$[0].n", "second.$": "$[1].n", "static": "x"},
            "ResultPath": "$.selected",
        }
    )
    out = run(definition, {"keep": True}).output
    assert out == {"keep": True, "selected": {"first": 1, "second": 2, "static": "x"}}


@pytest.mark.parametrize(
    ("result_path", "expected"),
    [
        # "Use ResultPath to replace the input with the result" (the default, "$")
        ("$", HELLO),
        # "Use ResultPath to include the result with the input"
        ("$.taskresult", {**RESULTPATH_INPUT, "taskresult": HELLO}),
        # "Use ResultPath to update a node in the input with the result"
        ("$.master.detail", {**RESULTPATH_INPUT, "master": {"detail": HELLO}}),
        # "Use ResultPath to discard the result and keep the original input"
        (None, RESULTPATH_INPUT),
    ],
    ids=["replace", "include", "nested", "discard"],
)
def test_resultpath(run, result_path, expected):
    state = {"Type": "Pass", "Result": HELLO, "ResultPath": result_path}
    assert run(single(state), RESULTPATH_INPUT).output == expected


def test_resultpath_into_an_existing_node_replaces_it(run):
    # "If the path already exists in the input, ResultPath overwrites it"
    state = {"Type": "Pass", "Result": HELLO, "ResultPath": "$.details"}
    assert run(single(state), RESULTPATH_INPUT).output == {**RESULTPATH_INPUT, "details": HELLO}


def test_resultpath_default_is_the_whole_result(run):
    assert run(single({"Type": "Pass", "Result": {"r": 1}}), {"in": 1}).output == {"r": 1}


def test_outputpath_selects_part_of_the_output(run):
    # "Filtering state output using OutputPath": ResultPath $.taskresult, OutputPath $.taskresult
    state = {
        "Type": "Pass",
        "Result": HELLO,
        "ResultPath": "$.taskresult",
        "OutputPath": "$.taskresult",
    }
    assert run(single(state), RESULTPATH_INPUT).output == HELLO


def test_outputpath_null_gives_an_empty_object(run):
    state = {"Type": "Pass", "OutputPath": None}
    assert run(single(state), RESULTPATH_INPUT).output == {}


def test_paths_apply_in_order(run):
    # InputPath -> Parameters -> (result) -> ResultSelector -> ResultPath -> OutputPath
    state = {
        "Type": "Pass",
        "InputPath": "$.order",
        "Parameters": {"id.$": "$.id", "first.$": "$.items[0]"},
        "ResultPath": "$.summary",
        "OutputPath": "$.summary",
    }
    # Pass: Parameters build the result; ResultPath puts it into the (InputPath'd) input
    out = run(single(state), {"order": {"id": "o-1", "items": [1, 2, 3]}, "other": 1}).output
    assert out == {"id": "o-1", "first": 1}


def test_jsonpath_filter_and_slices(run):
    # JSONPath syntax AWS documents for Parameters paths: [*], slices, filters
    parameters = {
        "names.$": "$.items[*].name",
        "firstTwo.$": "$.items[0:2].name",
        "cheap.$": "$.items[?(@.price < 10)].name",
        "last.$": "$.items[-1:].name",
    }
    items = [{"name": "a", "price": 5}, {"name": "b", "price": 20}, {"name": "c", "price": 7}]
    out = run(single({"Type": "Pass", "Parameters": parameters}), {"items": items}).output
    assert out == {
        "names": ["a", "b", "c"],
        "firstTwo": ["a", "b"],
        "cheap": ["a", "c"],
        "last": ["c"],
    }
