"""One embedded AWS for the whole conformance package (tests/conformance/), and the helpers
every module runs its scenarios with: a definition and an input in, through boto3, the
execution's status, output or error out, to compare with what AWS's documentation says.

The stack is package-scoped (one start for every module here; pytest ends it before any
other package's module starts its own: one embedded AWS per process)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime

import pytest

from harness.config import Settings
from harness.emulator import EmbeddedAWS
from tests.emulator.test_emulator_stepfunctions import wait_done
from tests.support import emulator_clients
from tests.support.lambda_zip import zip_code


@pytest.fixture(scope="package")
def aws(tmp_path_factory) -> EmbeddedAWS:
    settings = Settings(
        aws_port=0,
        state_dir=tmp_path_factory.mktemp("conformance-state"),
        emulator_speedups=Settings.from_env().emulator_speedups,
        lambda_workers_per_function=1,
    )
    emulator = EmbeddedAWS(settings).start()
    emulator.wait_stepfunctions()  # the engine's hooks go in on the warm-up thread
    yield emulator
    emulator.stop()


@pytest.fixture(scope="package")
def client(aws) -> Callable:
    return emulator_clients.factory(aws.url)


@pytest.fixture(scope="package")
def sfn(client):
    return client("stepfunctions")


@pytest.fixture(scope="package")
def role_arn(client) -> str:
    return client("iam").create_role(
        RoleName=f"conformance-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]


class Result:
    """One finished execution: DescribeExecution and its history."""

    def __init__(self, described: dict, events: list[dict]):
        self.described, self.events = described, events
        self.status = described["status"]
        self.error = described.get("error")
        self.cause = described.get("cause")

    @property
    def output(self):
        assert self.status == "SUCCEEDED", (self.status, self.error, self.cause)
        return json.loads(self.described["output"])

    def of_type(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["type"] == kind]

    def gaps(self, first: str, then: str) -> list[float]:
        """Seconds from each `first` event to the next `then` event (history timestamps)."""
        out, start = [], None
        for event in self.events:
            if event["type"] == first:
                start = event["timestamp"]
            elif event["type"] == then and start is not None:
                out.append(_seconds(event["timestamp"]) - _seconds(start))
                start = None
        return out


def _seconds(stamp: datetime) -> float:
    return stamp.timestamp()


@pytest.fixture(scope="package")
def run(sfn, role_arn) -> Callable[..., Result]:
    """run(definition, input) -> Result; the definition as a dict, the input as a value."""

    def execute(definition: dict, payload=None, *, deadline_s: float = 30) -> Result:
        arn = sfn.create_state_machine(
            name=f"sm-{uuid.uuid4().hex[:8]}", roleArn=role_arn, definition=json.dumps(definition)
        )["stateMachineArn"]
        execution = sfn.start_execution(
            stateMachineArn=arn,
            name=f"ex-{uuid.uuid4().hex[:8]}",
            input=json.dumps({} if payload is None else payload),
        )["executionArn"]
        return Result(*wait_done(sfn, execution, deadline_s))

    return execute


@pytest.fixture(scope="package")
def run_many(sfn, role_arn) -> Callable[..., list[Result]]:
    """run_many([(definition, input), ...]) -> [Result]: started together, awaited in order
    (scenarios that take seconds of Wait or Retry run side by side)."""

    def execute(scenarios: list[tuple[dict, object]], *, deadline_s: float = 30) -> list[Result]:
        executions = []
        for definition, payload in scenarios:
            arn = sfn.create_state_machine(
                name=f"sm-{uuid.uuid4().hex[:8]}",
                roleArn=role_arn,
                definition=json.dumps(definition),
            )["stateMachineArn"]
            executions.append(
                sfn.start_execution(
                    stateMachineArn=arn,
                    name=f"ex-{uuid.uuid4().hex[:8]}",
                    input=json.dumps({} if payload is None else payload),
                )["executionArn"]
            )
        return [Result(*wait_done(sfn, arn, deadline_s)) for arn in executions]

    return execute


def single(state: dict, name: str = "S") -> dict:
    """A machine of one state (End: true added)."""
    return {"StartAt": name, "States": {name: {**state, "End": True}}}


# One tiny Lambda for the Task scenarios: it raises the error its event names, else echoes.
TINY = """
import json, os

class CustomError(Exception):
    pass

def handler(event, context):
    if isinstance(event, dict) and event.get("raise"):
        raise type(event["raise"], (Exception,), {})(event.get("message", "boom"))
    if isinstance(event, dict) and event.get("fail_until"):
        path = os.path.join("/tmp", "conformance-" + event["counter"])
        calls = int(open(path).read()) + 1 if os.path.exists(path) else 1
        with open(path, "w") as f:
            f.write(str(calls))
        if calls < event["fail_until"]:
            raise type(event.get("raise_error", "Transient"), (Exception,), {})(f"call {calls}")
        return {"calls": calls, "event": event}
    if isinstance(event, dict) and event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    return event
"""


@pytest.fixture(scope="package")
def tiny_lambda(client, role_arn) -> str:
    """The ARN of the tiny Lambda (created once for the package)."""
    lam = client("lambda")
    name = f"tiny-{uuid.uuid4().hex[:8]}"
    return lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role_arn,
        Handler="handler.handler",
        Code={"ZipFile": zip_code({"handler.py": TINY})},
        Timeout=10,
    )["FunctionArn"]
