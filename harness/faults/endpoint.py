"""Endpoint faults as the model server applies them, with InvokeEndpoint's own error shapes.

On the runtime path (what boto3's sagemaker-runtime calls) each fault answers what SageMaker
answers (docs/contracts.md section 3), so botocore raises the same exception class as on AWS:
ModelNotReadyException 429, ServiceUnavailable 503 (botocore retries it), ModelError 424 with
OriginalStatusCode, OriginalMessage and LogStreamArn. On /invocations (the container contract)
the container itself answers: 503 while the model is "not ready" or the service "unavailable",
the ModelError's original status and text otherwise. `slow` adds latency before the answer.

Standard library only (the model-server image imports it).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

from harness.faults.store import ENDPOINT, Fault, FaultFile, faults_path

log = logging.getLogger("harness.model_server")

# The container must answer within 60 s (docs/contracts.md section 2); `fault endpoint` refuses
# longer delays rather than imitate what SageMaker does past that.
MAX_DELAY_SECONDS = 60.0
DEFAULT_MODEL_ERROR_STATUS = 500


@dataclass(frozen=True)
class Injected:
    """One request's injected failure."""

    fault: Fault
    code: str  # the runtime API's error code
    status: int  # its HTTP status on the runtime path
    container_status: int  # what the container answers on /invocations
    message: str

    def runtime_body(self, model_error) -> dict:
        """The JSON body; `model_error(status, message)` builds a ModelError's (app.py's)."""
        if self.code == "ModelError":
            return model_error(self.container_status, self.message)
        return {"message": self.message}


def injected_error(fault: Fault, endpoint: str, variant: str) -> Injected:
    note = f"(fault {fault.id}, injected by `harness fault`)"
    if fault.kind == "ModelNotReadyException":
        message = f"Model for endpoint {endpoint} variant {variant} is not ready {note}."
        return Injected(
            fault,
            fault.kind,
            HTTPStatus.TOO_MANY_REQUESTS,
            HTTPStatus.SERVICE_UNAVAILABLE,
            message,
        )
    if fault.kind == "ServiceUnavailable":
        message = f"Service is unavailable; try again {note}."
        return Injected(
            fault,
            fault.kind,
            HTTPStatus.SERVICE_UNAVAILABLE,
            HTTPStatus.SERVICE_UNAVAILABLE,
            message,
        )
    status = int(fault.params.get("status", DEFAULT_MODEL_ERROR_STATUS))
    message = f"Injected model failure {note}"
    return Injected(fault, "ModelError", HTTPStatus.FAILED_DEPENDENCY, status, message)


class EndpointFaults:
    """Read per request; `before_invoke` sleeps for `slow` faults and names an error to answer."""

    def __init__(self, state_dir: Path, endpoint: str, variant: str, file: FaultFile | None = None):
        self.file = file or FaultFile(faults_path(state_dir))
        self.endpoint = endpoint
        self.variant = variant

    def before_invoke(self) -> Injected | None:
        faults = self.file.active(ENDPOINT, self.endpoint)
        if not faults:
            return None
        roll = self.file.roll
        hit = [f for f in faults if f.hits(roll)]  # each fault rolls on its own
        delay = sum(float(f.params.get("delay", 0.0)) for f in hit if f.kind == "slow")
        if delay:
            log.info("injected fault: %.3f s of latency", delay)
            time.sleep(min(delay, MAX_DELAY_SECONDS))
        error = next((f for f in hit if f.kind != "slow"), None)
        return None if error is None else injected_error(error, self.endpoint, self.variant)
