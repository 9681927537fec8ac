"""Step Functions Local mock files in the embedded AWS, as AWS documents them.

Written from AWS's "Using mocked service integrations for testing in Step Functions Local" and
"Configuration file for mocked service integrations" (docs/contracts.md section 7): the
documentation's own mock file and LambdaSQSIntegration state machine, run through boto3.
Where a test departs from the documentation's example it says why. The fidelity table is
docs/stepfunctions-fidelity.md.
"""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from harness.emulator import sfn_mocks
from tests.emulator.test_emulator_stepfunctions import task, wait_done

LAMBDA_SUCCESS = {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}}
SQS_SUCCESS = {
    "MD5OfMessageBody": "3bcb6e8e-7h85-4375-b0bc-1a59812c6e51",
    "MessageId": "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51",
}

# The documentation's mock file, as printed (plus the test cases the later tests need).
DOC_MOCK_CONFIG = {
    "StateMachines": {
        "LambdaSQSIntegration": {
            "TestCases": {
                "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess"},
                "RetryPath": {"LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess"},
                "HybridPath": {"LambdaState": "MockedLambdaSuccess"},
                "NotEnoughResponses": {
                    "LambdaState": "LambdaMockedResourceNotReady",
                    "SQSState": "MockedSQSSuccess",
                },
                "UnknownResponse": {"LambdaState": "NoSuchMockedResponse"},
            }
        },
        "CatchMachine": {"TestCases": {"Caught": {"Work": "MockedCustomError"}}},
        "LoopMachine": {"TestCases": {"Twice": {"A": "Numbered"}}},
    },
    "MockedResponses": {
        "MockedLambdaSuccess": {"0": {"Return": LAMBDA_SUCCESS}},
        "LambdaMockedResourceNotReady": {
            "0": {
                "Throw": {
                    "Error": "Lambda.ResourceNotReadyException",
                    "Cause": "Lambda resource is not ready.",
                }
            }
        },
        "MockedSQSSuccess": {"0": {"Return": SQS_SUCCESS}},
        "MockedLambdaRetry": {
            "0": {
                "Throw": {
                    "Error": "Lambda.ResourceNotReadyException",
                    "Cause": "Lambda resource is not ready.",
                }
            },
            "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}},
            "3": {"Return": LAMBDA_SUCCESS},
        },
        "Numbered": {"0": {"Return": {"v": 0}}, "1": {"Return": {"v": 1}}},
        "MockedCustomError": {
            "0": {"Throw": {"Error": "ThresholdNotMet", "Cause": "top confidence 0.5"}}
        },
    },
}


def doc_definition(queue_url: str) -> dict:
    """The documentation's LambdaSQSIntegration, with IntervalSeconds 1 and BackoffRate 1
    instead of 2 and 2 (the same four attempts in ~3 s rather than ~14 s) and our queue's URL."""
    return {
        "Comment": "This state machine is called: LambdaSQSIntegration",
        "StartAt": "LambdaState",
        "States": {
            "LambdaState": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"Payload.$": "$", "FunctionName": "HelloWorldFunction"},
                "Retry": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "IntervalSeconds": 1,
                        "MaxAttempts": 3,
                        "BackoffRate": 1,
                    }
                ],
                "Next": "SQSState",
            },
            "SQSState": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage",
                "Parameters": {"QueueUrl": queue_url, "MessageBody.$": "$"},
                "End": True,
            },
        },
    }


@pytest.fixture(scope="module")
def mock_file(tmp_path_factory):
    """SFN_MOCK_CONFIG names the documentation's mock file for this module's emulator."""
    path = tmp_path_factory.mktemp("mocks") / "MockConfigFile.json"
    path.write_text(json.dumps(DOC_MOCK_CONFIG))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SFN_MOCK_CONFIG", str(path))
        yield path


@pytest.fixture(scope="module")
def sfn(client, mock_file):
    return client("stepfunctions")


@pytest.fixture(scope="module")
def queue_url(client):
    return client("sqs").create_queue(QueueName="myQueue")["QueueUrl"]


