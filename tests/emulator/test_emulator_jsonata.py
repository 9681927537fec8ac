"""JSONata and variables in the embedded Step Functions, scenario by scenario with the answer
AWS documents (docs/stepfunctions-fidelity.md lists them), through boto3 against a running
embedded AWS. harness/emulator/sfn_jsonata.py is what makes them run."""

from __future__ import annotations

import hashlib
import json
import re
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.emulator.test_emulator_stepfunctions import wait_done

ECHO = """
def handler(event, context):
    return {"statusCode": 200, "body": {**event, "seen": True}}
"""


def machine(states: dict, start: str | None = None, **top) -> dict:
    return {
        "QueryLanguage": "JSONata",
        "StartAt": start or next(iter(states)),
        "States": states,
        **top,
    }


def pass_state(next_state: str | None = None, **fields) -> dict:
    state = {"Type": "Pass", **fields}
    state.update({"Next": next_state} if next_state else {"End": True})
    return state


@pytest.fixture(scope="module")
def sfn(client):
    return client("stepfunctions")


@pytest.fixture(scope="module")
def run(sfn, role_arn):
    """run(definition, input) -> (describe_execution, history events)."""

    def execute(definition: dict, payload=None) -> tuple[dict, list]:
        arn = sfn.create_state_machine(
            name=f"sm-{uuid.uuid4().hex[:8]}", roleArn=role_arn, definition=json.dumps(definition)
        )["stateMachineArn"]
        execution = sfn.start_execution(
            stateMachineArn=arn,
            name=f"ex-{uuid.uuid4().hex[:8]}",
            input=json.dumps({} if payload is None else payload),
        )["executionArn"]
        return wait_done(sfn, execution)

    return execute


def output_of(result: tuple[dict, list]):
    described, _ = result
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    return json.loads(described["output"])


def exited(events: list, name: str) -> dict:
    return next(
        e["stateExitedEventDetails"]
        for e in events
        if "stateExitedEventDetails" in e and e["stateExitedEventDetails"]["name"] == name
    )


# --- expressions, $states, Arguments / Output ---------------------------------------------


def test_output_expressions_and_literals(run):
    # AWS: "{% %}" strings are evaluated, other strings are literals, at any depth
    out = output_of(
        run(
            machine(
                {
                    "P": pass_state(
                        Output={
                            "sum": "{% $states.input.a + $states.input.b %}",
                            "title": "{% $uppercase($states.input.name) %}",
                            "nested": ["{% $count($states.input.list) %}", "$not-evaluated"],
                            "static": "Hello",
                        }
                    )
                }
            ),
            {"a": 1, "b": 2, "name": "maría", "list": [1, 2, 3]},
        )
    )
    assert out == {"sum": 3, "title": "MARÍA", "nested": [3, "$not-evaluated"], "static": "Hello"}


def test_states_context_and_input(run):
    out = output_of(
        run(
            machine(
                {
                    "Named": pass_state(
                        Output={
                            "state": "{% $states.context.State.Name %}",
                            "execution_input": "{% $states.context.Execution.Input.k %}",
                            "input": "{% $states.input %}",
                        }
                    )
                }
            ),
            {"k": "v"},
        )
    )
    assert out == {"state": "Named", "execution_input": "v", "input": {"k": "v"}}


def test_task_arguments_and_states_result(run, make_function, client):
    """AWS's documented lambda:invoke pattern: Arguments builds the request, Output reads
    $states.result (the whole Invoke answer, Payload decoded)."""
    name = make_function(ECHO)
    arn = client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    definition = machine(
        {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {"FunctionName": arn, "Payload": {"x": "{% $states.input.x %}"}},
                "Output": {
                    "body": "{% $states.result.Payload.body %}",
                    "status": "{% $states.result.StatusCode %}",
                },
                "End": True,
            }
        }
    )
    assert output_of(run(definition, {"x": 41})) == {
        "body": {"x": 41, "seen": True},
        "status": 200,
    }


