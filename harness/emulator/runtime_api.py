"""A small Lambda Runtime API (2018-06-01), one per worker process, for awslambdaric.

The worker GETs `invocation/next`, runs the handler, then POSTs `.../response` or
`.../error`; an init failure is POSTed to `init/error`. One server per worker lets us know
which process holds which invocation (to kill the right one on a timeout).
See docs/contracts.md section 6 for the details that matter (Content-Type, TCP_NODELAY).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

_PREFIX = "/2018-06-01/runtime"


@dataclass
class Invocation:
    """One call of a function: the event in, a payload and an error flag out."""

    event: bytes
    function_arn: str
    timeout: float
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    deadline_ms: int = 0
    payload: bytes = b""
    errored: bool = False
    worker: Any = None
    cancelled: bool = False
    init_ms: float | None = None  # its worker's init, when it was that worker's first

    def __post_init__(self) -> None:
        self.picked = threading.Event()  # a worker took it (or it ended before any did)
        self.done = threading.Event()
        self.started: float | None = None
        self.log_tail: list[str] = []
        self._lock = threading.Lock()

    def finish(self, payload: bytes, errored: bool) -> bool:
        """Record the outcome once; later outcomes (a crash after a timeout) are ignored."""
        with self._lock:
            if self.done.is_set():
                return False
            self.payload, self.errored = payload, errored
            self.done.set()
            self.picked.set()
            return True

    def error(self, error_type: str, message: str) -> bool:
        body = {
            "errorType": error_type,
            "errorMessage": f"RequestId: {self.request_id} Error: {message}",
        }
        return self.finish(json.dumps(body).encode(), True)


class WorkerSide(Protocol):
    """What the Runtime API needs from the worker it serves."""

    def next_invocation(self) -> Invocation | None: ...  # blocks; None = stop polling
    def init_failed(self, body: bytes) -> None: ...
    def complete(self, invocation: Invocation, body: bytes, errored: bool) -> None: ...


def _handler_class(worker: WorkerSide, lookup: Callable[[str], Invocation | None]):
    class RuntimeAPIHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else ~44 ms a warm invoke (Nagle + delayed ACK)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _reply(self, status: int, body: bytes = b"{}", headers: dict | None = None) -> None:
            # one write for status, headers and body: each send on loopback costs a wake-up
            lines = [
                f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
                "Content-Type: application/json",
                f"Content-Length: {len(body)}",
                *(f"{name}: {value}" for name, value in (headers or {}).items()),
            ]
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self) -> None:
            if self.path != f"{_PREFIX}/invocation/next":
                return self._reply(404, b'{"errorType":"NotFound"}')
            invocation = worker.next_invocation()
            if invocation is None:  # the worker is being retired: it gets killed meanwhile
                return self._reply(410, b'{"errorType":"Gone"}')
            self._reply(
                200,
                invocation.event,
                {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                    "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{invocation.request_id.replace('-', '')[:24]};Sampled=0",
                },
            )

        def do_POST(self) -> None:
            body = self._body()
            if self.path == f"{_PREFIX}/init/error":
                worker.init_failed(body)
                return self._reply(202, b'{"status":"OK"}')
            parts = self.path[len(_PREFIX) :].strip("/").split("/")
            if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                invocation = lookup(parts[1])
                if invocation is None:
                    return self._reply(400, b'{"errorType":"InvalidRequestID"}')
                worker.complete(invocation, body, errored=parts[2] == "error")
                return self._reply(202, b'{"status":"OK"}')
            self._reply(404, b'{"errorType":"NotFound"}')

    return RuntimeAPIHandler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a worker killed mid-request (timeout, reload, shutdown) is expected


class RuntimeAPIServer:
    """Serves one worker on 127.0.0.1:<free port> from a daemon thread."""

    def __init__(self, worker: WorkerSide, lookup: Callable[[str], Invocation | None], host: str):
        self._server = _QuietServer((host, 0), _handler_class(worker, lookup))
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="lambda-runtime-api"
        )
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