@pytest.fixture(scope="module")
def machine(sfn, role_arn, queue_url) -> str:
    return sfn.create_state_machine(
        name="LambdaSQSIntegration",
        roleArn=role_arn,
        definition=json.dumps(doc_definition(queue_url)),
    )["stateMachineArn"]


def start(sfn, arn: str, payload: dict | None = None) -> str:
    name = f"ex-{uuid.uuid4().hex[:8]}"
    return sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload or {}))[
        "executionArn"
    ]


def of_type(events: list, kind: str) -> list:
    return [e for e in events if e["type"] == kind]


def test_happy_path_answers_each_task_from_the_file(sfn, machine):
    # GIVEN the documentation's HappyPath WHEN StartExecution names <arn>#HappyPath
    name = "executionWithHappyPathMockedServices"
    started = sfn.start_execution(stateMachineArn=f"{machine}#HappyPath", name=name)
    # THEN the answer is StartExecution's usual one, on the state machine's own ARN
    account_region = machine.split(":stateMachine:")[0].replace(":states:", ":states:", 1)
    assert started["executionArn"] == f"{account_region}:execution:LambdaSQSIntegration:{name}"
    described, events = wait_done(sfn, started["executionArn"])
    assert described["status"] == "SUCCEEDED", events
    assert described["stateMachineArn"] == machine
    # the mocked data is used as a real answer would be: the Lambda's result is the next input
    succeeded = of_type(events, "TaskSucceeded")
    assert [json.loads(e["taskSucceededEventDetails"]["output"]) for e in succeeded] == [
        LAMBDA_SUCCESS,
        SQS_SUCCESS,
    ]
    entered = [e for e in of_type(events, "TaskStateEntered")]
    assert json.loads(entered[1]["stateEnteredEventDetails"]["input"]) == LAMBDA_SUCCESS
    assert json.loads(described["output"]) == SQS_SUCCESS
    # a mocked Task never calls the service: HelloWorldFunction does not even exist here


def test_retry_path_takes_the_numbered_responses_in_order(sfn, machine):
    # GIVEN "0": Throw, "1-2": Throw, "3": Return, and a Retry on States.ALL with 3 attempts
    described, events = wait_done(sfn, start(sfn, f"{machine}#RetryPath"), deadline_s=60)
    # THEN the first attempt and both retries of "1-2" fail as mocked, the third retry succeeds
    assert described["status"] == "SUCCEEDED", events
    failures = [
        (e["taskFailedEventDetails"]["error"], e["taskFailedEventDetails"]["cause"])
        for e in of_type(events, "TaskFailed")
    ]
    assert failures == [
        ("Lambda.ResourceNotReadyException", "Lambda resource is not ready."),
        ("Lambda.TimeoutException", "Lambda timed out."),
        ("Lambda.TimeoutException", "Lambda timed out."),
    ]
    assert json.loads(described["output"]) == SQS_SUCCESS


def test_hybrid_path_calls_the_real_service_for_unmocked_states(sfn, machine, client, queue_url):
    # GIVEN HybridPath mocks LambdaState only WHEN it runs THEN SQSState sends a real message
    described, events = wait_done(sfn, start(sfn, f"{machine}#HybridPath"))
    assert described["status"] == "SUCCEEDED", events
    sent = json.loads(described["output"])
    assert sent["MessageId"] != SQS_SUCCESS["MessageId"]  # SQS's answer, not a mock's
    messages = client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    bodies = [json.loads(m["Body"]) for m in messages.get("Messages", [])]
    assert LAMBDA_SUCCESS in bodies


def test_an_attempt_without_a_response_fails_the_execution(sfn, machine):
    # GIVEN only "0" (a Throw) for a state whose Retry asks for more attempts
    described, events = wait_done(sfn, start(sfn, f"{machine}#NotEnoughResponses"))
    # THEN "If you do not specify a mocked response ... the state machine execution will fail"
    assert described["status"] == "FAILED", events
    first = of_type(events, "TaskFailed")[0]["taskFailedEventDetails"]
    assert first["error"] == "Lambda.ResourceNotReadyException"
    # moto's engine (as LocalStack's) fails it with States.Runtime, naming the missing attempt.
    # Its States.ALL retrier also retries that States.Runtime (AWS's States.ALL does not match
    # States.Runtime), so the attempt named is the last one, '3', not '1'.
    assert described["error"] == "States.Runtime"
    assert (
        "No mocked response definition for state 'LambdaState' and retry number"
        in (described["cause"])
    )


