"""A saved execution's output reads back as the same text DescribeExecution gave while its
engine lived: a JSON string output stays a JSON string ("yes" -> "\\"yes\\""), not bare text."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from harness.config import Settings
from harness.e2e import runner
from harness.emulator import EmbeddedAWS
from harness.stack.readiness import wait_until
from tests.support import emulator_clients


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    settings = Settings(
        aws_port=0, state_dir=tmp_path_factory.mktemp("outputs"), persist_interval=0.2
    )
    emulator = EmbeddedAWS(settings).start()
    emulator.wait_stepfunctions()
    yield emulator
    emulator.stop()


@pytest.mark.parametrize("result", ["yes", {"a": 1, "b": [1, 2]}, 3])
def test_output_text_survives_the_release_of_the_engine(aws, result):
    client = emulator_clients.factory(aws.url)
    sfn = client("stepfunctions")
    role = client("iam").create_role(
        RoleName=f"r-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": True}}}
    machine = sfn.create_state_machine(
        name=f"out-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=role
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, name="e", input="{}")["executionArn"]
    runner.wait_for(sfn, arn, "e", "", time.monotonic(), timeout=30)
    live = sfn.describe_execution(executionArn=arn)["output"]
    assert json.loads(live) == result
    wait_until(
        lambda: arn in aws.persister._restored, "the execution's engine to be released", timeout=10
    )
    assert sfn.describe_execution(executionArn=arn)["output"] == live
