"""Ended Step Functions executions to disk and back (persistence.py uses these).

What moto's responses read of an execution is small: ARN, name, status, input, output, dates,
error and cause, and its history, through `to_history_output()` (moto's engine) or
`get_execution_history()` (moto without execution). A restored execution offers the same, and
reads its history from its file only when asked, so 1,000 of them cost little memory.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

from harness.emulator.persistence_store import Store, Unreadable

ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
# what moto's engine reads of every execution when it looks for a callback or a map run
_NO_WORKER = SimpleNamespace(
    env=SimpleNamespace(
        callback_pool_manager=SimpleNamespace(
            notify=lambda **_: False, heartbeat=lambda **_: False
        ),
        map_run_record_pool_manager=SimpleNamespace(get=lambda _arn: None, get_all=list),
    )
)


def _log(message: str) -> None:
    print(f"persistence: {message}", file=sys.stderr, flush=True)


class RestoredExecution:
    """An ended execution read back from disk."""

    exec_worker = _NO_WORKER

    def __init__(self, summary: dict, path: Path):
        self.execution_arn = self.exec_arn = summary["arn"]
        self.name = summary["name"]
        self.state_machine_arn = summary["state_machine_arn"]
        self.status = summary["status"]
        self.execution_input = summary.get("input") or "{}"
        self.output = summary.get("output")  # the JSON text DescribeExecution returns
        self.output_details = {"included": True}
        self.start_date = summary["start"]
        self.stop_date = summary.get("stop")
        self.error = summary.get("error")
        self.cause = summary.get("cause")
        self.path = path
        self.holder: list | None = None  # the list it sits in (pending, or its machine's)

    def to_history_output(self) -> dict:  # moto's engine asks this
        try:
            return {"events": Store.read_execution_events(self.path)}
        except Unreadable as exc:
            _log(f"history unreadable: {exc}")
            return {"events": []}

    def get_execution_history(self, _role_arn: str) -> list:  # moto without execution
        return self.to_history_output()["events"]


def state_machines() -> list:
    """Every state machine moto holds, in all accounts and regions (engine on or off)."""
    machines = []
    for module, name in (
        ("moto.stepfunctions.parser.models", "stepfunctions_parser_backends"),
        ("moto.stepfunctions.models", "stepfunctions_backends"),
    ):
        backends = getattr(sys.modules.get(module), name, None)
        for per_account in list(dict.values(backends or {})):
            for backend in list(dict.values(per_account)):
                machines.extend(list(backend.state_machines))
    return machines


def status(execution) -> str | None:
    value = getattr(execution, "exec_status", None)  # moto's engine: an enum, None at first
    if value is not None:
        return getattr(value, "value", value)
    plain = getattr(execution, "status", None)  # moto without execution
    return plain if isinstance(plain, str) else None


def output_json(execution) -> str | None:
    """The execution's output as the JSON text DescribeExecution gives."""
    output = getattr(execution, "output", None)
    if output is not None and (hasattr(execution, "exec_status") or not isinstance(output, str)):
        # moto's engine holds the value ("yes" is a str too); DescribeExecution gives its JSON
        output = json.dumps(output)
    return output


def record(execution, machine) -> tuple[dict, list]:
    """(summary, history events) of an ended execution, as DescribeExecution would give them."""
    output = output_json(execution)
    summary = {
        "arn": execution.execution_arn,
        "state_machine_arn": machine.arn,
        "name": execution.name,
        "status": status(execution),
        "input": execution.execution_input,
        "output": output,
        "start": execution.start_date,
        "stop": getattr(execution, "stop_date", None),
        "error": getattr(execution, "error", None),
        "cause": getattr(execution, "cause", None),
    }
    if hasattr(execution, "to_history_output"):
        events = execution.to_history_output()["events"]
    else:
        events = execution.get_execution_history(machine.roleArn)
    return summary, list(events)
