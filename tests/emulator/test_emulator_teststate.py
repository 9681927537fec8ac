"""TestState (`sfn.test_state`) in the embedded AWS, through boto3, scenario by scenario with the
answer AWS documents ("Testing state machines with TestState API"): states run without a mock
(Pass, Choice, Fail, a Task invoking a real Lambda), DEBUG's stages, variables, JSONata, a whole
machine with stateName. Mocks, Retry / Catch and bad requests: test_emulator_teststate_mocks.py.
harness/emulator/sfn_teststate*.py is what serves it."""

from __future__ import annotations

import json

import pytest
from botocore.config import Config

from tests.support import emulator_clients

ROLE = "arn:aws:iam::123456789012:role/test-state"


@pytest.fixture(scope="module")
def sfn(aws):
    """boto3 sends TestState to `sync-<host>`; locally the prefix must stay off."""
    aws.wait_stepfunctions()
    return emulator_clients.client(
        aws.url,
        "stepfunctions",
        Config(inject_host_prefix=False, retries={"total_max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def test_state(sfn):
    """test_state(state_or_machine, input, **request) -> the answer without its metadata."""

    def call(definition: dict, payload=None, **request) -> dict:
        request.setdefault("roleArn", ROLE)
        answer = sfn.test_state(
            definition=json.dumps(definition),
            input=json.dumps({} if payload is None else payload),
            **request,
        )
        answer.pop("ResponseMetadata")
        return answer

    return call


def stages(answer: dict) -> dict:
    """inspectionData with its JSON strings decoded."""
    return {
        key: json.loads(value) if isinstance(value, str) else value
        for key, value in answer["inspectionData"].items()
    }


def test_pass_state_shows_each_stage_at_debug(test_state):
    # the developer guide's Example 2: InputPath, Parameters, ResultPath, OutputPath
    state = {
        "Type": "Pass",
        "InputPath": "$.payload",
        "Parameters": {"data": 1},
        "ResultPath": "$.result",
        "OutputPath": "$.result.data",
        "Next": "Another State",
    }
    answer = test_state(state, {"payload": {"foo": "bar"}}, inspectionLevel="DEBUG")
    assert answer["status"] == "SUCCEEDED"
    assert answer["output"] == "1"
    assert answer["nextState"] == "Another State"
    assert stages(answer) == {
        "input": {"payload": {"foo": "bar"}},
        "afterInputPath": {"foo": "bar"},
        "afterParameters": {"data": 1},
        "afterResultPath": {"payload": {"foo": "bar"}, "result": {"data": 1}},
        "variables": {},
    }
    assert answer["inspectionData"]["afterInputPath"] == '{"foo":"bar"}'  # as AWS writes it


def test_info_is_the_default_and_has_no_stages(test_state):
    answer = test_state({"Type": "Pass", "Result": {"x": 1}, "End": True}, {"a": 1})
    assert answer == {"output": '{"x":1}', "status": "SUCCEEDED"}  # End: no nextState


def test_choice_state_names_the_next_state(test_state):
    # the developer guide's Example 1
    choice = {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.number", "NumericEquals": 1, "Next": "Equals 1"},
            {"Variable": "$.number", "NumericEquals": 2, "Next": "Equals 2"},
        ],
        "Default": "No Match",
    }
    answer = test_state(choice, {"number": 2})
    assert (answer["status"], answer["nextState"]) == ("SUCCEEDED", "Equals 2")
    assert json.loads(answer["output"]) == {"number": 2}
    assert test_state(choice, {"number": 7})["nextState"] == "No Match"


def test_fail_state_answers_failed_with_its_error_and_cause(test_state):
    answer = test_state({"Type": "Fail", "Error": "Boom", "Cause": "it broke"})
    assert answer == {"error": "Boom", "cause": "it broke", "status": "FAILED"}


def test_task_without_mock_invokes_the_real_lambda(test_state, make_function):
    name = make_function("def handler(event, context):\n    return {'doubled': event['n'] * 2}\n")
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": name, "Payload.$": "$"},
        "ResultSelector": {"doubled.$": "$.Payload.doubled"},
        "ResultPath": "$.result",
        "Next": "After",
    }
    answer = test_state(task, {"n": 21}, inspectionLevel="DEBUG")
    assert answer["status"] == "SUCCEEDED", answer
    assert json.loads(answer["output"]) == {"n": 21, "result": {"doubled": 42}}
    seen = stages(answer)
    assert seen["afterParameters"] == {"FunctionName": name, "Payload": {"n": 21}}
    assert seen["result"]["Payload"] == {"doubled": 42}  # the Invoke answer, as executions see it
    assert seen["result"]["StatusCode"] == 200
    assert seen["afterResultSelector"] == {"doubled": 42}
    assert seen["afterResultPath"] == {"n": 21, "result": {"doubled": 42}}


def test_a_real_lambda_error_is_retriable_then_failed(test_state, make_function):
    name = make_function("def handler(event, context):\n    raise ValueError('no')\n")
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": name, "Payload.$": "$"},
        "Retry": [{"ErrorEquals": ["ValueError"], "IntervalSeconds": 3, "MaxAttempts": 1}],
        "End": True,
    }
    answer = test_state(task, {}, inspectionLevel="DEBUG")
    # the Retrier would retry: TestState says so and does not wait the 3 s
    assert (answer["status"], answer["error"]) == ("RETRIABLE", "ValueError")
    assert answer["inspectionData"]["errorDetails"] == {
        "retryIndex": 0,
        "retryBackoffIntervalSeconds": 3,
    }
    exhausted = test_state(task, {}, stateConfiguration={"retrierRetryCount": 1})
    assert (exhausted["status"], exhausted["error"]) == ("FAILED", "ValueError")
    assert "no" in exhausted["cause"]


