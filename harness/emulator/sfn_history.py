"""GetExecutionHistory pages and orders its events as AWS does; moto 5.2.5 answers every
event, oldest first, whatever the request asks (`StepFunctionResponse.get_execution_history`
reads only the ARN).

AWS (API reference, GetExecutionHistory): `reverseOrder` lists the newest first; at most
`maxResults` events come back (1 to 1,000; 0 or none: 100), with a `nextToken` when more
remain; the token is good for the same call only, anything else fails with `InvalidToken`.
So `reverseOrder=True, maxResults=1` (the last event: how a caller reads a failure's cause,
harness.executions.api._last_error too) answered the first event instead, and a
`maxResults` page never ended early. `includeExecutionData: false` ("whether execution data
(input or output of a history event) is returned") now leaves each event's `input` and
`output` out.
"""

from __future__ import annotations

import base64
import inspect
import json
import threading
from typing import Any

DEFAULT_PAGE = 100
MAX_PAGE = 1000

_installed: dict[str, Any] = {}
_lock = threading.Lock()


def without_data(events: list) -> list:
    """The events without the execution data in their details (`input`, `output`)."""
    out = []
    for event in events:
        event = dict(event)
        for key, details in event.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                event[key] = {k: v for k, v in details.items() if k not in ("input", "output")}
        out.append(event)
    return out


def page(events: list, arn: str, reverse: bool, size: int | None, token: str | None) -> dict:
    """{"events": ..., "nextToken"?: ...} of one GetExecutionHistory call; ValueError(field,
    message) for a request AWS refuses."""
    if size is not None and not 0 <= size <= MAX_PAGE:
        raise ValueError(
            "maxResults",
            f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value less than or equal to {MAX_PAGE}",
        )
    size = size or DEFAULT_PAGE
    start = _start(token, arn, reverse) if token else 0
    ordered = list(reversed(events)) if reverse else list(events)
    answer: dict = {"events": ordered[start : start + size]}
    if start + size < len(ordered):
        answer["nextToken"] = _token(arn, reverse, start + size)
    return answer


def _token(arn: str, reverse: bool, start: int) -> str:
    text = json.dumps({"arn": arn, "reverse": reverse, "start": start})
    return base64.urlsafe_b64encode(text.encode()).decode()


def _start(token: str, arn: str, reverse: bool) -> int:
    try:
        fields = json.loads(base64.urlsafe_b64decode(token.encode()))
        start = fields["start"]
        same_call = fields["arn"] == arn and fields["reverse"] == reverse
    except (ValueError, TypeError, KeyError):
        raise ValueError("nextToken", "Invalid token") from None
    if not same_call or not isinstance(start, int) or start < 0:
        raise ValueError("nextToken", "Invalid token")
    return start


def _paged(original):
    def get_execution_history(self):
        from moto.stepfunctions.exceptions import InvalidToken, ValidationException

        result = original(self)
        body = getattr(result, "result", None)
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            return result
        try:
            answer = page(
                body["events"],
                self._get_param("executionArn"),
                bool(self._get_param("reverseOrder")),
                self._get_param("maxResults"),
                self._get_param("nextToken"),
            )
        except ValueError as exc:
            field, message = exc.args
            raise (
                InvalidToken() if field == "nextToken" else ValidationException(message)
            ) from None
        if self._get_param("includeExecutionData") is False:
            answer["events"] = without_data(answer["events"])
        return type(result)({**body, **answer})

    return get_execution_history


def problems() -> list[str]:
    """What moto moved under this fix, or fixed itself (empty: nothing)."""
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    original = _installed.get("get_execution_history", StepFunctionResponse.get_execution_history)
    found = []
    if list(inspect.signature(original).parameters) != ["self"]:
        found.append("StepFunctionResponse.get_execution_history(self) changed")
    elif "reverseOrder" in inspect.getsource(original) or "maxResults" in inspect.getsource(
        original
    ):
        found.append(
            "StepFunctionResponse.get_execution_history reads reverseOrder or maxResults now: "
            "drop sfn_history.py if moto pages the history itself"
        )
    if not isinstance(getattr(ActionResult, "result", None), property):
        found.append("moto.core.responses.ActionResult.result is gone")
    return found


def install() -> None:
    from moto.stepfunctions.responses import StepFunctionResponse

    with _lock:
        if "get_execution_history" not in _installed:
            original = StepFunctionResponse.get_execution_history
            _installed["get_execution_history"] = original
            StepFunctionResponse.get_execution_history = _paged(original)


def uninstall() -> None:
    from moto.stepfunctions.responses import StepFunctionResponse

    with _lock:
        original = _installed.pop("get_execution_history", None)
        if original is not None:
            StepFunctionResponse.get_execution_history = original
