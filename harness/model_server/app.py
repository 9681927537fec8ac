"""HTTP routing only: the container contract and the InvokeEndpoint mirror on one port.

  GET  /ping                                  200 once the model is loaded, else 503
  POST /invocations                           the container contract (what SageMaker calls)
  POST /endpoints/{EndpointName}/invocations  the runtime API as boto3's sagemaker-runtime calls it

On /invocations the container's own errors come back as they are (status + plain-text message).
On the runtime path they come back as botocore parses AWS's: ModelError (424) wrapping what the
container said, ValidationError (400) for what the front end refuses. Data Capture happens on the
runtime path only, as on AWS, where SageMaker's front end captures and the container never does.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from harness.config import Settings
from harness.faults.endpoint import EndpointFaults
from harness.model_server.capture import DataCapture
from harness.model_server.errors import (
    InvocationError,
    ModelNotLoaded,
    RuntimeRefusal,
    as_invocation_error,
    validation_error,
)
from harness.model_server.inference import Model, transform

log = logging.getLogger("harness.model_server")

MAX_BODY_BYTES = 6_291_456  # 6 MB, request and response (docs/contracts.md section 2)
_DRAIN_LIMIT = 64 * 1024 * 1024  # past this, answer and drop the connection instead of reading on
MAX_CUSTOM_ATTRIBUTES = 1024
MAX_INFERENCE_ID = 64
ACCOUNT = "000000000000"  # what the local stack's ARNs use
_RUNTIME_PREFIX, _RUNTIME_SUFFIX = "/endpoints/", "/invocations"


class ModelServerApp:
    """What the routes need: the loaded model, Data Capture, and the endpoint's names."""

    def __init__(
        self, settings: Settings, model: Model | None = None, capture: DataCapture | None = None
    ):
        self.settings = settings
        self.model = model
        self.capture = capture
        group = f"/aws/sagemaker/Endpoints/{settings.endpoint_name}"
        self.log_group = group
        # `harness fault endpoint`: faults.json in the state folder, read per request
        self.faults = EndpointFaults(
            settings.state_dir, settings.endpoint_name, settings.variant_name
        )
        self.log_stream_arn = (
            f"arn:aws:logs:{settings.region}:{ACCOUNT}:log-group:{group}:log-stream:"
            f"{settings.variant_name}/local"
        )

    @property
    def ready(self) -> bool:
        return self.model is not None

    def invoke(
        self, body: bytes, content_type: str | None, accept: str | None
    ) -> tuple[bytes, str]:
        """The container's answer; raises InvocationError (with its status) for anything else."""
        if self.model is None:
            raise ModelNotLoaded("The model is still loading; retry when GET /ping answers 200.")
        try:
            return transform(body, content_type, accept, self.model)
        except InvocationError:
            raise
        except Exception as exc:
            log.exception("inference failed")
            raise as_invocation_error(exc) from exc

    def model_error(self, err: InvocationError) -> dict:
        """AWS's ModelError body for a container error (the fields botocore exposes)."""
        side = "client" if err.status < 500 else "server"
        region = self.settings.region
        return {
            "ErrorCode": f"{side.upper()}_ERROR_FROM_MODEL",
            "LogStreamArn": self.log_stream_arn,
            "OriginalMessage": err.message,
            "OriginalStatusCode": int(err.status),
            "message": (
                f'Received {side} error ({int(err.status)}) from primary with message "{err.message}". '
                f"See https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
                f"#logEventViewer:group={self.log_group} in account {ACCOUNT} for more information "
                "(locally: the model server's log)."
            ),
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: boto3 reuses its connections
    # without TCP_NODELAY each small answer waits ~40 ms (docs/contracts.md section 6)
    disable_nagle_algorithm = True
    server_version = "scones-model-server"
    timeout = 300  # an idle keep-alive connection (and its thread) is let go after 5 minutes
    server: ModelHTTPServer

    # --- plumbing ---
    def log_message(self, format: str, *args) -> None:
        if log.isEnabledFor(logging.DEBUG):  # called for every answer: skip the formatting
            log.debug("%s " + format, self.address_string(), *args)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        # headers and body in one write: one packet for a small answer
        self._headers_buffer.append(b"\r\n" + body)
        self.flush_headers()

    def _send_json_error(self, code: str, status: int, payload: dict) -> None:
        headers = {"x-amzn-ErrorType": f"{code}:", "x-amzn-RequestId": str(uuid.uuid4())}
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _read_body(self) -> bytes | None:
        """The body, or None when it is over 6 MB (drained, so that the connection stays usable)."""
        if self._h.get("transfer-encoding", "").lower() == "chunked":
            return self._read_chunked()
        raw_length = self._h.get("content-length") or "0"
        if not raw_length.isdigit():
            self.close_connection = True  # the body's end is unknown: the connection is spent
            raise validation_error(f"Content-Length {raw_length!r} is not a number of bytes.")
        length = int(raw_length)
        if length <= MAX_BODY_BYTES:
            return self.rfile.read(length) if length else b""
        if length > _DRAIN_LIMIT:
            self.close_connection = True
        else:
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
        self._oversize = length
        return None

    def _read_chunked(self) -> bytes | None:
        """Transfer-Encoding: chunked (RFC 9112 section 7.1), with the same 6 MB limit."""
        parts, size = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                chunk_size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise validation_error("Malformed chunked request body.") from None
            if chunk_size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                break
            data = self.rfile.read(chunk_size)
            self.rfile.readline(16)  # the CRLF after each chunk
            size += len(data)
            if size > _DRAIN_LIMIT:
                self.close_connection = True
                break
            if size <= MAX_BODY_BYTES:
                parts.append(data)
        if size > MAX_BODY_BYTES:
            self._oversize = size
            return None
        return b"".join(parts)

    # --- routes ---
    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/ping":
            ready = self.server.app.ready and not self.server.draining
            status = HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE
            self._send(status, b"" if ready else b"model not loaded yet", "text/plain")
        else:
            self._send(
                HTTPStatus.NOT_FOUND, b"Not found: use GET /ping or POST /invocations", "text/plain"
            )

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        # one pass over the parsed headers instead of a scan of the message per lookup
        self._h = {name.lower(): value for name, value in self.headers.items()}
        if not self.server.enter():
            self.close_connection = True
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"shutting down", "text/plain")
            return
        try:
            if path == "/invocations":
                self._container_invocation()
            elif path.startswith(_RUNTIME_PREFIX) and path.endswith(_RUNTIME_SUFFIX):
                self._runtime_invocation(
                    unquote(path[len(_RUNTIME_PREFIX) : -len(_RUNTIME_SUFFIX)])
                )
            else:
                self._read_body()
                self._send(
                    HTTPStatus.NOT_FOUND,
                    b"Not found: POST /invocations or /endpoints/{EndpointName}/invocations",
                    "text/plain",
                )
        finally:
            self.server.leave()

    def _echo_headers(self) -> dict[str, str]:
        attrs = self._h.get("x-amzn-sagemaker-custom-attributes")
        return {"X-Amzn-SageMaker-Custom-Attributes": attrs} if attrs else {}

    def _container_invocation(self) -> None:
        app = self.server.app
        try:
            body = self._read_body()
            if body is None:
                raise InvocationError(
                    f"The request body is {self._oversize:,} bytes; at most {MAX_BODY_BYTES:,} (6 MB) "
                    "are accepted. Send a smaller image.",
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                )
            injected = app.faults.before_invoke()
            if injected is not None:  # the container's own answer to an injected fault
                raise InvocationError(injected.message, injected.container_status)
            answer, content_type = app.invoke(
                body, self._h.get("content-type"), self._h.get("accept")
            )
        except (InvocationError, RuntimeRefusal) as err:
            log.warning("POST /invocations -> %s: %s", err.status, err.message)
            self._send(err.status, err.message.encode(), "text/plain; charset=utf-8")
            return
        self._send(HTTPStatus.OK, answer, content_type, self._echo_headers())

    def _runtime_invocation(self, endpoint_name: str) -> None:
        app = self.server.app
        try:
            body = self._check_runtime_request(endpoint_name)
        except RuntimeRefusal as err:
            log.warning("InvokeEndpoint %s -> %s: %s", endpoint_name, err.code, err.message)
            self._send_json_error(err.code, err.status, {"message": err.message})
            return
        content_type = self._h.get("content-type") or "application/octet-stream"
        injected = app.faults.before_invoke()
        if injected is not None:  # SageMaker's own error shape for the injected fault
            log.warning("InvokeEndpoint %s -> %s (injected)", endpoint_name, injected.code)
            body = injected.runtime_body(
                lambda st, text: app.model_error(InvocationError(text, st))
            )
            self._send_json_error(injected.code, injected.status, body)
            return
        try:
            answer, answer_type = app.invoke(body, content_type, self._h.get("accept"))
        except ModelNotLoaded as err:
            self._send_json_error(
                "ModelNotReadyException", HTTPStatus.TOO_MANY_REQUESTS, {"message": err.message}
            )
            return
        except InvocationError as err:
            log.warning(
                "InvokeEndpoint %s -> ModelError (%s): %s", endpoint_name, err.status, err.message
            )
            self._send_json_error("ModelError", HTTPStatus.FAILED_DEPENDENCY, app.model_error(err))
            return
        custom = self._h.get("x-amzn-sagemaker-custom-attributes")
        capture = app.capture
        if capture is not None and capture.sampled():
            # recorded before answering: once the caller has its answer, its record is pending
            capture.record(
                body,
                content_type,
                answer,
                answer_type,
                self._h.get("x-amzn-sagemaker-inference-id"),
                custom,
            )
        headers = {
            "x-Amzn-Invoked-Production-Variant": app.settings.variant_name,
            "x-amzn-RequestId": str(uuid.uuid4()),
            **self._echo_headers(),
        }
        self._send(HTTPStatus.OK, answer, answer_type, headers)

    def _check_runtime_request(self, endpoint_name: str) -> bytes:
        """What the runtime front end refuses before the model sees the request."""
        settings = self.server.app.settings
        body = self._read_body()
        if endpoint_name != settings.endpoint_name:
            raise validation_error(
                f"Endpoint {endpoint_name} of account {ACCOUNT} not found. This server serves the "
                f"endpoint {settings.endpoint_name!r} (SCONES_ENDPOINT_NAME): call that name."
            )
        if body is None:
            raise validation_error(
                f"Request body is {self._oversize:,} bytes; InvokeEndpoint accepts at most "
                f"{MAX_BODY_BYTES:,} bytes (6 MB). Send a smaller image."
            )
        attrs = self._h.get("x-amzn-sagemaker-custom-attributes")
        if attrs is not None and (len(attrs) > MAX_CUSTOM_ATTRIBUTES or not attrs.isascii()):
            raise validation_error(
                f"CustomAttributes must be at most {MAX_CUSTOM_ATTRIBUTES} visible ASCII characters "
                f"(got {len(attrs)})."
            )
        inference_id = self._h.get("x-amzn-sagemaker-inference-id")
        if inference_id is not None and not 1 <= len(inference_id) <= MAX_INFERENCE_ID:
            raise validation_error(
                f"InferenceId must be 1 to {MAX_INFERENCE_ID} characters (got {len(inference_id)})."
            )
        variant = self._h.get("x-amzn-sagemaker-target-variant")
        if variant is not None and variant != settings.variant_name:
            raise validation_error(
                f"Target variant {variant} not found for endpoint {endpoint_name}: the only variant "
                f"is {settings.variant_name!r} (SCONES_VARIANT_NAME)."
            )
        return body


