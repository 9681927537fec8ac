"""GetExecutionHistory events -> one row per state entry: the console's Table view.

Events are read as the API returns them (botocore dicts, or the same JSON saved to a
file), so AWS, the local stack and moto all go through this one parser. A state entry
starts at `<Type>StateEntered` and ends at `<Type>StateExited`; the events in between
(TaskScheduled, LambdaFunctionFailed, ...) belong to it. Retries are the extra
Scheduled events of one entry; a failure followed by an exit is a caught error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

SUCCEEDED, FAILED, CAUGHT, RUNNING, NOT_REACHED = (
    "succeeded",
    "failed",
    "caught",
    "running",
    "not reached",
)

# One attempt at the work of a Task state starts with one of these.
_SCHEDULED = {"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"}
_ATTEMPT_FAILED = {
    "TaskFailed",
    "TaskTimedOut",
    "TaskStartFailed",
    "TaskSubmitFailed",
    "LambdaFunctionFailed",
    "LambdaFunctionTimedOut",
    "LambdaFunctionStartFailed",
    "LambdaFunctionScheduleFailed",
    "ActivityFailed",
    "ActivityTimedOut",
    "ActivityScheduleFailed",
    "MapStateFailed",
    "ParallelStateFailed",
}
_ATTEMPT_SUCCEEDED = {
    "TaskSucceeded",
    "LambdaFunctionSucceeded",
    "ActivitySucceeded",
    "MapStateSucceeded",
    "ParallelStateSucceeded",
}
_EXECUTION_ENDED_BADLY = {"ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}
_EXECUTION_ENDED = _EXECUTION_ENDED_BADLY | {"ExecutionSucceeded"}

_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]+$")
_LONG_BASE64 = 512  # base64 strings this long are image bytes, whatever their key
_MARKER = re.compile(r"^<base64, \d+ chars>$")


@dataclass
class StateRow:
    """One entry into one state, as the console's Table view shows it."""

    name: str
    type: str
    status: str
    start: datetime
    duration_s: float | None
    attempts: int  # Scheduled events in this entry (0 for states that run no task)
    retries: int  # attempts - 1, never negative
    input: str | None  # JSON text with image data elided
    output: str | None
    error: str | None = None
    cause: str | None = None
    event_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["start"] = self.start.isoformat()
        return out


@dataclass
class _Entry:
    name: str
    type: str
    start: datetime
    input: str | None
    end: datetime | None = None
    output: str | None = None
    exited: bool = False
    attempts: int = 0
    last_attempt_failed: bool = False
    error: str | None = None
    cause: str | None = None
    ended_by_execution: str | None = None  # ExecutionFailed/... while this entry was open
    event_ids: list[int] = field(default_factory=list)


def event_details(event: dict[str, Any]) -> dict[str, Any]:
    """The `<eventType>EventDetails` member of an event (e.g. taskFailedEventDetails)."""
    kind = event["type"]
    if kind.endswith("StateEntered"):
        return event.get("stateEnteredEventDetails") or {}
    if kind.endswith("StateExited"):
        return event.get("stateExitedEventDetails") or {}
    return event.get(kind[0].lower() + kind[1:] + "EventDetails") or {}


def as_datetime(value: Any) -> datetime:
    """Timestamps come as datetimes (boto3), ISO strings (saved JSON) or epoch seconds (raw API)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def elide_images(value: Any) -> Any:
    """The value with base64 image bytes replaced by a short marker (the `image_data` field)."""
    if isinstance(value, dict):
        return {
            key: _elided(item)
            if key == "image_data" and isinstance(item, str)
            else elide_images(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [elide_images(item) for item in value]
    if isinstance(value, str) and len(value) >= _LONG_BASE64 and _BASE64.match(value):
        return _elided(value)
    return value


def _elided(text: str) -> str:
    if not text or _MARKER.match(text):  # empty, or elided already
        return text
    return f"<base64, {len(text)} chars>"


def summarize(text: str | None, limit: int | None = None) -> str | None:
    """A JSON payload as compact text, images elided, cut to `limit` characters if given."""
    if text is None:
        return None
    try:
        out = json.dumps(elide_images(json.loads(text)), separators=(",", ":"))
    except (TypeError, ValueError):
        out = text
    return shorten(out, limit)


def shorten(text: str | None, limit: int | None) -> str | None:
    """The text cut to `limit` characters, an ellipsis marking the cut."""
    if text is None or limit is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def cause_text(cause: str | None) -> str | None:
    """A Lambda error's cause is JSON ({"errorMessage", "errorType", "stackTrace"}): show the message."""
    if not cause:
        return cause
    try:
        value = json.loads(cause)
    except ValueError:
        return cause
    return value.get("errorMessage", cause) if isinstance(value, dict) else cause


