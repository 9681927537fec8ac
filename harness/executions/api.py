"""Read executions from the Step Functions API: the same calls on the local stack and on AWS.

Only read calls: ListStateMachines, ListExecutions, DescribeExecution,
GetExecutionHistory, DescribeStateMachineForExecution. Every function takes the boto3
client, so tests pass one made under moto's mock and the commands pass
`stepfunctions_client(settings)`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
)

from harness import clients
from harness.config import Settings
from harness.errors import HarnessError
from harness.executions.history import StateRow, as_datetime, state_rows

STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")


def stepfunctions_client(settings: Settings) -> Any:
    """A Step Functions client for the target: the local stack (dummy credentials) or AWS."""
    return clients.client(
        settings, "stepfunctions", connect_timeout=2, read_timeout=30, retries={"max_attempts": 2}
    )


@dataclass
class ExecutionSummary:
    """One line of `harness executions`."""

    name: str
    arn: str
    status: str
    start: datetime
    stop: datetime | None
    input_key: str | None = None
    error: str | None = None
    cause: str | None = None

    @property
    def duration_s(self) -> float:
        end = self.stop or datetime.now(UTC)
        return (end - self.start).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arn": self.arn,
            "status": self.status,
            "start": self.start.isoformat(),
            "stop": self.stop.isoformat() if self.stop else None,
            "duration_s": round(self.duration_s, 3),
            "input_key": self.input_key,
            "error": self.error,
            "cause": self.cause,
        }


@dataclass
class ExecutionRecord:
    """Everything the views of one execution need, read once."""

    summary: ExecutionSummary
    definition: dict[str, Any]
    events: list[dict[str, Any]]
    rows: list[StateRow] = field(default_factory=list)


def _call(what: str, fn, *args, **kwargs) -> Any:
    """Run one API call; turn the failures a user can fix into HarnessError."""
    try:
        return fn(*args, **kwargs)
    except EndpointConnectionError as exc:
        raise HarnessError(
            f"Step Functions does not answer at {exc.kwargs.get('endpoint_url', 'its endpoint')}.",
            "start the local stack with `make local-up`, or pass --target aws",
        ) from exc
    except NoCredentialsError as exc:
        raise HarnessError(
            "No AWS credentials found.", "configure them (aws configure) or use --target local"
        ) from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        hint = {
            "StateMachineDoesNotExist": "deploy it first: `make local-up` or `make deploy-aws`",
            "ExecutionDoesNotExist": "list the executions with `harness executions`",
        }.get(code, "")
        raise HarnessError(f"{what} failed: {exc}", hint) from exc
    except BotoCoreError as exc:
        raise HarnessError(f"{what} failed: {exc}") from exc


def state_machine_arn(client: Any, name: str) -> str:
    """The ARN of the state machine called `name` (an ARN is returned as it is)."""
    if name.startswith("arn:"):
        return name
    arn = _call("ListStateMachines", clients.find_state_machine, client, name)
    if arn is not None:
        return arn
    raise HarnessError(
        f"No state machine named {name!r} on this target.",
        "deploy it first (`make local-up` or `make deploy-aws`), or pass --state-machine NAME",
    )


def list_executions(
    client: Any, state_machine: str, status: str | None = None, limit: int = 20
) -> list[ExecutionSummary]:
    """The `limit` most recent executions, newest first, with their input key and error."""
    arn = state_machine_arn(client, state_machine)
    kwargs: dict[str, Any] = {"stateMachineArn": arn, "PaginationConfig": {"MaxItems": limit}}
    if status:
        kwargs["statusFilter"] = status.upper()
    pages = client.get_paginator("list_executions").paginate(**kwargs)
    items = [item for page in _call("ListExecutions", list, pages) for item in page["executions"]]
    items.sort(key=lambda item: as_datetime(item["startDate"]), reverse=True)
    return [describe_execution(client, item["executionArn"]) for item in items[:limit]]


def describe_execution(client: Any, arn: str) -> ExecutionSummary:
    described = _call("DescribeExecution", client.describe_execution, executionArn=arn)
    error, cause = described.get("error"), described.get("cause")
    if described["status"] in ("FAILED", "TIMED_OUT", "ABORTED") and not error:
        error, cause = _last_error(client, arn)  # older APIs leave error/cause out
    return ExecutionSummary(
        name=described["name"],
        arn=arn,
        status=described["status"],
        start=as_datetime(described["startDate"]),
        stop=as_datetime(described["stopDate"]) if described.get("stopDate") else None,
        input_key=input_key(described.get("input")),
        error=error,
        cause=cause,
    )


def _last_error(client: Any, arn: str) -> tuple[str | None, str | None]:
    last = _call(
        "GetExecutionHistory",
        client.get_execution_history,
        executionArn=arn,
        reverseOrder=True,
        maxResults=1,
    )
    for event in last.get("events", []):
        for key, details in event.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                return details.get("error"), details.get("cause")
    return None, None


def input_key(text: str | None) -> str | None:
    """The image key of an execution input (`s3_key`, docs/contracts.md section 1)."""
    try:
        value = json.loads(text or "")
    except ValueError:
        return None
    return value.get("s3_key") if isinstance(value, dict) else None


def execution_arn(
    client: Any, settings: Settings, name_or_arn: str, state_machine: str | None = None
) -> str:
    """An execution's ARN from its ARN or its name on the workflow's state machine."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    machine = state_machine_arn(client, state_machine or settings.state_machine_name)
    # arn:aws:states:<region>:<account>:stateMachine:<sm> -> ...:execution:<sm>:<name>
    return machine.replace(":stateMachine:", ":execution:", 1) + f":{name_or_arn}"


def load_execution(
    client: Any, arn: str, summary: ExecutionSummary | None = None
) -> ExecutionRecord:
    """Describe the execution (unless `summary` already does), read its whole history and the definition it ran."""
    summary = summary or describe_execution(client, arn)
    pages = client.get_paginator("get_execution_history").paginate(executionArn=arn)
    events = [ev for page in _call("GetExecutionHistory", list, pages) for ev in page["events"]]
    machine = _call(
        "DescribeStateMachineForExecution",
        client.describe_state_machine_for_execution,
        executionArn=arn,
    )
    definition = json.loads(machine["definition"])
    return ExecutionRecord(summary, definition, events, state_rows(events))
