"""What `harness test-state` sends to TestState and how it shows the answer.

The definition is the settings' state machine file (or --definition) with its `${...}`
placeholders replaced by the function names the deployer gives them, so a Task invokes the
deployed function on either target; TestState then runs the one state named. The role is the
deployed state machine's (AWS requires one for an unmocked Task; the embedded AWS does not
check it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console
from rich.table import Table

from harness import clients
from harness.config import Settings
from harness.errors import HarnessError

# the stages, in the order a state applies them (TestState's inspectionData)
STAGES = (
    "input",
    "afterInputPath",
    "afterParameters",
    "afterArguments",
    "afterItemsPath",
    "afterItemSelector",
    "result",
    "afterResultSelector",
    "afterResultPath",
    "variables",
    "toleratedFailureCount",
    "toleratedFailurePercentage",
    "maxConcurrency",
    "errorDetails",
    "request",
    "response",
)
_MAX_CELL = 600  # a stage holding a base64 image would fill the screen
# locally any role does (the embedded AWS's account is moto's default)
LOCAL_ROLE = "arn:aws:iam::123456789012:role/harness-test-state"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def read_json_option(value: str | None, what: str) -> Any:
    """A JSON option given inline or as @file."""
    if value is None:
        return None
    text = value
    if value.startswith("@"):
        path = Path(value[1:]).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise HarnessError(f"--{what}: cannot read {path}: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise HarnessError(
            f"--{what} is not JSON: {exc}", f"give --{what} '{{...}}' or --{what} @file.json"
        ) from exc


def definition_text(settings: Settings, path: Path | None) -> str:
    """The ASL file with `${...}` placeholders replaced by the deployed function names."""
    from harness.deploy.workflow import FUNCTIONS

    path = path or settings.state_machine_file
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot read the definition {path}: {exc.strerror}") from exc
    names = {spec.placeholder: settings.function_name(spec.folder) for spec in FUNCTIONS}
    return _PLACEHOLDER.sub(lambda m: names.get(m.group(1), m.group(0)), text)


def mock_input(mock: Any) -> dict | None:
    """The API wants `result` as a JSON string; a JSON value is accepted here too."""
    if mock is None:
        return None
    if not isinstance(mock, dict):
        raise HarnessError(
            "--mock must be a JSON object",
            'e.g. --mock \'{"result": {"Payload": {...}}}\' or '
            '\'{"errorOutput": {"error": "E", "cause": "C"}}\'',
        )
    mock = dict(mock)
    if "result" in mock and not isinstance(mock["result"], str):
        mock["result"] = json.dumps(mock["result"])
    return mock


def role_arn(settings: Settings, sfn: Any) -> str | None:
    """The deployed state machine's role, None if it is not deployed."""
    arn = clients.find_state_machine(sfn, settings.state_machine_name)
    return sfn.describe_state_machine(stateMachineArn=arn)["roleArn"] if arn else None


def stepfunctions(settings: Settings) -> Any:
    if settings.target == "aws":  # AWS answers TestState on its `sync-` host
        return clients.client(settings, "stepfunctions")
    return clients.client(settings, "stepfunctions", inject_host_prefix=False)


def call(settings: Settings, state: str, definition: str, payload: Any, mock: Any, level: str):
    sfn = stepfunctions(settings)
    request: dict[str, Any] = {
        "definition": definition,
        "stateName": state,
        "input": json.dumps(payload if payload is not None else {}),
        "inspectionLevel": level,
    }
    if mock is not None:
        request["mock"] = mock
    try:
        role = role_arn(settings, sfn)
        if role:
            request["roleArn"] = role
        elif mock is None and settings.target == "aws":
            raise HarnessError(
                f"{settings.state_machine_name} is not deployed on AWS, so there is no role "
                "for an unmocked Task.",
                "deploy it (`make deploy-aws`) or give --mock",
            )
        elif mock is None:
            request["roleArn"] = LOCAL_ROLE
        answer = sfn.test_state(**request)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise HarnessError(
            f"TestState refused the request: {error.get('Code')}: {error.get('Message')}",
            'check the state name (quote it: STATE="Classify image"), --input and --mock',
        ) from exc
    answer.pop("ResponseMetadata", None)
    return answer


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    if len(text) > _MAX_CELL:
        return f"{text[:_MAX_CELL]}… ({len(text)} characters)"
    return text


def print_answer(answer: dict, state: str, console: Console) -> None:
    """Each stage as a row, then the output and the outcome."""
    table = Table(title=f"TestState: {state}", show_lines=True)
    table.add_column("stage", style="cyan", no_wrap=True)
    table.add_column("value", overflow="fold")
    data = answer.get("inspectionData", {})
    for stage in (*STAGES, *sorted(set(data) - set(STAGES))):
        if stage in data:
            table.add_row(stage, _cell(data[stage]))
    if "output" in answer:
        table.add_row("output", _cell(answer["output"]), style="bold")
    console.print(table)
    status = answer.get("status", "?")
    colour = {"SUCCEEDED": "green", "CAUGHT_ERROR": "yellow", "RETRIABLE": "yellow"}.get(
        status, "red"
    )
    line = f"[{colour}]{status}[/]"
    if answer.get("nextState"):
        line += f" -> next state: {answer['nextState']}"
    console.print(line)
    if answer.get("error") or answer.get("cause"):
        console.print(f"error: {answer.get('error', '')}", markup=False)
        console.print(f"cause: {_cell(answer.get('cause', ''))}", markup=False)
