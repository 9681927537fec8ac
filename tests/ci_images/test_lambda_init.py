"""CI's stand-in for LocalStack's Lambda init (.ci/lambda-runtime/init), without Docker.

The init runs as a subprocess with the environment LocalStack gives a Lambda container; a fake
LocalStack executor endpoint (the routes of LocalStack's executor_endpoint.py) records what it
reports; the runtime is the real awslambdaric on a tiny handler.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.config import REPO_ROOT
from harness.stack.readiness import free_port
from tests.support.pids import alive

INIT = REPO_ROOT / ".ci" / "lambda-runtime" / "init"
RUNTIME_ID = "0123456789abcdef0123456789abcdef"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:scones"
TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

HANDLER = """
import os, time

class ThresholdConfidenceNotMet(Exception):
    pass

def fn(event, context):
    print(f"handler {event['action']} pid={os.getpid()}")
    if event["action"] == "raise":
        raise ThresholdConfidenceNotMet("top confidence 0.81 (motorcycle) is below the threshold 0.93")
    if event["action"] == "sleep":
        time.sleep(30)
    if event["action"] == "crash":
        os._exit(3)
    if event["action"] == "big":
        return "x" * 2000
    return {
        "event": event,
        "pid": os.getpid(),
        "remaining_ms": context.get_remaining_time_in_millis(),
        "arn": context.invoked_function_arn,
        "runtime_api": os.environ.get("AWS_LAMBDA_RUNTIME_API"),
        "localstack_vars": sorted(k for k in os.environ if k.startswith("LOCALSTACK_")),
    }
"""


class FakeLocalStack:
    """LocalStack's executor endpoint: records (kind, id, body) of each call, in arrival order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bytes]] = []
        self.changed = threading.Condition()
        prefix = f"/_localstack_lambda/{RUNTIME_ID}/"
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path.removeprefix(prefix).split("/")
                # status/<id>/ready|error and invocations/<request id>/logs|response|error
                ok = self.path.startswith(prefix) and len(parts) == 3
                if ok:
                    with fake.changed:
                        fake.calls.append((parts[2], parts[1], body))
                        fake.changed.notify_all()
                self.send_response(202 if ok else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}{prefix.rstrip('/')}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def wait_for(self, match: Callable[[str, str], bool], what: str, timeout: float = 5) -> int:
        """Index of the first call whose (kind, id) matches, waiting for it up to `timeout` s."""

        def found() -> int | None:
            return next(
                (i for i, (kind, rid, _) in enumerate(self.calls) if match(kind, rid)), None
            )

        with self.changed:
            if not self.changed.wait_for(lambda: found() is not None, timeout):
                pytest.fail(f"no {what} from the init within {timeout} s; calls: {self.calls}")
            return found()

    def outcome(self, request_id: str) -> tuple[str, dict | str, str]:
        """(response|error, its body, the invocation's logs); the logs must come first."""
        at = self.wait_for(lambda k, i: i == request_id and k in ("response", "error"), "result")
        kind, _, body = self.calls[at]
        logs = [i for i, (k, rid, _) in enumerate(self.calls) if (k, rid) == ("logs", request_id)]
        assert logs and logs[0] < at, f"logs must arrive before the {kind}: {self.calls}"
        return kind, json.loads(body), json.loads(self.calls[logs[0]][2])["logs"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Init:
    """The init as LocalStack starts it, with the bootstrap given as its argument."""

    def __init__(
        self, tmp_path: Path, handler: str, timeout: int, bootstrap: str | None, env: dict
    ):
        self.localstack = FakeLocalStack()
        task = tmp_path / "task"
        task.mkdir()
        (task / "handler.py").write_text(handler)
        script = tmp_path / "bootstrap"
        script.write_text(
            bootstrap or f'#!/bin/sh\nexec "{sys.executable}" -m awslambdaric "$_HANDLER"\n'
        )
        script.chmod(0o755)
        self.port = free_port()
        env = {
            "PATH": os.environ["PATH"],
            "AWS_REGION": "us-east-1",
            "AWS_LAMBDA_FUNCTION_NAME": "scones",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout),
            "LAMBDA_TASK_ROOT": str(task),
            "_HANDLER": "handler.fn",
            "TZ": ":UTC",
            "LOCALSTACK_RUNTIME_ID": RUNTIME_ID,
            "LOCALSTACK_RUNTIME_ENDPOINT": self.localstack.endpoint,
            "LOCALSTACK_INTEROP_PORT": str(self.port),
            "INIT_RUNTIME_API_PORT": "0",  # not 9001: tests run side by side
            **env,
        }
        self.stdout = tmp_path / "init.out"  # what `docker logs` would show
        with self.stdout.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(INIT), str(script)],
                cwd=task,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def invoke(self, event: dict) -> str:
        """POST /invoke as LocalStack does; the init answers 200 OK at once. The request id."""
        request_id = str(uuid.uuid4())
        body = {
            "invoke-id": request_id,
            "invoked-function-arn": ARN,
            "payload": json.dumps(event),
            "trace-id": TRACE,
        }
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/invoke",
            json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )
        with NO_PROXY.open(request, timeout=5) as response:
            assert (response.status, response.read()) == (200, b"OK")
        return request_id

    def wait_ready(self) -> None:
        self.localstack.wait_for(lambda kind, _: kind in ("ready", "error"), "status")
        assert [c[0] for c in self.localstack.calls] == ["ready"], self.localstack.calls

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the init kills its runtime on the way out
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.localstack.close()


@pytest.fixture
def start_init(tmp_path: Path) -> Iterator[Callable[..., Init]]:
    started: list[Init] = []

    def start(
        handler: str = HANDLER, timeout: int = 3, bootstrap: str | None = None, **env: str
    ) -> Init:
        started.append(Init(tmp_path, handler, timeout, bootstrap, env))
        return started[-1]

    yield start
    for init in started:
        init.close()


