"""Start executions and wait for their outcome. Used by `up` (one sample), `e2e` and bench/."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from harness.emulator.contract import HEALTH_PATH, WAIT_EXECUTION_PATH
from harness.errors import HarnessError
from harness.executions.history import cause_text
from harness.labels import LABELS

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass(frozen=True)
class ExecutionResult:
    name: str
    arn: str
    s3_key: str
    status: str
    seconds: float
    output: dict[str, Any] | None = None
    error: str = ""
    cause: str = ""

    @property
    def inferences(self) -> list[float]:
        out = self.output or {}
        body = out.get("body", out)
        return list(body.get("inferences") or []) if isinstance(body, dict) else []

    @property
    def label(self) -> str:
        inf = self.inferences
        return LABELS[max(range(len(inf)), key=inf.__getitem__)] if len(inf) == len(LABELS) else ""

    @property
    def confidence(self) -> float | None:
        return max(self.inferences) if self.inferences else None

    @property
    def outcome(self) -> str:
        """'bicycle 0.994' for a classified image, else the error name."""
        return f"{self.label} {self.confidence:.3f}" if self.confidence is not None else self.error

    @property
    def cause_message(self) -> str:
        """The Lambda's errorMessage when the cause is its JSON error document."""
        return str(cause_text(self.cause))


def run_execution(
    sfn, machine_arn: str, bucket: str, key: str, name: str | None = None, timeout: float = 120.0
) -> ExecutionResult:
    # Always name executions: an unnamed one gets an ARN ending in ':None' on moto.
    name = name or f"run-{uuid.uuid4().hex[:12]}"
    payload = {"s3_bucket": bucket, "s3_key": key}
    start = time.monotonic()
    arn = sfn.start_execution(stateMachineArn=machine_arn, name=name, input=json.dumps(payload))[
        "executionArn"
    ]
    return wait_for(sfn, arn, name, key, start, timeout)


def wait_for(sfn, arn: str, name: str, key: str, start: float, timeout: float) -> ExecutionResult:
    url = getattr(sfn.meta, "endpoint_url", "") or ""
    # our emulator: one held request that ends with the outcome, instead of ~60 polls
    desc = _wait_on_server(url, arn, start + timeout) if _offers_wait(url) else {}
    delay = 0.002  # executions finish in tens of ms locally; back off for AWS
    while desc.get("status") not in TERMINAL:
        desc = sfn.describe_execution(executionArn=arn)
        if desc["status"] in TERMINAL:
            break
        if time.monotonic() - start > timeout:
            raise HarnessError(
                f"Execution {name} still {desc['status']} after {timeout:.0f} s.",
                "check `harness show " + name + "` and the Lambda logs",
            )
        time.sleep(delay)
        # poll tightly while a local execution would finish; back off for AWS's seconds
        delay = min(delay * 1.5, 0.01 if time.monotonic() - start < 2 else 0.5)
    seconds = time.monotonic() - start
    output = json.loads(desc["output"]) if desc.get("output") else None
    return ExecutionResult(
        name=name,
        arn=arn,
        s3_key=key,
        status=desc["status"],
        seconds=seconds,
        output=output,
        error=desc.get("error", ""),
        cause=desc.get("cause", ""),
    )


_WAITS: dict[str, bool] = {}  # endpoint URL -> it offers WAIT_EXECUTION_PATH


_KEPT = threading.local()  # url -> this thread's open connection to it


def _get_json(url: str, path: str, timeout: float) -> dict:
    """GET on loopback without urllib's proxy handling (an HTTP_PROXY must not see it), on a
    connection this thread keeps open (the emulator keeps it alive between requests)."""
    kept = _KEPT.__dict__
    for attempt in (1, 2):  # a kept connection the server has closed meanwhile: once more
        connection = kept.pop(url, None)
        reused = connection is not None
        if connection is None:
            parsed = urllib.parse.urlsplit(url)
            connection = http.client.HTTPConnection(parsed.hostname, parsed.port or 80)
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
        except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
            connection.close()
            if reused and attempt == 1:
                continue
            raise
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            kept[url] = connection
        return json.loads(body) if response.status == 200 else {}
    return {}


def _offers_wait(url: str) -> bool:
    """True for the embedded emulator (its health says so); AWS is https and never asked."""
    if url not in _WAITS:
        try:
            health = _get_json(url, HEALTH_PATH, 2) if url.startswith("http://") else {}
        except (OSError, ValueError, http.client.HTTPException):
            health = {}
        _WAITS[url] = health.get("wait_execution") is True
    return _WAITS[url]


def _wait_on_server(url: str, arn: str, deadline: float) -> dict:
    """Hold requests until the emulator says the execution ended or the deadline passed: its
    outcome with DescribeExecution's names, or {} on any trouble (the caller's
    DescribeExecution loop then decides)."""
    while (left := deadline - time.monotonic()) > 0:
        hold = min(left, 20.0)
        query = urllib.parse.urlencode({"arn": arn, "timeout": f"{hold:.3f}"})
        try:
            answer = _get_json(url, f"{WAIT_EXECUTION_PATH}?{query}", hold + 10)
        except (OSError, ValueError, http.client.HTTPException):
            return {}
        if answer.get("ended"):
            return {key: value for key, value in answer.items() if value is not None}
        if "status" not in answer:
            return {}
    return {}


def run_many(
    sfn, machine_arn: str, bucket: str, keys: Iterable[str], parallel: int = 8, prefix: str = "run"
) -> list[ExecutionResult]:
    keys = list(keys)
    batch = uuid.uuid4().hex[:6]
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [
            pool.submit(run_execution, sfn, machine_arn, bucket, key, f"{prefix}-{batch}-{i:04d}")
            for i, key in enumerate(keys)
        ]
        return [f.result() for f in futures]
