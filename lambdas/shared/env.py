"""The environment variables the handlers read: names and defaults in one place.

AWS endpoints are deliberately absent: boto3 itself reads AWS_ENDPOINT_URL and
AWS_ENDPOINT_URL_<SERVICE> (e.g. AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME), so the same zip runs
locally and on AWS with only its environment changed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

ENDPOINT_NAME = "ENDPOINT_NAME"
THRESHOLD = "THRESHOLD"
LOG_LEVEL = "LOG_LEVEL"

DEFAULT_ENDPOINT_NAME = "scones-image-classifier"
DEFAULT_THRESHOLD = 0.93


def region(environ: Mapping[str, str] | None = None) -> str | None:
    """Lambda sets AWS_REGION (and AWS_DEFAULT_REGION); botocore itself reads only the latter,
    so clients are given AWS_REGION explicitly. None: botocore's own chain decides."""
    environ = os.environ if environ is None else environ
    return environ.get("AWS_REGION") or None


def endpoint_name(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get(ENDPOINT_NAME) or DEFAULT_ENDPOINT_NAME


def threshold(environ: Mapping[str, str] | None = None) -> float:
    """THRESHOLD as a probability in [0, 1]; a bad value fails loudly rather than passing everything."""
    environ = os.environ if environ is None else environ
    raw = environ.get(THRESHOLD) or str(DEFAULT_THRESHOLD)
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{THRESHOLD}={raw!r} is not a number (expected e.g. 0.93)") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{THRESHOLD}={raw!r} is outside [0, 1]: it is a probability")
    return value


def log_level(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    # AWS_LAMBDA_LOG_LEVEL is what Lambda's advanced logging controls set.
    return (environ.get(LOG_LEVEL) or environ.get("AWS_LAMBDA_LOG_LEVEL") or "INFO").upper()
