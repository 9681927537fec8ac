"""What an AWS answer means, decided in one place: "not found" and finding a state machine."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from harness.clients import find_state_machine, not_found
from harness.errors import HarnessError
from harness.executions.api import state_machine_arn


def client_error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Operation")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("404", "Not Found"),  # S3 HeadBucket
        ("NoSuchBucket", "The specified bucket does not exist"),
        ("NoSuchEntity", "The role with name x cannot be found."),
        ("ResourceNotFoundException", "Function not found: arn:aws:lambda:..."),
        ("StateMachineDoesNotExist", "State Machine Does Not Exist"),
        ("RepositoryNotFoundException", "The repository does not exist"),
        ("ImageNotFoundException", "The image does not exist"),
        ("ValidationException", 'Could not find model "scones-1234".'),  # SageMaker
    ],
)
def test_missing_resources_are_not_found(code, message):
    assert not_found(client_error(code, message))


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("AccessDenied", "Access Denied"),
        ("403", "Forbidden"),
        ("ValidationException", "1 validation error detected"),
        ("ThrottlingException", "Rate exceeded"),
        ("InternalFailure", ""),
    ],
)
def test_other_failures_are_not_taken_for_missing(code, message):
    assert not not_found(client_error(code, message))


def test_a_response_without_an_error_code_is_not_not_found():
    assert not not_found(ClientError({}, "Operation"))


def test_state_machine_found_by_name_or_reported_missing():
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
        role = "arn:aws:iam::123456789012:role/sfn"
        for name in ("other", "scones-workflow"):
            sfn.create_state_machine(name=name, definition=definition, roleArn=role)
        machines = {
            m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
        }
        arn = machines["scones-workflow"]

        assert find_state_machine(sfn, "scones-workflow") == arn
        assert find_state_machine(sfn, "absent") is None
        # the views' lookup is the same one, plus ARNs as they are and a user error when missing
        assert state_machine_arn(sfn, "scones-workflow") == arn
        assert state_machine_arn(sfn, arn) == arn
        with pytest.raises(HarnessError, match="No state machine named 'absent'"):
            state_machine_arn(sfn, "absent")
