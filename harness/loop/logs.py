"""`harness logs FUNCTION|endpoint [--follow] [--since 10m]`: CloudWatch Logs of a function,
or the endpoint's log (the model server's log file or container locally, CloudWatch on AWS)."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from harness import clients
from harness.config import Settings
from harness.errors import HarnessError
from harness.loop.invoke import function_name
from harness.stack import compose

ENDPOINT = "endpoint"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class LogLine:
    timestamp: datetime | None
    source: str  # the log stream (function) or "model-server"
    message: str


def parse_since(text: str) -> float:
    """'90s', '10m', '2h', '1d' -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text or "")
    if not match:
        raise HarnessError(
            f"--since {text!r} is not a duration.", "write it like 30s, 10m, 2h or 1d"
        )
    return float(match[1]) * _UNITS[match[2]]


def log_group(settings: Settings, what: str) -> str:
    if what == ENDPOINT:
        return f"/aws/sagemaker/Endpoints/{settings.endpoint_name}"
    return f"/aws/lambda/{function_name(settings, what)}"


def read_cloudwatch(
    settings: Settings,
    group: str,
    since_s: float,
    follow: bool,
    stop: Callable[[], bool] = lambda: False,
    client=None,
) -> Iterator[LogLine]:
    """FilterLogEvents from `since_s` ago; with follow, poll once a second for new events."""
    logs = client or clients.client(settings, "logs")
    start_ms, seen = int((time.time() - since_s) * 1000), set()
    while True:
        kwargs = {"logGroupName": group, "startTime": start_ms}
        try:
            for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
                for event in page.get("events", []):
                    key = event.get("eventId") or (
                        event["logStreamName"],
                        event["timestamp"],
                        event["message"],
                    )
                    if key in seen:
                        continue
                    seen.add(key)
                    start_ms = max(start_ms, event["timestamp"])
                    yield LogLine(
                        datetime.fromtimestamp(event["timestamp"] / 1000, UTC),
                        event["logStreamName"],
                        event["message"].rstrip("\n"),
                    )
        except logs.exceptions.ResourceNotFoundException as exc:
            raise HarnessError(
                f"No log group {group} on the {settings.target} target yet.",
                "it appears with the first invocation: run `make e2e-test` or "
                "`harness invoke`, then look again",
            ) from exc
        if not follow or stop():
            return
        time.sleep(1.0)  # CloudWatch has no push; `aws logs tail --follow` polls the same way


def read_model_server_file(
    settings: Settings, since_s: float, follow: bool, stop: Callable[[], bool] = lambda: False
) -> Iterator[LogLine]:
    """Embedded mode: the model server's log file (lines carry no time: all are shown when
    --since reaches back before the file was written, else the file's tail from then on)."""
    path = settings.state_dir / "logs" / "model-server.log"
    if not path.is_file():
        raise HarnessError(
            f"No model-server log at {path}.", "start the stack with `make local-up`"
        )
    with path.open("r", errors="replace") as log:
        if path.stat().st_mtime < time.time() - since_s:
            log.seek(0, 2)  # nothing written inside the window
        while True:
            line = log.readline()
            if line:
                yield LogLine(None, "model-server", line.rstrip("\n"))
                continue
            if not follow or stop():
                return
            time.sleep(0.2)


def stream_docker_logs(since_s: float, follow: bool) -> int:
    """Docker mode: the container's own log, through `docker logs` (exit code returned)."""
    command = [
        "docker",
        "logs",
        "--timestamps",
        "--since",
        f"{int(since_s)}s",
        compose.container_name("model-server"),
    ]
    if follow:
        command.insert(2, "--follow")
    try:
        return subprocess.run(command, check=False).returncode
    except OSError as exc:
        raise HarnessError(
            "`docker logs` could not run.", "is Docker installed and the stack up?"
        ) from exc


def is_endpoint(what: str) -> bool:
    return what == ENDPOINT
