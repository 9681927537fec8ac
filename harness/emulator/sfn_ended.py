"""What happens when moto's engine ends an execution (`BaseExecutionWorkerCommunication.
terminated`): waiters wake, and what moto would keep of the run for ever is let go.

- `GET /_harness/executions/wait?arn=...&timeout=...` holds the request until the execution
  has ended and answers with its outcome as DescribeExecution gives it: `{"status":
  "SUCCEEDED", "ended": true, "output": "...", "error": null, "cause": null}` (output only
  when it succeeded, as there). At the timeout: the current status, `"ended": false`, and the
  client asks again. Polling DescribeExecution instead cost ~60 requests per execution at 16
  in parallel, most of the emulator's CPU, and up to a poll interval of latency; answering
  with the outcome saves the DescribeExecution after it (~2 ms of the emulator's CPU and
  ~4 ms of latency per execution). AWS has no such call: harness.e2e.runner uses it where
  the health answer says `"wait_execution": true` and polls elsewhere (LocalStack, AWS).
- moto appends every thread its interpreter starts (about five per execution) to
  `parser.utils.TMP_THREADS`, a module list nothing empties (LocalStack's shutdown hook,
  absent here); finished ones are dropped.
Without that, and without moto_trackers.py (each execution's deep copy of its state machine
was kept by moto's model tracker), the emulator grew by ~10 KB per execution for ever
(bench/soak.py).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from typing import Any

from harness.emulator.contract import WAIT_EXECUTION_PATH
from harness.emulator.persistence_executions import ENDED, output_json, state_machines, status

_COMMUNICATION = "moto.stepfunctions.parser.backend.execution"
_THREADS = "moto.stepfunctions.parser.utils"
_MAX_WAIT_SECONDS = 20.0  # one request's hold; the client asks again (proxies, sockets)
_RECHECK_SECONDS = 0.5  # safety net: the status is read again even without a signal

_waiters: dict[str, list[threading.Event]] = {}
_lock = threading.Lock()
_installed: dict[str, Any] = {}


def problems() -> list[str]:
    """What moto moved under this module (empty: nothing)."""
    import importlib
    import inspect

    try:
        communication = importlib.import_module(_COMMUNICATION).BaseExecutionWorkerCommunication
        threads = importlib.import_module(_THREADS).TMP_THREADS
    except (ImportError, AttributeError) as exc:
        return [f"moto's Step Functions engine moved: {exc}"]
    found = []
    original = _installed.get("terminated", (None, communication.terminated))[1]
    if list(inspect.signature(original).parameters) != ["self"]:
        found.append("BaseExecutionWorkerCommunication.terminated(self) changed")
    if not isinstance(threads, list):
        found.append("moto.stepfunctions.parser.utils.TMP_THREADS is no longer a list")
    return found


def install() -> None:
    """Signal waiters when moto's engine ends an execution (idempotent)."""
    import importlib

    from harness.emulator.moto_hooks import raise_if

    raise_if(problems())
    communication = importlib.import_module(_COMMUNICATION).BaseExecutionWorkerCommunication
    threads = importlib.import_module(_THREADS).TMP_THREADS
    with _lock:
        if "terminated" in _installed:
            return
        original = communication.terminated
        _installed["terminated"] = (communication, original)

    def terminated(self) -> None:
        original(self)
        _signal(self.execution.exec_arn)
        # in place: every engine module shares this one list object. An append racing the
        # swap may be dropped, which costs nothing: moto never reads the list back.
        threads[:] = [thread for thread in threads if thread.is_alive()]

    communication.terminated = terminated


def uninstall() -> None:
    with _lock:
        owner, original = _installed.pop("terminated", (None, None))
    if owner is not None:
        owner.terminated = original


def installed() -> dict[str, Any]:
    """{"Owner.name": what was there before install()} (for the restore test)."""
    with _lock:
        return {f"{owner.__name__}.terminated": original for owner, original in _installed.values()}


def _signal(arn: str) -> None:
    with _lock:
        events = list(_waiters.get(arn, ()))
    for event in events:
        event.set()


def find(arn: str) -> Any:
    """The execution (moto's, or its saved record), or None when no state machine holds it."""
    for machine in state_machines():
        for execution in reversed(list(machine.executions)):  # the one waited for is new
            if execution.execution_arn == arn:
                return execution
    return None


def current_status(arn: str) -> str | None:
    """The execution's status, or None when no state machine holds it."""
    execution = find(arn)
    return None if execution is None else status(execution)


def wait(arn: str, timeout: float) -> Any:
    """Block until the execution has ended or `timeout` passed; the execution then (None:
    no such execution)."""
    event = threading.Event()
    with _lock:  # registered before the first read: an end in between still wakes us
        _waiters.setdefault(arn, []).append(event)
    try:
        remaining = timeout
        while True:
            found = find(arn)
            if found is None or status(found) in ENDED or remaining <= 0:
                return found
            step = min(remaining, _RECHECK_SECONDS)
            event.wait(step)
            event.clear()
            remaining -= step
    finally:
        with _lock:
            events = _waiters.get(arn, [])
            if event in events:
                events.remove(event)
            if not events:
                _waiters.pop(arn, None)


def answer(environ: dict, start_response) -> list[bytes]:
    """The WSGI answer for WAIT_EXECUTION_PATH."""
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    arn = (query.get("arn") or [""])[0]
    try:
        timeout = min(float((query.get("timeout") or [_MAX_WAIT_SECONDS])[0]), _MAX_WAIT_SECONDS)
    except ValueError:
        timeout = -1.0
    if not arn or timeout < 0:
        return _json(start_response, "400 Bad Request", {"message": "want ?arn=...&timeout=s"})
    execution = wait(arn, timeout)
    if execution is None:
        return _json(start_response, "404 Not Found", {"message": f"no execution {arn}"})
    return _json(start_response, "200 OK", outcome(execution))


def outcome(execution: Any) -> dict:
    """How the execution ended, with DescribeExecution's names (or that it has not yet)."""
    found = status(execution)
    if found not in ENDED:
        return {"status": found, "ended": False}
    return {
        "status": found,
        "ended": True,
        "output": output_json(execution) if found == "SUCCEEDED" else None,
        "error": getattr(execution, "error", None),
        "cause": getattr(execution, "cause", None),
    }


def _json(start_response, status_line: str, body: dict) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status_line, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


__all__ = ["WAIT_EXECUTION_PATH", "answer", "install", "installed", "uninstall", "wait"]