def test_variables_in_and_assigned(test_state):
    state = {
        "Type": "Pass",
        # in JSONPath, Assign reads the state's result ($: after Parameters)
        "Assign": {"total.$": "States.MathAdd($.seen, $base)", "label": "sum"},
        "Parameters": {"seen.$": "$.add"},
        "Next": "N",
    }
    answer = test_state(
        state, {"add": 2}, variables=json.dumps({"base": 40}), inspectionLevel="DEBUG"
    )
    assert answer["status"] == "SUCCEEDED", answer
    assert json.loads(answer["output"]) == {"seen": 2}
    # the variables after the state: those given and those the state assigned
    assert stages(answer)["variables"] == {"base": 40, "total": 42, "label": "sum"}


def test_jsonata_state_shows_after_arguments(test_state):
    state = {
        "QueryLanguage": "JSONata",
        "Type": "Pass",
        "Assign": {"doubled": "{% $states.input.n * 2 %}"},
        "Output": {"n": "{% $states.input.n %}", "from": "{% $origin %}"},
        "End": True,
    }
    answer = test_state(
        state, {"n": 4}, variables=json.dumps({"origin": "test"}), inspectionLevel="DEBUG"
    )
    assert answer["status"] == "SUCCEEDED", answer
    assert json.loads(answer["output"]) == {"n": 4, "from": "test"}
    seen = stages(answer)
    assert seen["variables"] == {"origin": "test", "doubled": 8}
    assert "afterInputPath" not in seen  # JSONPath stages are not populated for JSONata


def test_jsonata_task_arguments_stage(test_state, make_function):
    name = make_function("def handler(event, context):\n    return {'got': event}\n")
    task = {
        "QueryLanguage": "JSONata",
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Arguments": {"FunctionName": name, "Payload": {"v": "{% $states.input.v + 1 %}"}},
        "Output": "{% $states.result.Payload.got %}",
        "End": True,
    }
    answer = test_state(task, {"v": 1}, inspectionLevel="DEBUG")
    assert answer["status"] == "SUCCEEDED", answer
    assert json.loads(answer["output"]) == {"v": 2}
    assert stages(answer)["afterArguments"] == {"FunctionName": name, "Payload": {"v": 2}}


def test_whole_machine_with_state_name(test_state):
    machine = {
        "QueryLanguage": "JSONata",
        "StartAt": "First",
        "States": {
            "First": {"Type": "Pass", "Next": "Second"},
            "Second": {
                "Type": "Pass",
                "Output": {"name": "{% $states.context.State.Name %}"},
                "Next": "Third",
            },
            "Third": {"Type": "Succeed"},
        },
    }
    answer = test_state(machine, {}, stateName="Second")
    # the state runs under its own name, in the machine's query language
    assert (answer["status"], answer["nextState"]) == ("SUCCEEDED", "Third")
    assert json.loads(answer["output"]) == {"name": "Second"}


def test_a_state_inside_a_map_sees_the_first_iteration(test_state):
    machine = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "Inner",
                    "States": {
                        "Inner": {
                            "Type": "Pass",
                            "Parameters": {
                                "index.$": "$$.Map.Item.Index",
                                "value.$": "$$.Map.Item.Value",
                            },
                            "End": True,
                        }
                    },
                },
                "End": True,
            }
        },
    }
    answer = test_state(machine, {"item": 1}, stateName="Inner")
    assert answer["status"] == "SUCCEEDED", answer
    assert json.loads(answer["output"]) == {"index": 0, "value": {"item": 1}}
