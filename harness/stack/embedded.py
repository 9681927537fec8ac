"""Embedded mode: the emulated AWS and the model server as two local processes."""

from __future__ import annotations

from harness.config import Settings
from harness.emulator.contract import HEALTH_PATH  # imports no moto: `up` stays light
from harness.stack import processes
from harness.stack.readiness import http_ok, wait_until

EMULATOR = "emulator"
MODEL_SERVER = "model-server"


def start(settings: Settings, model_dir) -> dict[str, int]:
    """Start both processes at once, then wait for both; returns name -> pid."""
    emulator = processes.spawn(settings, EMULATOR, ["-m", "harness.emulator"], {})
    server = processes.spawn(
        settings,
        MODEL_SERVER,
        ["-m", "harness.model_server", "serve", "--model-dir", str(model_dir)],
        # Data Capture goes to the emulated S3, as it would go to S3 on AWS.
        {"CAPTURE_S3_ENDPOINT_URL": settings.capture_s3_endpoint_url or settings.aws_endpoint_url},
    )
    started = {EMULATOR: emulator.pid, MODEL_SERVER: server.pid}
    try:
        wait_until(
            lambda: aws_ready(settings),
            "the embedded AWS emulator",
            timeout=60,
            hint=f"see {processes.log_path(settings, EMULATOR)}",
            still_alive=lambda: emulator.poll() is None,
        )
        wait_until(
            lambda: http_ok(f"{settings.model_server_url}/ping"),
            "the model server",
            timeout=60,
            hint=f"see {processes.log_path(settings, MODEL_SERVER)}",
            still_alive=lambda: server.poll() is None,
        )
    except Exception:
        for pid in started.values():
            processes.stop(pid, timeout=5)
        raise
    return started


def aws_ready(settings: Settings) -> bool:
    return http_ok(f"{settings.aws_endpoint_url}{HEALTH_PATH}", timeout=1.0)