def test_throw_error_is_matched_by_catch(sfn, role_arn):
    # GIVEN a Throw whose Error a Catch names ("must match the errors handled in Retry and Catch")
    definition = {
        "StartAt": "Work",
        "States": {
            "Work": task(
                "arn:aws:lambda:us-east-1:123456789012:function:nowhere",
                "Done",
                Catch=[{"ErrorEquals": ["ThresholdNotMet"], "Next": "Caught", "ResultPath": "$.e"}],
            ),
            "Caught": {"Type": "Pass", "End": True},
            "Done": {"Type": "Succeed"},
        },
    }
    arn = sfn.create_state_machine(
        name="CatchMachine", roleArn=role_arn, definition=json.dumps(definition)
    )["stateMachineArn"]
    described, events = wait_done(sfn, start(sfn, f"{arn}#Caught", {"x": 1}))
    # THEN the Catch routes it with the mocked Error and Cause as the error output
    assert described["status"] == "SUCCEEDED", events
    assert json.loads(described["output"]) == {
        "x": 1,
        "e": {"Error": "ThresholdNotMet", "Cause": "top confidence 0.5"},
    }


def test_a_state_entered_again_starts_at_response_zero(sfn, role_arn):
    # not documented by AWS: responses are numbered by the state's retries within one entry,
    # so a state a loop enters twice gets "0" both times (moto's and LocalStack's code)
    definition = {
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "nowhere"},
                "ResultPath": "$.r",
                "Next": "Again",
            },
            "Again": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.loops", "IsPresent": False, "Next": "Mark"}],
                "Default": "Done",
            },
            "Mark": {"Type": "Pass", "Result": 1, "ResultPath": "$.loops", "Next": "A"},
            "Done": {"Type": "Succeed"},
        },
    }
    arn = sfn.create_state_machine(
        name="LoopMachine", roleArn=role_arn, definition=json.dumps(definition)
    )["stateMachineArn"]
    described, events = wait_done(sfn, start(sfn, f"{arn}#Twice"))
    assert described["status"] == "SUCCEEDED", events
    assert json.loads(described["output"]) == {"r": {"v": 0}, "loops": 1}


@pytest.mark.parametrize(
    ("suffix", "reason"),
    [
        ("NoSuchCase", "No definitions for test case 'NoSuchCase'"),
        ("UnknownResponse", "No definitions for mocked response 'NoSuchMockedResponse'"),
    ],
)
def test_an_unknown_test_case_is_an_invalid_name(sfn, machine, suffix, reason):
    with pytest.raises(ClientError) as caught:
        start(sfn, f"{machine}#{suffix}")
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidName"
    assert f"Invalid mock test case name '{suffix}'" in error["Message"]
    assert reason in error["Message"]


def test_a_state_machine_the_file_does_not_name_is_an_invalid_name(sfn, role_arn):
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    arn = sfn.create_state_machine(
        name=f"unlisted-{uuid.uuid4().hex[:6]}", roleArn=role_arn, definition=json.dumps(definition)
    )["stateMachineArn"]
    with pytest.raises(ClientError, match="No definitions for state machine"):
        start(sfn, f"{arn}#HappyPath")
    # without the suffix the same machine runs as ever
    described, _ = wait_done(sfn, start(sfn, arn))
    assert described["status"] == "SUCCEEDED"