def test_null_is_kept_apart_from_undefined(run):
    out = output_of(
        run(
            machine(
                {
                    "P": pass_state(
                        Output={
                            "n": "{% $states.input.n %}",
                            "type": "{% $type($states.input.n) %}",
                            "exists": "{% $exists($states.input.n) %}",
                            "missing": "{% $exists($states.input.nope) %}",
                        }
                    )
                }
            ),
            {"n": None},
        )
    )
    assert out == {"n": None, "type": "null", "exists": True, "missing": False}


def test_strings_with_quotes_and_backslashes(run):
    """moto wrote string values as f'"{value}"' into the expression: a quote broke it."""
    tricky = 'he said "hi" \\ then left'
    result = run(
        machine(
            {
                "A": pass_state(
                    "B", Assign={"fromInput": "{% $states.input.s %}", "literal": tricky}
                ),
                "B": pass_state(Output={"a": "{% $fromInput %}", "b": "{% $literal %}"}),
            }
        ),
        {"s": tricky},
    )
    assert output_of(result) == {"a": tricky, "b": tricky}
    assigned = exited(result[1], "A")["assignedVariables"]  # values as JSON text, as on AWS
    assert {k: json.loads(v) for k, v in assigned.items()} == {
        "fromInput": tricky,
        "literal": tricky,
    }


# --- AWS's added functions ---------------------------------------------------------------


def test_aws_functions(run):
    out = output_of(
        run(
            machine(
                {
                    "P": pass_state(
                        Output={
                            "partition": "{% $partition([1,2,3,4,5,6,7,8,9], 3) %}",
                            "partition_short": "{% $partition([1,2,3,4,5], 2) %}",
                            "range": "{% $range(0, 10, 2) %}",
                            "range_down": "{% $range(5, 1, -2) %}",
                            "hash": "{% $hash('input data', 'SHA-256') %}",
                            "md5": "{% $hash('input data', 'MD5') %}",
                            "uuid": "{% $uuid() %}",
                            "parse": "{% $parse($states.input.json) %}",
                            "random": "{% $random() %}",
                            "seeded_same": "{% $random(7) = $random(7) %}",
                        }
                    )
                }
            ),
            {"json": '{"a": [1, null, "x"]}'},
        )
    )
    assert out["partition"] == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert out["partition_short"] == [[1, 2], [3, 4], [5]]
    assert out["range"] == [0, 2, 4, 6, 8, 10]
    assert out["range_down"] == [5, 3, 1]
    assert out["hash"] == hashlib.sha256(b"input data").hexdigest()
    assert out["md5"] == hashlib.md5(b"input data").hexdigest()
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", out["uuid"]
    )
    assert out["parse"] == {"a": [1, None, "x"]}
    assert 0 <= out["random"] < 1 and out["seeded_same"] is True


# --- variables -----------------------------------------------------------------------------


def test_variables_across_states_and_assign_sees_old_values(run):
    """AWS: the expressions of one Assign read the variables as they were on entering the
    state (all of them evaluated first, then assigned); later states see the new values.
    (Output of that same state: see docs/stepfunctions-fidelity.md, not pinned here.)"""
    result = run(
        machine(
            {
                "A": pass_state("B", Assign={"x": 1, "name": "{% $states.input.name %}"}),
                "B": pass_state(
                    "C",
                    Assign={"x": "{% $x + 1 %}", "previous": "{% $x %}"},
                    Output={"x_in_b": "{% $x %}"},
                ),
                "C": pass_state(
                    Output={"x": "{% $x %}", "previous": "{% $previous %}", "name": "{% $name %}"}
                ),
            }
        ),
        {"name": "scone"},
    )
    assert output_of(result) == {"x": 2, "previous": 1, "name": "scone"}


