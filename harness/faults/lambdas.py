"""Function faults as the embedded emulator's Lambda pools apply them (FunctionPool.invoke).

What each kind does, and what Step Functions then sees (its Lambda task names a failed Invoke
call `Lambda.<code>` and a function error by the payload's errorType):

- `error NAME` with NAME one of Invoke's own errors in botocore's model (ServiceException 500,
  TooManyRequestsException 429, ResourceNotReadyException 502, ...) or AWSLambdaException /
  SdkClientException (the Java SDK names Step Functions' Retry lists): a service error. The
  Invoke call fails with that code and HTTP status before any worker runs, so the state
  machine sees `Lambda.NAME` and the console's Retry (Lambda.ServiceException, ...) fires.
- `error NAME`, any other NAME: a function error, as if the handler raised NAME. The handler
  does not run; Invoke answers 200, FunctionError Unhandled, {"errorType": NAME, ...}.
- `timeout`: the handler does not run; the call ends after the function's Timeout with what a
  real timeout gives (errorType Sandbox.Timedout, "Task timed out after N.00 seconds").
- `crash`: a real worker takes the call and is killed with SIGKILL at once. Its answer, should
  it get one out first, is refused, so the pool reports the crash as for any worker that dies
  mid-invocation: Runtime.ExitError, "Runtime exited with error: signal: killed".
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from pathlib import Path
from typing import Any

from harness.faults.store import LAMBDA, Fault, FaultFile, faults_path

# Step Functions' Retry lists these two besides Invoke's own errors: the Java SDK's names for
# an unrecognised service error and for a call that got no answer.
_SDK_NAMES = {"AWSLambdaException": 500, "SdkClientException": 500}
_files: dict[Path, FaultFile] = {}


@functools.cache
def service_errors() -> dict[str, int]:
    """Lambda's Invoke errors -> HTTP status, from botocore's service model."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("lambda")
    errors = model.operation_model("Invoke").error_shapes
    found = {e.name: int(e.metadata.get("error", {}).get("httpStatusCode", 500)) for e in errors}
    return {**found, **_SDK_NAMES}


def pick(state_dir: Path, function_name: str) -> Fault | None:
    """The fault this invocation meets, if any (each active fault rolls its rate in turn)."""
    path = faults_path(state_dir)
    file = _files.get(path) or _files.setdefault(path, FaultFile(path))
    return next((f for f in file.active(LAMBDA, function_name) if f.hits(file.roll)), None)


def answer(fault: Fault, function: Any) -> tuple[str, bool, str]:
    """(payload, errored, log tail) for an invocation no worker runs; raises a service error."""
    name = fault.params.get("error", "")
    if fault.kind == "error" and fault.params.get("service"):
        raise _service_error(name, int(fault.params.get("status", 500)), fault)
    request_id = str(uuid.uuid4())
    started = time.monotonic()
    if fault.kind == "timeout":
        time.sleep(float(function.timeout))  # a hung handler holds the call this long
        payload = {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
            f"{float(function.timeout):.2f} seconds",
        }
        line = f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {request_id} " + (
            f"Task timed out after {float(function.timeout):.2f} seconds"
        )
    else:
        message = f"injected by `harness fault` (fault {fault.id})"
        payload = {
            "errorType": name,
            "errorMessage": message,
            "requestId": request_id,
            "stackTrace": [],
        }
        line = f"[ERROR] {name}: {message}"
    return json.dumps(payload), True, "\n".join(_log(function, request_id, line, started))


def _log(function: Any, request_id: str, line: str, started: float) -> list[str]:
    """START, the line, END, REPORT in a log stream of the function's, as Lambda writes them."""
    from harness.emulator.logs import WorkerLogStream

    stream = WorkerLogStream(function)
    duration = (time.monotonic() - started) * 1000
    return [
        stream.start(request_id, str(function.version)),
        stream.write(line),
        *stream.end(request_id, duration, int(function.memory_size), None),
    ]


def _service_error(name: str, status: int, fault: Fault) -> Exception:
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError(name, f"Injected service error (fault {fault.id}, `harness fault`).")
    error.code = status  # moto's server answers with it; sfn_lambda.py passes it on
    return error


def crash_when_picked(invocation: Any, timeout: float) -> None:
    """SIGKILL the worker that takes `invocation` (unless none does, or it already ended)."""
    picked = invocation.picked.wait(timeout)
    if picked and invocation.worker is not None and not invocation.done.is_set():
        invocation.worker.kill()
