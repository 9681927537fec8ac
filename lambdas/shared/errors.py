"""Named errors raised by the handlers.

On Lambda the runtime reports a raised exception as {"errorType": <class __name__>,
"errorMessage": str(exc), ...}; Step Functions takes errorType as the state's Error, which
Retry/Catch and alarms match on. So each class name here is part of the contract.
"""

from __future__ import annotations


class WorkflowError(Exception):
    """Base class: every error a handler raises on purpose."""


class InvalidEvent(WorkflowError, ValueError):
    """The event lacks a field or carries one of the wrong type."""


class ImageNotFound(WorkflowError):
    """The S3 object (or its bucket) named by the event does not exist."""

    def __init__(self, bucket: str, key: str, code: str, detail: str):
        super().__init__(f"s3://{bucket}/{key} could not be read: {code} ({detail})")
        self.bucket, self.key, self.code = bucket, key, code


class EndpointInvocationError(WorkflowError):
    """InvokeEndpoint failed for good (ModelError on a bad input, ValidationError, ...) or
    answered something unusable: the same request would fail again, so nothing retries it."""

    def __init__(self, endpoint_name: str, image: str, detail: str, code: str = ""):
        prefix = f"{code}: " if code else ""
        super().__init__(f"endpoint {endpoint_name!r} failed on {image}: {prefix}{detail}")
        self.endpoint_name, self.code = endpoint_name, code


class EndpointTransientError(EndpointInvocationError):
    """InvokeEndpoint failed in a way that passes: the endpoint is loading, restarting, replaced,
    throttled or briefly unreachable (ModelNotReadyException, ServiceUnavailable,
    InternalFailure, throttling, a refused or dropped connection). The state machine retries
    this name with backoff (statemachine/README.md); the same request may well succeed then.
    A subclass, so code that handles every endpoint failure still catches it."""


# The upper-case class name is deliberate: it is the Step Functions Error name the Udacity
# project (and its Catch blocks and alarms) expects, and Lambda reports the class __name__.
class THRESHOLD_CONFIDENCE_NOT_MET(WorkflowError):
    """The top class probability is below the confidence threshold."""

    def __init__(self, confidence: float, label: str, threshold: float):
        super().__init__(
            f"top confidence {_format(confidence, threshold)} ({label}) "
            f"is below the threshold {threshold:g}"
        )
        self.confidence, self.label, self.threshold = confidence, label, threshold


def _format(confidence: float, threshold: float) -> str:
    """4 significant digits, unless rounding would make it look >= the threshold (0.92996 -> 0.93)."""
    short = f"{confidence:.4g}"
    return short if float(short) < threshold else repr(confidence)