def test_variables_in_jsonpath_states(run):
    """Variables exist in JSONPath too: Assign with `.$` keys, read as `$name` in paths."""
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"total.$": "$.a", "label": "fixed"}, "Next": "B"},
            "B": {
                "Type": "Pass",
                "Parameters": {"total.$": "$total", "label.$": "$label", "not": "$total"},
                "End": True,
            },
        },
    }
    assert output_of(run(definition, {"a": 7})) == {"total": 7, "label": "fixed", "not": "$total"}


def test_query_language_per_state(run):
    """A JSONPath machine with one JSONata state, and the other way round."""
    jsonpath_top = {
        "StartAt": "Double",
        "States": {
            "Double": {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Output": {"v": "{% $states.input.a * 2 %}"},
                "Next": "Pick",
            },
            "Pick": {"Type": "Pass", "OutputPath": "$.v", "End": True},
        },
    }
    assert output_of(run(jsonpath_top, {"a": 7})) == 14
    # AWS: under a JSONata top level a state cannot go back to JSONPath (definition refused)
    jsonata_top = machine(
        {
            "Old": {"Type": "Pass", "QueryLanguage": "JSONPath", "InputPath": "$.a", "Next": "New"},
            "New": pass_state(Output="{% $states.input + 1 %}"),
        }
    )
    with pytest.raises(ClientError, match="downgrade from JSONata"):
        run(jsonata_top, {"a": 7})


def test_map_sees_outer_variables_and_keeps_its_own(run):
    result = run(
        machine(
            {
                "Set": pass_state("Each", Assign={"offset": 10}),
                "Each": {
                    "Type": "Map",
                    "Items": "{% $states.input.items %}",
                    "ItemSelector": {
                        "value": "{% $states.context.Map.Item.Value %}",
                        "index": "{% $states.context.Map.Item.Index %}",
                    },
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "INLINE"},
                        "StartAt": "Add",
                        "States": {
                            "Add": pass_state(
                                "Read",
                                Assign={"inner": "{% $states.input.value + $offset %}"},
                            ),
                            "Read": pass_state(Output="{% [$states.input.index, $inner] %}"),
                        },
                    },
                    "Assign": {"mapped": "{% $states.result %}"},
                    "Next": "After",
                },
                "After": pass_state(
                    Output={
                        "mapped": "{% $mapped %}",
                        "offset": "{% $offset %}",
                        "inner_visible": "{% $exists($inner) %}",
                    }
                ),
            }
        ),
        {"items": [1, 2, 3]},
    )
    assert output_of(result) == {
        "mapped": [[0, 11], [1, 12], [2, 13]],
        "offset": 10,
        "inner_visible": False,
    }


def test_parallel_branches_see_outer_variables(run):
    result = run(
        machine(
            {
                "Set": pass_state("Both", Assign={"base": 3}),
                "Both": {
                    "Type": "Parallel",
                    "Branches": [
                        machine({"Inc": pass_state(Output="{% $base + 1 %}")}),
                        machine({"Mul": pass_state(Output="{% $base * 10 %}")}),
                    ],
                    "Output": {"results": "{% $states.result %}", "base": "{% $base %}"},
                    "End": True,
                },
            }
        )
    )
    assert output_of(result) == {"results": [4, 30], "base": 3}


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "cause"),
    [
        ("$states.input.nope", "returned nothing (undefined)"),
        ("$states.input.a + 'x'", "T2002"),
        ("$eval('1 + 1')", "$eval is not supported"),
        ("$hash('x', 'SHA-999')", "algorithm"),
        ("$parse('{not json')", "not valid JSON"),
        ("$states.input.a +", "invalid"),
        ("function($x) { $x }", "unsupported result type"),
    ],
)
def test_expression_errors_fail_with_query_evaluation_error(run, expression, cause):
    described, events = run(machine({"P": pass_state(Output="{% " + expression + " %}")}), {"a": 1})
    assert described["status"] == "FAILED"
    assert described["error"] == "States.QueryEvaluationError"
    assert cause in described["cause"] and "'P'" in described["cause"]
    failed = next(e for e in events if e["type"] == "EvaluationFailed")
    assert failed["evaluationFailedEventDetails"]["error"] == "States.QueryEvaluationError"