def test_an_edited_file_is_read_again(sfn, machine, mock_file):
    # GIVEN a running emulator WHEN the file changes THEN the next mocked execution uses it
    edited = json.loads(mock_file.read_text())
    edited["MockedResponses"]["MockedSQSSuccess"]["0"]["Return"] = {"MessageId": "edited"}
    original = mock_file.read_text()
    mock_file.write_text(json.dumps(edited))
    try:
        described, _ = wait_done(sfn, start(sfn, f"{machine}#HappyPath"))
        assert json.loads(described["output"]) == {"MessageId": "edited"}
    finally:
        mock_file.write_text(original)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"StateMachines": {}}', "no 'MockedResponses'"),
        (
            json.dumps(
                {
                    "StateMachines": {"LambdaSQSIntegration": {"TestCases": {"T": {"A": "R"}}}},
                    "MockedResponses": {"R": {"0": {"Return": {}, "Throw": {}}}},
                }
            ),
            "exactly one of 'Return' or 'Throw'",
        ),
        (
            json.dumps(
                {
                    "StateMachines": {"LambdaSQSIntegration": {"TestCases": {"T": {"A": "R"}}}},
                    "MockedResponses": {"R": {"0": {"Throw": {"Error": "E"}}}},
                }
            ),
            "MockedResponses.R.0.Throw.Cause must be a string",
        ),
        (
            json.dumps(
                {
                    "StateMachines": {"LambdaSQSIntegration": {"TestCases": {"T": {"A": "R"}}}},
                    "MockedResponses": {"R": {"0": {"Return": 1}, "2": {"Return": 2}}},
                }
            ),
            "consecutively numbered",
        ),
    ],
)
def test_a_broken_file_is_named_in_the_error(
    sfn, machine, tmp_path, monkeypatch, document, message
):
    broken = tmp_path / "broken.json"
    broken.write_text(document)
    monkeypatch.setenv("SFN_MOCK_CONFIG", str(broken))
    case = "T" if "TestCases" in document else "HappyPath"
    with pytest.raises(ClientError) as caught:
        start(sfn, f"{machine}#{case}")
    assert caught.value.response["Error"]["Code"] == "InvalidName"
    assert message in caught.value.response["Error"]["Message"]


def test_unmocked_executions_run_moto_untouched(sfn, machine, role_arn):
    # GIVEN the engine patched by a mocked start WHEN a state machine starts without '#'
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    wait_done(sfn, start(sfn, f"{machine}#HappyPath"))
    assert StepFunctionsParserBackend.start_execution.__module__ == sfn_mocks.__name__
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "End": True}}}
    arn = sfn.create_state_machine(
        name=f"plain-{uuid.uuid4().hex[:6]}", roleArn=role_arn, definition=json.dumps(definition)
    )["stateMachineArn"]
    # THEN it runs as ever, and so does the mocked machine itself (its Lambda does not exist)
    described, _ = wait_done(sfn, start(sfn, arn))
    assert described["status"] == "SUCCEEDED" and described["output"] == "1"
    described, events = wait_done(sfn, start(sfn, machine))
    assert described["status"] == "FAILED"
    assert of_type(events, "TaskFailed")  # HelloWorldFunction really was called, and is missing


@pytest.mark.parametrize(
    ("module", "owner", "name"),
    [
        ("moto.stepfunctions.parser.mocking.mock_config", None, "_mock_test_case_from_raw"),
        ("moto.stepfunctions.responses", "StepFunctionResponse", "start_execution"),
        ("moto.stepfunctions.parser.models", "StepFunctionsParserBackend", "start_execution"),
        ("moto.stepfunctions.parser.backend.execution", "Execution", "_get_start_execution_worker"),
        ("moto.stepfunctions.parser.asl.eval.environment", "Environment", "is_mocked_mode"),
        (
            "moto.stepfunctions.parser.backend.execution_worker",
            "ExecutionWorker",
            "_get_evaluation_environment",
        ),
    ],
)
def test_problems_names_a_moved_point(monkeypatch, module, owner, name):
    import importlib

    assert sfn_mocks.problems() == []
    target = importlib.import_module(module)
    if owner is not None:
        target = getattr(target, owner)
    monkeypatch.setattr(sfn_mocks, "_installed", {})  # as before any install
    monkeypatch.delattr(target, name)
    assert any(name in problem for problem in sfn_mocks.problems())
