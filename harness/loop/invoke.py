"""`harness invoke FUNCTION [--event FILE|-]`: one deployed function, one event, as
`sam local invoke` does: the payload, the function error and the tail of its log."""

from __future__ import annotations

import base64
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from harness import clients
from harness.config import Settings
from harness.deploy.workflow import FUNCTIONS
from harness.errors import HarnessError


@dataclass(frozen=True)
class Invocation:
    function: str
    payload: Any  # the decoded JSON answer, or the raw text when it is not JSON
    function_error: str | None  # "Unhandled" when the handler raised, as Lambda says
    log_tail: str  # the last 4 KB of the invocation's log (LogType=Tail)

    @property
    def error_type(self) -> str | None:
        return (
            self.payload.get("errorType")
            if self.function_error and isinstance(self.payload, dict)
            else None
        )


def known_functions(settings: Settings) -> list[str]:
    return [settings.function_name(spec.folder) for spec in FUNCTIONS]


def match_function(settings: Settings, name: str, known: list[str]) -> str | None:
    """The one of `known` that `name` means: itself, or its lambdas/ folder (- or _)."""
    for candidate in (
        name,
        settings.function_name(name),
        settings.function_name(name.replace("-", "_")),
    ):
        if candidate in known:
            return candidate
    return None


def function_name(settings: Settings, name: str) -> str:
    """The deployed name of one of the workflow's functions, given it or its lambdas/ folder."""
    known = known_functions(settings)
    found = match_function(settings, name, known)
    if found is not None:
        return found
    raise HarnessError(
        f"{name!r} is not one of the workflow's functions.", f"use one of: {', '.join(known)}"
    )


def read_event(source: str | None, settings: Settings, first_key: str) -> dict[str, Any]:
    """The event from a JSON file, stdin ("-"), or by default the workflow's own input for the
    first test image (what the serialize step receives)."""
    if source is None:
        return {"s3_bucket": settings.bucket, "s3_key": first_key}
    if source == "-":
        text, where = sys.stdin.read(), "stdin"
    else:
        path = Path(source)
        if not path.is_file():
            raise HarnessError(
                f"No such event file: {path}.", "give a JSON file, or - to read stdin"
            )
        text, where = path.read_text(), str(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise HarnessError(
            f"The event in {where} is not JSON ({exc}).", "an event is one JSON document"
        ) from exc


def invoke(settings: Settings, name: str, event: Any, client=None) -> Invocation:
    function = function_name(settings, name)
    lam = client or clients.client(settings, "lambda", read_timeout=960)  # Lambda's 15 min limit
    try:
        response = lam.invoke(
            FunctionName=function, Payload=json.dumps(event).encode(), LogType="Tail"
        )
    except ClientError as exc:
        error = exc.response["Error"]
        if error.get("Code") == "ResourceNotFoundException":
            raise HarnessError(
                f"{function} is not deployed on the {settings.target} target.",
                "run `make local-up` (or `make deploy-aws` for AWS) first",
            ) from exc
        raise HarnessError(
            f"Invoke {function} failed: {error.get('Code')}: {error.get('Message')}"
        ) from exc
    raw = response["Payload"].read().decode("utf-8", "replace")
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError:
        payload = raw
    tail = base64.b64decode(response.get("LogResult") or b"").decode("utf-8", "replace")
    return Invocation(function, payload, response.get("FunctionError"), tail)
