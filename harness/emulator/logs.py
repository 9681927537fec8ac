"""CloudWatch Logs for workers: one stream per worker in /aws/lambda/<name>, as Lambda does.

Writes go straight into moto's logs backend (same process as the server), so they cost a
list append, not an HTTP call. Lines Lambda itself writes (START/END/REPORT) come from here too.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any


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
