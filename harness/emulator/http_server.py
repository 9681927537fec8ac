"""The emulator's request handler: moto's, with HTTP/1.1 keep-alive (a speed-up).

werkzeug's development server answers every request with `Connection: close`: each boto3
call then opened a connection, the server started a thread for it, and after answering it
lingered 10 ms draining the socket. Four of those per execution were ~10 % of the emulator's
CPU and more in the clients (bench/README.md). This handler reads each request's body whole
before the app runs and buffers the answer, so every response carries its Content-Length
and the connection can serve the next request, however much of the body the app read.

One thread per open connection, as before per request: a held request (the execution wait,
a long S3 upload) never starves the others, which a fixed thread pool would risk. A
connection ends after MAX_REQUESTS requests or IDLE_SECONDS idle; `close_connections` ends
them all when the server stops.
"""

from __future__ import annotations

import io
import socket
import threading
import traceback

IDLE_SECONDS = 300  # boto3 reconnects on its own; long enough that it rarely has to
# A connection's thread serving for ever kept memory: over 2,000 executions the emulator grew
# ~21 KB per execution with keep-alive against ~13 KB without (in Python objects, only the
# logs and Data Capture that AWS keeps too). Ending a connection after this many requests,
# as servers commonly do, gave a passing soak (+8.9 % over 4,000 executions, limit 10 %);
# the reconnect costs one connect per hundred calls.
MAX_REQUESTS = 100
_NO_BODY_CODES = {204, 304}


def request_handler():
    """The handler class for werkzeug's `make_server(..., request_handler=)`."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class KeepAliveRequestHandler(MotoRequestHandler):
        disable_nagle_algorithm = True
        timeout = IDLE_SECONDS

        def setup(self) -> None:
            super().setup()
            _open(self.server).add(self.connection)

        def finish(self) -> None:
            _open(self.server).discard(self.connection)
            super().finish()

        def log_request(self, code="-", size="-") -> None:
            pass  # werkzeug formats a line per request even when its logger drops it

        def log_error(self, format: str, *args) -> None:
            if not format.startswith("Request timed out"):  # an idle kept connection ending
                super().log_error(format, *args)

        def run_wsgi(self) -> None:
            if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.environ = environ = self.make_environ()
            try:
                environ["wsgi.input"] = io.BytesIO(_read_body(self.rfile, environ))
            except (OSError, ValueError):
                self.close_connection = True  # a body we could not read leaves the stream unknown
                return
            status, headers, body = _call(self.server.app, environ, self.log_error)
            self._served = getattr(self, "_served", 0) + 1
            if self._served >= MAX_REQUESTS:  # the answer says Connection: close
                self.close_connection = True
            self._send(status, headers, body)

        def _send(self, status: str, headers: list, body: bytes) -> None:
            code, _, reason = status.partition(" ")
            self.send_response(int(code), reason)
            names = set()
            for name, value in headers:
                if name.lower() == "connection":
                    continue  # ours to decide
                self.send_header(name, value)
                names.add(name.lower())
            if "content-length" not in names and not _bodiless(int(code)):
                self.send_header("Content-Length", str(len(body)))
            if self.close_connection:  # the client asked (Connection: close, HTTP/1.0)
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and not _bodiless(int(code)):
                self.wfile.write(body)
            self.wfile.flush()

    return KeepAliveRequestHandler


def close_connections(server) -> None:
    """End every kept connection of a stopped server (their threads then return)."""
    for connection in list(_open(server)):
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already gone


def _open(server) -> set:
    """The server's open connections (set.add, discard and list() are atomic under the GIL)."""
    with _lock:
        return server.__dict__.setdefault("_kept_connections", set())


_lock = threading.Lock()


def _read_body(rfile, environ: dict) -> bytes:
    if environ.get("wsgi.input_terminated"):  # chunked: werkzeug's DechunkedInput ends it
        return environ["wsgi.input"].read()
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = rfile.read(length) if length > 0 else b""
    if len(body) != length:
        raise ValueError("the client closed the connection inside the request body")
    return body


def _call(app, environ: dict, log_error) -> tuple[str, list, bytes]:
    """Run the WSGI app to the end: (status, headers, the whole body)."""
    answer: list = []
    chunks: list[bytes] = []

    def start_response(status, headers, exc_info=None):
        if answer and not exc_info:
            raise AssertionError("start_response called twice without exc_info")
        answer[:] = [status, headers]  # nothing is sent yet, so an error answer may replace it
        return chunks.append

    try:
        iterable = app(environ, start_response)
        try:
            chunks.extend(iterable)
        finally:
            if hasattr(iterable, "close"):
                iterable.close()
        if not answer:
            raise AssertionError("the app returned without calling start_response")
    except Exception:  # noqa: BLE001 - answered as werkzeug does: a 500 and the traceback logged
        log_error(
            "Error on request %s %s:\n%s",
            environ.get("REQUEST_METHOD"),
            environ.get("PATH_INFO"),
            traceback.format_exc(),
        )
        message = b"Internal Server Error"
        return "500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")], message
    return answer[0], answer[1], b"".join(chunks)


def _bodiless(code: int) -> bool:
    return 100 <= code < 200 or code in _NO_BODY_CODES
