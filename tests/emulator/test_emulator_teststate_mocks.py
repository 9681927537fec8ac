"""TestState with `mock` and `stateConfiguration`, and the requests AWS refuses, through boto3
against a running embedded AWS (fixtures: test_emulator_teststate.py). The expected answers
are the developer guide's ("Mocking service integrations", "Testing retry and error
handling", "Testing Map and Parallel states") and the API reference's."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.emulator.test_emulator_teststate import sfn, stages, test_state  # noqa: F401

LAMBDA_TASK = {
    "Type": "Task",
    "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": "not-deployed", "Payload.$": "$"},
    "Retry": [
        {
            "ErrorEquals": ["Lambda.ServiceException"],
            "IntervalSeconds": 2,
            "MaxAttempts": 3,
            "BackoffRate": 2.0,
        }
    ],
    "Catch": [
        {
            "ErrorEquals": ["Lambda.TooManyRequestsException", "Lambda.ServiceException"],
            "ResultPath": "$.error",
            "Next": "HandleError",
        }
    ],
    "Next": "Success",
}


def error_mock(error: str, cause: str = "it broke") -> dict:
    return {"errorOutput": {"error": error, "cause": cause}}


def refused(sfn, **request) -> tuple[str, str]:  # noqa: F811 - sfn is the fixture
    request.setdefault("definition", json.dumps({"Type": "Pass", "End": True}))
    with pytest.raises(ClientError) as caught:
        sfn.test_state(**request)
    error = caught.value.response["Error"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error["Code"], error["Message"]


def test_mocked_result_is_the_task_result_and_needs_no_role(sfn):  # noqa: F811
    result = {"StatusCode": 200, "Payload": {"statusCode": 200, "body": "Success"}}
    answer = sfn.test_state(
        definition=json.dumps(LAMBDA_TASK),  # the function does not exist: never called
        input=json.dumps({"key": "value"}),
        mock={"result": json.dumps(result)},
        inspectionLevel="DEBUG",
    )
    assert (answer["status"], answer["nextState"]) == ("SUCCEEDED", "Success")
    assert json.loads(answer["output"]) == result
    assert stages(answer)["result"] == result


def test_mocked_error_a_retrier_takes_is_retriable(test_state):  # noqa: F811
    # the guide: IntervalSeconds 2, BackoffRate 2.0, retrierRetryCount 1 -> 4 s, index 0
    answer = test_state(
        LAMBDA_TASK,
        {"data": "value"},
        mock=error_mock("Lambda.ServiceException", "Service error"),
        stateConfiguration={"retrierRetryCount": 1},
        inspectionLevel="DEBUG",
    )
    assert answer["status"] == "RETRIABLE"
    assert (answer["error"], answer["cause"]) == ("Lambda.ServiceException", "Service error")
    assert answer["inspectionData"]["errorDetails"] == {
        "retryIndex": 0,
        "retryBackoffIntervalSeconds": 4,
    }
    assert "nextState" not in answer


def test_retries_used_up_fall_to_the_catcher(test_state):  # noqa: F811
    answer = test_state(
        LAMBDA_TASK,
        {"data": "value"},
        mock=error_mock("Lambda.ServiceException", "Service error"),
        stateConfiguration={"retrierRetryCount": 3},  # MaxAttempts 3: no attempt left
        inspectionLevel="DEBUG",
    )
    assert (answer["status"], answer["nextState"]) == ("CAUGHT_ERROR", "HandleError")
    assert answer["inspectionData"]["errorDetails"] == {"catchIndex": 0}


def test_mocked_error_a_catcher_takes_is_caught_error(test_state):  # noqa: F811
    # the guide's "Testing catch handlers" answer
    answer = test_state(
        LAMBDA_TASK,
        {"data": "value"},
        mock=error_mock("Lambda.TooManyRequestsException", "Rate exceeded"),
        inspectionLevel="DEBUG",
    )
    assert answer["status"] == "CAUGHT_ERROR"
    assert answer["nextState"] == "HandleError"
    assert (answer["error"], answer["cause"]) == (
        "Lambda.TooManyRequestsException",
        "Rate exceeded",
    )
    assert json.loads(answer["output"]) == {
        "data": "value",
        "error": {"Error": "Lambda.TooManyRequestsException", "Cause": "Rate exceeded"},
    }
    assert answer["inspectionData"]["errorDetails"] == {"catchIndex": 0}


def test_mocked_error_nothing_handles_is_failed(test_state):  # noqa: F811
    answer = test_state(LAMBDA_TASK, {}, mock=error_mock("States.TaskFailed", "boom"))
    assert answer == {"error": "States.TaskFailed", "cause": "boom", "status": "FAILED"}


def test_field_validation_modes(sfn):  # noqa: F811
    # aws-sdk:sfn:startExecution answers {ExecutionArn, StartDate}, both required
    task = {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:startExecution", "End": True}

    def call(result: dict, mode: str | None) -> dict:
        mock = {"result": json.dumps(result)}
        if mode:
            mock["fieldValidationMode"] = mode
        return sfn.test_state(definition=json.dumps(task), mock=mock)

    complete = {"ExecutionArn": "arn:aws:states:us-east-1:1:execution:m:e", "StartDate": "x"}
    assert call(complete, None)["status"] == "SUCCEEDED"  # STRICT is the default
    assert call({**complete, "NotInTheModel": 1}, "STRICT")["status"] == "SUCCEEDED"
    for mode in (None, "STRICT"):
        with pytest.raises(ClientError, match="Required field 'StartDate' is missing"):
            call({"ExecutionArn": "arn"}, mode)
    assert call({"ExecutionArn": "arn"}, "PRESENT")["status"] == "SUCCEEDED"
    for mode in ("STRICT", "PRESENT"):
        with pytest.raises(ClientError, match="Field 'ExecutionArn' must be a string"):
            call({**complete, "ExecutionArn": 7}, mode)
    answer = call({"ExecutionArn": 7}, "NONE")  # no validation at all
    assert json.loads(answer["output"]) == {"ExecutionArn": 7}


def test_lambda_invoke_result_is_checked_against_invoke(sfn):  # noqa: F811
    with pytest.raises(ClientError, match="Field 'StatusCode' must be a number"):
        sfn.test_state(
            definition=json.dumps(LAMBDA_TASK), mock={"result": json.dumps({"StatusCode": "ok"})}
        )


MAP_STATE = {
    "Type": "Map",
    "ItemsPath": "$.items",
    "ItemProcessor": {
        "ProcessorConfig": {"Mode": "INLINE"},
        "StartAt": "ProcessItem",
        "States": {
            "ProcessItem": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "not-deployed"},
                "End": True,
            }
        },
    },
    "ToleratedFailureCount": 1,
    "MaxConcurrency": 2,
    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}],
    "End": True,
}


def test_map_is_answered_from_the_mock(test_state):  # noqa: F811
    answer = test_state(
        MAP_STATE,
        {"items": [1, 2, 3]},
        mock={"result": "[10, 20, 30]"},
        inspectionLevel="DEBUG",
    )
    assert answer["status"] == "SUCCEEDED", answer
    assert json.loads(answer["output"]) == [10, 20, 30]
    seen = stages(answer)
    assert seen["afterItemsPath"] == [1, 2, 3]
    assert (seen["toleratedFailureCount"], seen["maxConcurrency"]) == (1, 2)


def test_map_iteration_failures_against_the_threshold(test_state):  # noqa: F811
    within = test_state(
        MAP_STATE,
        {"items": [1, 2, 3]},
        mock={"result": "[10, 20, 30]"},
        stateConfiguration={"mapIterationFailureCount": 1},
    )
    assert within["status"] == "SUCCEEDED"
    over = test_state(
        MAP_STATE,
        {"items": [1, 2, 3]},
        mock={"result": "[10, 20, 30]"},
        stateConfiguration={"mapIterationFailureCount": 2},
    )
    assert (over["status"], over["nextState"]) == ("CAUGHT_ERROR", "Recover")
    assert over["error"] == "States.ExceedToleratedFailureThreshold"


def test_map_error_from_a_named_inner_state(test_state):  # noqa: F811
    answer = test_state(
        MAP_STATE,
        {"items": [1]},
        mock=error_mock("States.TaskFailed", "Task execution failed"),
        stateConfiguration={"errorCausedByState": "ProcessItem"},
    )
    assert (answer["status"], answer["nextState"]) == ("CAUGHT_ERROR", "Recover")
    assert answer["error"] == "States.TaskFailed"


def test_distributed_map_reads_its_items_from_map_item_reader_data(test_state):  # noqa: F811
    state = {
        "Type": "Map",
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket": "b", "Key": "items.json"},
        },
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P",
            "States": {"P": {"Type": "Pass", "End": True}},
        },
        "ToleratedFailurePercentage": 50.0,  # moto's grammar refuses an integer here
        "End": True,
    }

    def with_failures(count: int) -> dict:
        return test_state(
            state,
            {},
            mock={"result": "[1, 2, 3, 4]"},
            stateConfiguration={
                "mapItemReaderData": "[1, 2, 3, 4]",
                "mapIterationFailureCount": count,
            },
        )

    assert with_failures(2)["status"] == "SUCCEEDED"  # 50 % of 4 items: within
    over = with_failures(3)  # 75 %
    assert (over["status"], over["error"]) == ("FAILED", "States.ExceedToleratedFailureThreshold")


def test_parallel_is_answered_from_the_mock(test_state):  # noqa: F811
    branch = {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}
    parallel = {"Type": "Parallel", "Branches": [branch, branch], "Next": "After"}
    answer = test_state(parallel, {}, mock={"result": '[{"a": 1}, {"b": 2}]'})
    assert (answer["status"], answer["nextState"]) == ("SUCCEEDED", "After")
    assert json.loads(answer["output"]) == [{"a": 1}, {"b": 2}]


def test_context_is_seen_by_the_state(test_state):  # noqa: F811
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {
            "FunctionName": "f",
            "Payload": {"id.$": "$$.Execution.Id", "state.$": "$$.State.Name"},
        },
        "ResultPath": None,
        "End": True,
    }
    context = {"Execution": {"Id": "arn:exec:1", "Name": "one"}, "State": {"Name": "Process"}}
    answer = test_state(
        task,
        {},
        context=json.dumps(context),
        mock={"result": "{}"},
        inspectionLevel="DEBUG",
    )
    assert answer["status"] == "SUCCEEDED", answer
    sent = stages(answer)["afterParameters"]["Payload"]
    assert sent == {"id": "arn:exec:1", "state": "Process"}


@pytest.mark.parametrize(
    ("request_fields", "code", "message"),
    [
        ({"definition": "{not json"}, "InvalidDefinition", "Invalid State Machine Definition"),
        ({"definition": '{"Type": "Pass", "Bogus": 1}'}, "InvalidDefinition", "Bogus"),
        ({"input": "{not json"}, "InvalidExecutionInput", "Invalid State Machine Execution Input"),
        ({"inspectionLevel": "LOUD"}, "ValidationException", "inspectionLevel"),
        ({"mock": {"result": "1"}}, "ValidationException", "State type 'Pass' is not supported"),
        ({"variables": "[1]"}, "ValidationException", "variables must be a JSON object"),
        ({"context": "{}"}, "ValidationException", "context can only be specified"),
        (
            {"definition": json.dumps(LAMBDA_TASK)},
            "ValidationException",
            "RoleArn must be specified when testing a Task state",
        ),
        (
            {
                "definition": json.dumps(LAMBDA_TASK),
                "mock": {"result": "{}", **error_mock("E")},
            },
            "ValidationException",
            "only one of the following fields: [result, errorOutput]",
        ),
        (
            {"definition": json.dumps(LAMBDA_TASK), "mock": {"result": "{nope"}},
            "ValidationException",
            "Mocked result must be valid JSON",
        ),
        ({"definition": json.dumps(MAP_STATE)}, "InvalidDefinition", "does not support Map"),
        (
            {"definition": json.dumps(MAP_STATE), "mock": {"result": "{}"}},
            "ValidationException",
            "Mocked result must be an array.",
        ),
        (
            {
                "definition": json.dumps(
                    {**LAMBDA_TASK, "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken"}
                ),
                "roleArn": "arn:aws:iam::123456789012:role/r",
            },
            "ValidationException",
            "when a mock is specified",
        ),
        (
            {
                "definition": json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
                "stateName": "B",
            },
            "ValidationException",
            "State not found in definition",
        ),
        (
            {"definition": json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}})},
            "ValidationException",
            "stateName is required",
        ),
        (
            {
                "definition": json.dumps(LAMBDA_TASK),
                "mock": {"result": "{}"},
                "stateConfiguration": {"mapIterationFailureCount": 1},
            },
            "ValidationException",
            "only be specified when testing a Map state",
        ),
    ],
)
def test_bad_requests_answer_aws_errors(sfn, request_fields, code, message):  # noqa: F811
    got_code, got_message = refused(sfn, **request_fields)
    assert got_code == code
    assert message in got_message


def test_hooks_are_checked_and_in_place(aws):
    from moto.stepfunctions.responses import StepFunctionResponse

    from harness.emulator import sfn_teststate

    aws.wait_stepfunctions()
    assert sfn_teststate.problems() == []
    assert sfn_teststate.installed() and "test_state" in vars(StepFunctionResponse)
