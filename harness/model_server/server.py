"""Start and stop the model server: in a background thread (tests, the embedded stack) or in the
foreground until SIGTERM/SIGINT (`serve`, the container). No click here: the container has
only the core packages.
"""

from __future__ import annotations

import logging
import shutil
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from harness import c_allocator
from harness.config import Settings
from harness.errors import HarnessError
from harness.model_server.app import ModelHTTPServer, ModelServerApp
from harness.model_server.artifact import MODEL_FILE, unpack_artifact
from harness.model_server.capture import CaptureConfig, DataCapture
from harness.model_server.inference import model_fn

log = logging.getLogger("harness.model_server")


@dataclass
class ModelServerHandle:
    """A running server. `stop()` drains in-flight requests, then flushes Data Capture."""

    server: ModelHTTPServer
    app: ModelServerApp
    thread: threading.Thread
    model_dir: Path
    _cleanup: list[Path] = field(default_factory=list)
    _stopped: bool = False

    @property
    def host(self) -> str:
        return self.server.server_address[0]

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def capture(self) -> DataCapture | None:
        return self.app.capture

    def stop(self, timeout: float = 25.0) -> None:
        """Stop accepting, finish in-flight requests (SageMaker allows 30 s), flush Data Capture."""
        if self._stopped:
            return
        self._stopped = True
        started = self.thread.ident is not None  # a supervised server that failed to load never was
        if started:
            self.server.shutdown()  # leaves serve_forever; no new connections are accepted
        if not self.server.drain(timeout):
            log.warning("stopping with requests still in flight after %.0f s", timeout)
        self.server.server_close()
        if started:
            self.thread.join(5)
        if self.app.capture is not None:
            self.app.capture.stop()
        for path in self._cleanup:
            shutil.rmtree(path, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def resolve_model_dir(
    settings: Settings, model_dir: Path | None = None, model_artifact: Path | None = None
) -> tuple[Path, list[Path]]:
    """Where the unpacked model is, and temporary folders to remove on stop.

    Explicit arguments first; else SAGEMAKER_MODEL_DIR when it holds a model (the container);
    else the trained artifact SCONES_MODEL_ARTIFACT, unpacked to a temporary folder.
    """
    if model_dir is not None:
        return Path(model_dir), []
    if model_artifact is None:
        if (settings.model_dir / MODEL_FILE).is_file():
            return settings.model_dir, []
        model_artifact = settings.model_artifact
        if not Path(model_artifact).is_file():
            raise HarnessError(
                f"No model to serve: {settings.model_dir} holds no {MODEL_FILE} and "
                f"{model_artifact} does not exist.",
                "train one with `make train`, or pass --model-dir DIR / --model-artifact model.tar.gz "
                "(or set SAGEMAKER_MODEL_DIR / SCONES_MODEL_ARTIFACT)",
            )
    tmp = Path(tempfile.mkdtemp(prefix="scones-model-"))
    return unpack_artifact(Path(model_artifact), tmp), [tmp]


def build_capture(settings: Settings, s3_client=None) -> DataCapture | None:
    config = CaptureConfig.from_settings(settings)
    if not config.enabled:
        return None
    return DataCapture(config, s3_client).start()


def start_model_server(
    settings: Settings,
    model_dir: Path | None = None,
    *,
    model_artifact: Path | None = None,
    s3_client=None,
    capture: bool | None = None,
    listen_fd: int | None = None,
) -> ModelServerHandle:
    """Listen on settings.model_server_host:model_server_port (port 0: a free one), load the model,
    and return once /ping answers 200. `capture` overrides settings.capture_enabled;
    `s3_client` replaces the Data Capture S3 client (tests). `listen_fd` is an inherited
    listening socket to serve on instead (the embedded stack's supervisor holds it while one
    server replaces another): such a server loads first and only then accepts, so the callers
    queued in the socket's backlog are answered, not told the model is loading; Data Capture
    starts then too, once the server it replaces (which held the spool) has died."""
    if capture is not None:
        settings = settings.replace(capture_enabled=capture)
    resolved, cleanup = resolve_model_dir(settings, model_dir, model_artifact)
    app = ModelServerApp(settings)
    try:
        server = ModelHTTPServer(
            (settings.model_server_host, settings.model_server_port), app, listen_fd
        )
    except OSError as exc:
        raise HarnessError(
            f"Cannot listen on {settings.model_server_host}:{settings.model_server_port}: {exc}",
            "another server may hold the port: stop it, or set MODEL_SERVER_PORT (or --port)",
        ) from exc
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="model-server", daemon=True
    )
    handle = ModelServerHandle(server, app, thread, resolved, cleanup)
    if listen_fd is None:
        thread.start()  # /ping answers 503 while the model loads, as SageMaker expects
    try:
        app.capture = build_capture(settings, s3_client)
        app.model = model_fn(resolved)
    except BaseException:
        handle.stop(timeout=1)
        raise
    c_allocator.release_free_memory()  # the session's build leaves ~9 MB of freed scratch
    if listen_fd is not None:
        thread.start()
    return handle


def serve_until_signal(
    settings: Settings,
    model_dir: Path | None = None,
    model_artifact: Path | None = None,
    capture: bool | None = None,
    listen_fd: int | None = None,
) -> None:
    """Foreground server for `serve` (the CLI and the container): logs to stderr, prints one
    ready line, stops cleanly on SIGTERM or SIGINT."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = threading.Event()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())
    handle = start_model_server(
        settings,
        model_dir,
        model_artifact=model_artifact,
        capture=capture,
        listen_fd=listen_fd,
    )
    capture_note = (
        f"Data Capture {handle.capture.config.sampling_percentage}% -> "
        f"{handle.capture.config.destination}"
        if handle.capture
        else "Data Capture off"
    )
    print(
        f"model server ready on {handle.url} (endpoint {settings.endpoint_name}, variant "
        f"{settings.variant_name}, model {handle.model_dir}, {capture_note})",
        flush=True,
    )
    # a timed wait: the kernel may deliver SIGTERM to any thread, and an untimed lock wait in the
    # main thread would then never return to run the Python handler that sets `stop`
    while not stop.wait(0.5):
        pass
    log.info("stopping: finishing in-flight requests and flushing Data Capture")
    handle.stop()
    log.info("stopped")