@pytest.mark.parametrize(
    ("state", "payload", "field"),
    [
        (
            {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $states.input.v %}", "Next": "Done"}],
                "Default": "Done",
            },
            {"v": "yes"},
            "Condition",
        ),
        (
            {"Type": "Wait", "Seconds": "{% $states.input.v %}", "Next": "Done"},
            {"v": "abc"},
            "Seconds",
        ),
        (
            {
                "Type": "Map",
                "Items": "{% $states.input.v %}",
                "ItemProcessor": {"StartAt": "I", "States": {"I": pass_state()}},
                "Next": "Done",
            },
            {"v": "not a list"},
            "Items",
        ),
    ],
)
def test_a_result_of_the_wrong_type_is_a_query_evaluation_error(run, state, payload, field):
    described, _ = run(machine({"S": state, "Done": pass_state()}), payload)
    assert (described["status"], described["error"]) == ("FAILED", "States.QueryEvaluationError")
    assert (
        f"specified for the field '{field}' returned an unexpected result type"
        in (described["cause"])
    )


def test_query_evaluation_error_is_caught_by_catch(run):
    """States.QueryEvaluationError from a Parallel branch reaches the Parallel's Catch under its
    own name (moto's CustomErrorName refused States.* names there)."""
    definition = machine(
        {
            "Both": {
                "Type": "Parallel",
                "Branches": [machine({"Bad": pass_state(Output="{% $states.input.a + 'x' %}")})],
                "Catch": [
                    {"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong"},
                    {
                        "ErrorEquals": ["States.QueryEvaluationError"],
                        "Output": {"error": "{% $states.errorOutput.Error %}"},
                        "Next": "Handled",
                    },
                ],
                "End": True,
            },
            "Wrong": {"Type": "Fail", "Error": "Wrong"},
            "Handled": pass_state(),
        }
    )
    assert output_of(run(definition, {"a": 1})) == {"error": "States.QueryEvaluationError"}


def test_fail_state_error_and_cause_from_expressions(run):
    described, _ = run(
        machine(
            {
                "Stop": {
                    "Type": "Fail",
                    "Error": "{% 'E_' & $states.input.code %}",
                    "Cause": "{% 'code ' & $states.input.code %}",
                }
            }
        ),
        {"code": "X"},
    )
    assert (described["status"], described["error"], described["cause"]) == (
        "FAILED",
        "E_X",
        "code X",
    )


def test_choice_condition(run):
    definition = machine(
        {
            "Pick": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $states.input.v > 3 %}", "Next": "Big"}],
                "Default": "Small",
            },
            "Big": pass_state(Output={"size": "big"}),
            "Small": pass_state(Output={"size": "small"}),
        }
    )
    assert output_of(run(definition, {"v": 5})) == {"size": "big"}
    assert output_of(run(definition, {"v": 1})) == {"size": "small"}


# --- the upstream-shaped pieces, directly ---------------------------------------------------


def test_moto_evaluator_and_encoder_with_quotes(aws):
    """moto's own path (compose a text, evaluate it) works with the fixed encoder."""
    from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata

    tricky = 'a "quoted" \\ value'
    declarations = moto_jsonata.encode_jsonata_variable_declarations({"$s": tricky, "$n": None})
    text = moto_jsonata.compose_jsonata_expression("[$s, $n]", [declarations])
    assert moto_jsonata.eval_jsonata_expression(text) == [tricky, None]
    with pytest.raises(moto_jsonata.JSONataException):
        moto_jsonata.eval_jsonata_expression("(1 + )")


# --- more of the documented surface -------------------------------------------------------

FAILING = """
class EndpointDown(Exception):
    pass

def handler(event, context):
    raise EndpointDown(f"no answer for {event['key']}")
"""


