"""CloudWatch Logs for workers: one stream per worker in /aws/lambda/<name>, as Lambda does.

Writes go straight into moto's logs backend (same process as the server), so they cost a
list append, not an HTTP call. Lines Lambda itself writes (START/END/REPORT) come from here too.

Retention: each log group keeps its newest HARNESS_LOG_EVENTS_KEPT events; older ones go, as
a retention policy drops them on AWS (by age there). Lambda writes about four events an
invocation, so without a bound a long session grew by ~5 KB an execution for ever (bench/
soak.py). A dropped event is freed only because moto's model tracker keeps no LogEvent
(moto_trackers.py).
"""

from __future__ import annotations

import bisect
import heapq
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any


def install(max_events: int) -> None:
    """Bound each group to `max_events`."""
    retention.max_events = max_events


def uninstall() -> None:
    retention.max_events = 0


def problems() -> list[str]:
    """What this module reads of moto's logs models, tried on a backend of its own."""
    from moto.logs.models import LogsBackend

    found = []
    try:
        backend = LogsBackend("us-east-1", "123456789012")
        backend.ensure_log_group("g")
        backend.create_log_stream("g", "s")
        now = int(time.time() * 1000)
        backend.put_log_events("g", "s", [{"timestamp": now, "message": "m"}])
        stream = backend.groups["g"].streams["s"]
        (event,) = stream.events
        if (event.timestamp, event.message, stream.stored_bytes) != (now, "m", 1):
            found.append("LogStream.events / LogEvent / stored_bytes changed")
    except Exception as exc:  # noqa: BLE001 - any failure means moto's layout moved
        found.append(f"LogsBackend.groups[...].streams[...].events moved: {exc!r}")
    return found


class Retention:
    """Keeps each log group to its newest `max_events` events (0: all). Counted per group as
    events arrive; trimmed once a tenth of the bound has come in since the last check, down
    to nine tenths of it, so a trim (~1 ms at 5,000 events) is rare."""

    def __init__(self, max_events: int = 0):
        self.max_events = max_events
        self._since_check: dict[tuple[int, str], int] = {}
        self._lock = threading.Lock()

    def wrote(self, backend: Any, group: str, count: int = 1) -> None:
        if self.max_events <= 0:
            return
        key = (id(backend), group)
        with self._lock:
            since = self._since_check.get(key, 0) + count
            due = since >= max(1, self.max_events // 10)
            self._since_check[key] = 0 if due else since
        if due:
            self.trim(backend, group)

    def trim(self, backend: Any, group: str) -> int:
        """Drop the group's oldest events beyond its bound; how many went."""
        log_group = backend.groups.get(group)
        if log_group is None:
            return 0
        streams = [stream for stream in list(log_group.streams.values()) if stream.events]
        total = sum(len(stream.events) for stream in streams)
        if total <= self.max_events:
            return 0
        excess = total - self.max_events * 9 // 10
        stamps = (event.timestamp for stream in streams for event in stream.events)
        cutoff = heapq.nsmallest(excess, stamps)[-1]
        dropped = 0
        for stream in streams:
            # a stream's events are in time order; moto appends with `+=` and this deletes a
            # prefix, each one list operation under the GIL, so writers need not wait
            end = bisect.bisect_right(stream.events, cutoff, key=lambda event: event.timestamp)
            if end:
                gone = stream.events[:end]
                del stream.events[:end]
                stream.stored_bytes -= sum(len(event.message) for event in gone)
                dropped += end
        return dropped


# the emulator's one policy (moto's backends are process-wide too); server.py sets the bound
retention = Retention()


class WorkerLogStream:
    def __init__(self, function: Any):
        self._backend = function.logs_backend
        self.group = function.logs_group_name
        now = datetime.now(UTC)
        self.name = f"{now:%Y/%m/%d}/[{function.version}]{uuid.uuid4().hex}"
        self._lock = threading.Lock()
        try:
            self._backend.ensure_log_group(self.group)
            self._backend.create_log_stream(self.group, self.name)
            self._ok = True
        except Exception:  # noqa: BLE001 - a reset raced us; logging must never break an invoke
            self._ok = False

    def write(self, message: str) -> str:
        if not self._ok:
            return message
        with self._lock:  # moto's stream is not thread-safe, and events must stay in order
            try:
                self._backend.put_log_events(
                    self.group,
                    self.name,
                    [{"timestamp": int(time.time() * 1000), "message": message}],
                )
            except Exception:  # noqa: BLE001 - the group went away (reset)
                self._ok = False
                return message
        retention.wrote(self._backend, self.group)
        return message

    def start(self, request_id: str, version: str) -> str:
        return self.write(f"START RequestId: {request_id} Version: {version}")

    def end(
        self, request_id: str, duration_ms: float, memory_mb: int, init_ms: float | None
    ) -> list[str]:
        init = f"\tInit Duration: {init_ms:.2f} ms" if init_ms is not None else ""
        return [
            self.write(f"END RequestId: {request_id}"),
            self.write(
                f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
                f"Billed Duration: {max(1, int(duration_ms + 0.999))} ms\t"
                f"Memory Size: {memory_mb} MB{init}"
            ),
        ]
