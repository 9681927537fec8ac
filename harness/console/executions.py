"""What the execution pages show, read through harness.executions (Step Functions API only).

Terminal executions never change, so their summaries, records and graphs are cached in
memory: with 1,000 executions in the stack a list page costs one ListExecutions call
plus a DescribeExecution for each execution not seen finished before (the budget is
300 ms for the list and 200 ms for one execution: docs/console.md).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import matplotlib
from PIL import Image, UnidentifiedImageError

from harness.executions.api import (
    ExecutionRecord,
    ExecutionSummary,
    _call,
    describe_execution,
    load_execution,
    state_machine_arn,
)
from harness.executions.graph import COLOURS, draw
from harness.executions.history import (
    StateRow,
    as_datetime,
    cause_text,
    event_details,
    state_outcomes,
    summarize,
)

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
PAGE_SIZE = 25
THUMB_PX = 96  # thumbnails stand in for base64 image data in the Table view
_DRAW_LOCK = threading.Lock()


class _Lru(OrderedDict):
    """A small least-recently-used map (thread-safe enough under the caller's lock)."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def put(self, key, value):
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


@dataclass
class Page:
    machine: str
    machine_arn: str
    items: list[ExecutionSummary]
    next_token: str | None
    status: str | None


@dataclass
class TableRow:
    """One state entry of the Table view, with thumbnails where its JSON held an image."""

    row: StateRow
    colour: str
    input_thumb: str | None = None  # data: URI
    output_thumb: str | None = None
    cause: str | None = None


@dataclass
class ExecutionView:
    record: ExecutionRecord
    svg: str
    table: list[TableRow]
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.record.summary.status in TERMINAL


class ExecutionsReader:
    """The console's one reader of Step Functions, with caches for what cannot change."""

    def __init__(self, sfn: Any):
        self.sfn = sfn
        self._lock = threading.Lock()
        self._summaries: dict[str, ExecutionSummary] = {}  # terminal only: small objects
        self._views: _Lru = _Lru(64)
        self._svgs: _Lru = _Lru(64)  # (definition, outcomes) -> SVG text
        self._machines: dict[str, str] = {}
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="console-describe")

    def machine_arn(self, name: str) -> str:
        if name not in self._machines:
            self._machines[name] = state_machine_arn(self.sfn, name)
        return self._machines[name]

    def state_machines(self) -> list[dict[str, Any]]:
        pages = self.sfn.get_paginator("list_state_machines").paginate()
        return [
            m for page in _call("ListStateMachines", list, pages) for m in page["stateMachines"]
        ]

    def page(self, machine: str, status: str | None = None, token: str | None = None) -> Page:
        """One page of executions, newest first (ListExecutions' own order, as on AWS)."""
        arn = self.machine_arn(machine)
        kwargs: dict[str, Any] = {"stateMachineArn": arn, "maxResults": PAGE_SIZE}
        if status:
            kwargs["statusFilter"] = status
        if token:
            kwargs["nextToken"] = token
        listed = _call("ListExecutions", self.sfn.list_executions, **kwargs)
        items = list(
            self._pool.map(self.summary, [e["executionArn"] for e in listed["executions"]])
        )
        return Page(machine, arn, items, listed.get("nextToken"), status)

    def summary(self, arn: str) -> ExecutionSummary:
        cached = self._summaries.get(arn)
        if cached is not None:
            return cached
        summary = describe_execution(self.sfn, arn)
        if summary.status in TERMINAL:
            self._summaries[arn] = summary
        return summary

    def view(self, arn: str) -> ExecutionView:
        with self._lock:
            cached = self._views.get(arn)
        if cached is not None:
            return cached
        record = load_execution(self.sfn, arn, self.summary(arn))
        by_id = {event["id"]: event for event in record.events}
        table = [_table_row(row, by_id) for row in record.rows]
        view = ExecutionView(record, self.graph(record), table, _event_rows(record.events))
        if view.finished:
            with self._lock:
                self._views.put(arn, view)
        return view

    def graph(self, record: ExecutionRecord) -> str:
        """The Graph view as inline SVG; the same definition and outcomes draw the same picture."""
        outcomes = state_outcomes(record.rows)
        key = (
            json.dumps(record.definition, sort_keys=True),
            tuple(sorted((name, o.status, o.retries) for name, o in outcomes.items())),
        )
        with self._lock:
            svg = self._svgs.get(key)
        if svg is None:
            with _DRAW_LOCK:  # rc_context changes matplotlib's global settings
                svg = _draw_svg(record.definition, outcomes)
            with self._lock:
                self._svgs.put(key, svg)
        return svg


def _draw_svg(definition: dict[str, Any], outcomes: dict) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "scones"}):
        draw(definition, outcomes).savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: no XML prolog or doctype


def _table_row(row: StateRow, by_id: dict[int, dict[str, Any]]) -> TableRow:
    raw_in = raw_out = None
    for event_id in row.event_ids:
        event = by_id.get(event_id, {})
        if event.get("type", "").endswith("StateEntered"):
            raw_in = event_details(event).get("input")
        elif event.get("type", "").endswith("StateExited"):
            raw_out = event_details(event).get("output")
    return TableRow(
        row,
        COLOURS.get(row.status, "#ffffff"),
        thumbnail(raw_in),
        thumbnail(raw_out),
        cause_text(row.cause),
    )


def thumbnail(text: str | None) -> str | None:
    """A data: URI of a small PNG of the `image_data` in a state's JSON, if it holds one."""
    try:
        value = json.loads(text or "")
    except ValueError:
        return None
    data = value.get("image_data") if isinstance(value, dict) else None
    if not isinstance(data, str) or not data:
        return None
    try:
        with Image.open(io.BytesIO(base64.b64decode(data, validate=True))) as image:
            image = image.convert("RGB")
            scale = THUMB_PX / max(image.size)
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            # NEAREST keeps a 32x32 CIFAR image's pixels visible instead of a blur
            small = image.resize(size, Image.Resampling.NEAREST)
    except (binascii.Error, ValueError, UnidentifiedImageError, OSError):
        return None
    out = io.BytesIO()
    small.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _event_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The event history as the console shows it: id, type, time, elapsed, details."""
    if not events:
        return []
    ordered = sorted(events, key=lambda event: event["id"])
    first = as_datetime(ordered[0]["timestamp"])
    rows = []
    for event in ordered:
        when = as_datetime(event["timestamp"])
        details = dict(event_details(event))
        if details.get("cause"):  # a Lambda's JSON error document: its message
            details["cause"] = cause_text(details["cause"])
        for key, value in details.items():  # input, output, parameters: JSON text
            if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
                details[key] = summarize(value, 400)  # base64 images elided
        for key in ("inputDetails", "outputDetails"):
            details.pop(key, None)
        rows.append(
            {
                "id": event["id"],
                "type": event["type"],
                "time": when,
                "elapsed_ms": (when - first).total_seconds() * 1000,
                "failed": "Failed" in event["type"] or "TimedOut" in event["type"],
                # key: value pairs, each value as text (the JSON payloads already summarized)
                "details": [(key, _text(value)) for key, value in details.items()],
            }
        )
    return rows


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)