def state_rows(events: Iterable[dict[str, Any]]) -> list[StateRow]:
    """One StateRow per state entry, in the order the states were entered."""
    events = sorted(events, key=lambda ev: ev["id"])
    execution_ended = next((ev["type"] for ev in events if ev["type"] in _EXECUTION_ENDED), None)
    entries: list[_Entry] = []
    owner: dict[int, _Entry] = {}  # event id -> the entry it belongs to
    open_entries: list[_Entry] = []

    for ev in events:
        kind, details = ev["type"], event_details(ev)
        when = as_datetime(ev["timestamp"])
        if kind.endswith("StateEntered"):
            entry = _Entry(
                details.get("name", "?"), kind[: -len("StateEntered")], when, details.get("input")
            )
            entries.append(entry)
            open_entries.append(entry)
            owner[ev["id"]] = entry
            entry.event_ids.append(ev["id"])
            continue
        # Follow previousEventId (right for Parallel branches); emulators that leave it 0
        # fall back to the latest open entry, which is right for a sequential workflow.
        entry = owner.get(ev.get("previousEventId", 0))
        if entry is None or entry.exited:
            entry = open_entries[-1] if open_entries else None
        if entry is None:
            continue
        owner[ev["id"]] = entry
        entry.event_ids.append(ev["id"])
        entry.end = when
        if kind in _SCHEDULED:
            entry.attempts += 1
        elif kind in _ATTEMPT_FAILED:
            entry.last_attempt_failed = True
            entry.error, entry.cause = details.get("error"), details.get("cause")
        elif kind in _ATTEMPT_SUCCEEDED:
            entry.last_attempt_failed = False
        elif kind.endswith("StateExited"):
            entry.exited = True
            entry.output = details.get("output")
            open_entries.remove(entry)
        elif kind in _EXECUTION_ENDED_BADLY:
            for still_open in open_entries:
                still_open.ended_by_execution = kind
                still_open.end = when
                if still_open.error is None:  # a Fail state's error is the execution's
                    still_open.error, still_open.cause = details.get("error"), details.get("cause")

    rows = []
    for index, entry in enumerate(entries):
        entered_later = index + 1 < len(entries)
        status = _status(entry, entered_later, execution_ended)
        duration = (
            (entry.end - entry.start).total_seconds() if entry.end and status != RUNNING else None
        )
        failed = status in (FAILED, CAUGHT)
        rows.append(
            StateRow(
                name=entry.name,
                type=entry.type,
                status=status,
                start=entry.start,
                duration_s=duration,
                attempts=entry.attempts,
                retries=max(entry.attempts - 1, 0),
                input=summarize(entry.input),
                output=summarize(entry.output),
                error=entry.error if failed else None,
                cause=entry.cause if failed else None,
                event_ids=entry.event_ids,
            )
        )
    return rows


def _status(entry: _Entry, entered_later: bool, execution_ended: str | None) -> str:
    if entry.exited or (entered_later and not entry.ended_by_execution):
        return CAUGHT if entry.last_attempt_failed else SUCCEEDED
    if entry.ended_by_execution or execution_ended in _EXECUTION_ENDED_BADLY:
        return FAILED
    if execution_ended == "ExecutionSucceeded":
        return SUCCEEDED
    return RUNNING


@dataclass(frozen=True)
class Outcome:
    """What happened to one state of the definition in one execution: the graph's colour."""

    status: str
    retries: int


def state_outcomes(rows: Iterable[StateRow]) -> dict[str, Outcome]:
    """State name -> its last entry's status and the retries of all its entries."""
    outcomes: dict[str, Outcome] = {}
    for row in rows:
        before = outcomes.get(row.name)
        outcomes[row.name] = Outcome(row.status, row.retries + (before.retries if before else 0))
    return outcomes