def test_it_is_an_executable_python3_script():
    # LocalStack copies it into the container with mode 755 and makes it the entrypoint
    assert os.access(INIT, os.X_OK)
    assert INIT.read_text().startswith("#!/usr/bin/env python3\n")


def test_ready_then_the_result_through_response_with_logs_first(start_init):
    init = start_init()
    init.wait_ready()
    request_id = init.invoke({"action": "ok", "s3_key": "test/bike_s_000658.png"})

    kind, body, logs = init.localstack.outcome(request_id)
    assert kind == "response"
    assert body["event"] == {"action": "ok", "s3_key": "test/bike_s_000658.png"}
    assert 0 < body["remaining_ms"] <= 3000  # from the deadline header
    assert body["arn"] == ARN
    assert body["runtime_api"].startswith("127.0.0.1:")
    assert body["localstack_vars"] == []  # LocalStack's internals are not the function's
    assert f"START RequestId: {request_id} Version: $LATEST\n" in logs
    assert f"handler ok pid={body['pid']}\n" in logs
    assert f"END RequestId: {request_id}\n" in logs
    assert re.search(rf"REPORT RequestId: {request_id}\tDuration: [\d.]+ ms\t", logs)
    assert logs.index("START") < logs.index("handler ok") < logs.index("END")
    assert f"handler ok pid={body['pid']}" in init.stdout.read_text()  # docker logs show it

    # the same warm runtime takes the next event
    again = init.invoke({"action": "ok"})
    assert init.localstack.outcome(again)[1]["pid"] == body["pid"]


def test_a_raised_exception_arrives_through_error_as_awslambdaric_sent_it(start_init):
    init = start_init()
    init.wait_ready()
    request_id = init.invoke({"action": "raise"})

    kind, body, logs = init.localstack.outcome(request_id)
    assert kind == "error"
    assert body["errorType"] == "ThresholdConfidenceNotMet"
    assert body["errorMessage"] == "top confidence 0.81 (motorcycle) is below the threshold 0.93"
    assert body["requestId"] == request_id
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]
    assert "handler raise" in logs


def test_a_timeout_gives_the_go_inits_error_and_a_fresh_runtime_for_the_next_invoke(start_init):
    init = start_init(timeout=1)
    init.wait_ready()
    request_id = init.invoke({"action": "sleep"})

    kind, body, logs = init.localstack.outcome(request_id)
    assert kind == "error"
    assert list(body) == ["errorMessage"]  # v0.1.41-pre sends no errorType for a timeout
    assert re.fullmatch(
        rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ {request_id} Task timed out after 1.00 seconds",
        body["errorMessage"],
    )
    assert re.search(rf"REPORT RequestId: {request_id}\tDuration: 1000.00 ms\t", logs)
    slept = int(re.search(r"handler sleep pid=(\d+)", logs).group(1))
    assert not alive(slept)  # killed, not left running

    again = init.invoke({"action": "ok"})
    kind, body, _ = init.localstack.outcome(again)
    assert kind == "response" and body["pid"] != slept


def test_a_runtime_that_dies_mid_invocation_gives_runtime_exit_error(start_init):
    init = start_init()
    init.wait_ready()
    request_id = init.invoke({"action": "crash"})

    kind, body, logs = init.localstack.outcome(request_id)
    assert (kind, body) == (
        "error",
        {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 3",
        },
    )
    assert "handler crash" in logs

    assert init.localstack.outcome(init.invoke({"action": "ok"}))[0] == "response"


def test_a_response_over_the_payload_limit_is_an_error(start_init):
    init = start_init(LOCALSTACK_MAX_PAYLOAD_SIZE="1000")
    init.wait_ready()
    request_id = init.invoke({"action": "big"})

    kind, body, _ = init.localstack.outcome(request_id)
    assert (kind, body) == (
        "error",
        {
            "errorType": "Function.ResponseSizeTooLarge",
            "errorMessage": "Response payload size (2002 bytes) exceeded maximum allowed payload"
            " size (1000 bytes).",
        },
    )
    # awslambdaric exits on the 413 it gets; the next invoke has a fresh runtime
    assert init.localstack.outcome(init.invoke({"action": "ok"}))[0] == "response"


def test_an_import_error_in_the_handler_module_reports_status_error_and_ends_the_init(start_init):
    init = start_init(handler="import scones_no_such_module\n")
    at = init.localstack.wait_for(lambda kind, _: kind in ("ready", "error"), "status")
    kind, _, body = init.localstack.calls[at]
    assert kind == "error"
    error = json.loads(body)
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "scones_no_such_module" in error["errorMessage"]
    assert init.proc.wait(5) == 1


def test_a_bootstrap_that_exits_before_it_is_ready_reports_status_error(start_init):
    init = start_init(bootstrap="#!/bin/sh\necho no runtime here\nexit 3\n")
    at = init.localstack.wait_for(lambda kind, _: kind in ("ready", "error"), "status")
    kind, _, body = init.localstack.calls[at]
    assert (kind, json.loads(body)) == (
        "error",
        {
            "errorType": "Runtime.ExitError",
            "errorMessage": "Error: Runtime exited with error: exit status 3",
        },
    )
    assert init.proc.wait(5) == 1
    assert "no runtime here" in init.stdout.read_text()


def test_sigterm_ends_the_init_and_its_runtime(start_init):
    init = start_init()
    init.wait_ready()
    runtime_pid = init.localstack.outcome(init.invoke({"action": "ok"}))[1]["pid"]
    assert alive(runtime_pid)

    init.proc.send_signal(signal.SIGTERM)
    assert init.proc.wait(5) == 0
    assert not alive(runtime_pid)
