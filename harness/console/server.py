"""Serve the console on 127.0.0.1 in a thread: for `harness console`, the tests and the bench.

werkzeug's threaded server (Flask's own, already installed with moto's server) is enough
for one developer's browser; binding only 127.0.0.1 keeps the console off the network.
"""

from __future__ import annotations

import threading
from typing import Self

from werkzeug.serving import BaseWSGIServer, make_server

from harness.config import Settings
from harness.console.app import create_app
from harness.errors import HarnessError
from harness.stack.readiness import port_in_use

HOST = "127.0.0.1"


class ConsoleServer:
    """The console on HOST:port, started by start() and stopped by stop() (or `with`)."""

    def __init__(self, settings: Settings, port: int | None = None, allow_run: bool | None = None):
        self.port = settings.console_port if port is None else port
        if port_in_use(HOST, self.port):
            raise HarnessError(
                f"Port {self.port} (console) is already in use.",
                "stop the other console, or set HARNESS_CONSOLE_PORT / pass --port",
            )
        self.app = create_app(settings, allow_run)
        self._server: BaseWSGIServer = make_server(HOST, self.port, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