def test_task_catch_sees_states_error_output(run, make_function, client):
    """AWS: in a Catch, $states.errorOutput is {Error, Cause}; Catch has its own Output and
    Assign."""
    name = make_function(FAILING)
    arn = client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    definition = machine(
        {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {"FunctionName": arn, "Payload": "{% $states.input %}"},
                "Catch": [
                    {
                        "ErrorEquals": ["EndpointDown"],
                        "Assign": {"failedKey": "{% $states.input.key %}"},
                        "Output": {
                            "error": "{% $states.errorOutput.Error %}",
                            "message": "{% $parse($states.errorOutput.Cause).errorMessage %}",
                        },
                        "Next": "After",
                    }
                ],
                "End": True,
            },
            "After": pass_state(
                Output={"caught": "{% $states.input %}", "key": "{% $failedKey %}"}
            ),
        }
    )
    assert output_of(run(definition, {"key": "k1"})) == {
        "caught": {"error": "EndpointDown", "message": "no answer for k1"},
        "key": "k1",
    }


def test_choice_rule_assign_and_output(run):
    definition = machine(
        {
            "Pick": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": "{% $states.input.v > 3 %}",
                        "Assign": {"picked": "big"},
                        "Output": {"v": "{% $states.input.v %}"},
                        "Next": "End",
                    }
                ],
                "Default": "End",
            },
            "End": pass_state(Output={"picked": "{% $picked %}", "input": "{% $states.input %}"}),
        }
    )
    assert output_of(run(definition, {"v": 5})) == {"picked": "big", "input": {"v": 5}}


def test_jsonpath_variables_in_intrinsics_and_context(run):
    definition = {
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Pass",
                "Assign": {"who": "world", "state.$": "$$.State.Name", "whole.$": "$"},
                "Next": "B",
            },
            "B": {
                "Type": "Pass",
                "Parameters": {
                    "msg.$": "States.Format('hello {}', $who)",
                    "state.$": "$state",
                    "deep.$": "$whole.q",
                },
                "End": True,
            },
        },
    }
    assert output_of(run(definition, {"q": 1})) == {"msg": "hello world", "state": "A", "deep": 1}


def test_concurrent_jsonata_executions(sfn, role_arn):
    """Executions run in threads of their own; the parsed expressions are shared."""
    definition = machine(
        {
            "Set": pass_state("Each", Assign={"k": "{% $states.input.k %}"}),
            "Each": {
                "Type": "Map",
                "Items": "{% $range(1, 20, 1) %}",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Mul",
                    "States": {"Mul": pass_state(Output="{% $states.input * $k %}")},
                },
                "Output": "{% {'sum': $sum($states.result)} %}",
                "End": True,
            },
        }
    )
    arn = sfn.create_state_machine(
        name=f"sm-{uuid.uuid4().hex[:8]}", roleArn=role_arn, definition=json.dumps(definition)
    )["stateMachineArn"]
    executions = {
        k: sfn.start_execution(
            stateMachineArn=arn, name=f"ex-{uuid.uuid4().hex[:8]}", input=json.dumps({"k": k})
        )["executionArn"]
        for k in range(1, 9)
    }
    for k, execution in executions.items():
        assert output_of(wait_done(sfn, execution)) == {"sum": 210 * k}


def test_a_refused_definition_leaves_no_query_language_behind(run, sfn, role_arn):
    """moto kept one stack of QueryLanguage scopes for the whole process: after a refused
    definition, the next JSONPath one was read as JSONata and refused too."""
    refused = machine(
        {
            "Old": {"Type": "Pass", "QueryLanguage": "JSONPath", "Next": "New"},
            "New": pass_state(),
        }
    )
    with pytest.raises(ClientError):
        sfn.create_state_machine(
            name=f"sm-{uuid.uuid4().hex[:8]}", roleArn=role_arn, definition=json.dumps(refused)
        )
    jsonpath = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"v": 1}, "Next": "B"},
            "B": {"Type": "Pass", "Parameters": {"v.$": "$v"}, "End": True},
        },
    }
    assert output_of(run(jsonpath)) == {"v": 1}