class ModelHTTPServer(ThreadingHTTPServer):
    """A thread per connection; tracks open connections and in-flight requests for a clean stop."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: ModelServerApp, listen_fd: int | None = None):
        super().__init__(address, _Handler, bind_and_activate=listen_fd is None)
        if listen_fd is not None:
            # a listening socket handed down by the embedded stack's supervisor: it outlives
            # each server process, so callers queue instead of being refused during a restart
            self.socket.close()
            self.socket = socket.socket(fileno=listen_fd)
            self.server_address = self.socket.getsockname()
            self.server_name, self.server_port = self.server_address[:2]
        self.app = app
        self.draining = False
        self._busy = 0
        self._idle = threading.Condition()
        self._connections: set[socket.socket] = set()

    def enter(self) -> bool:
        with self._idle:
            if self.draining:
                return False
            self._busy += 1
            return True

    def leave(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def finish_request(self, request, client_address) -> None:
        with self._idle:
            self._connections.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self._idle:
                self._connections.discard(request)

    def handle_error(self, request, client_address) -> None:
        # a client that went away mid-answer is not worth a traceback
        log.debug("connection from %s ended with an error", client_address)

    def drain(self, timeout: float) -> bool:
        """Refuse new requests, wait for in-flight ones, then wake idle keep-alive connections."""
        with self._idle:
            self.draining = True
            finished = self._idle.wait_for(lambda: self._busy == 0, timeout)
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return finished
