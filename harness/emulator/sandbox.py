"""One warm Lambda sandbox: a `python -m awslambdaric <Handler>` process (or the same forked from
a warm template, forked_workers.py) and its Runtime API.

The process runs in its own process group (so a kill takes its children too) with Lambda's
environment; its stdout and stderr go line by line to its CloudWatch Logs stream. The worker
holds no state of its own: whether it is starting, idle, busy, retired or dead, and which
invocation it holds, is its pool's (workers.py), and it asks the pool through `PoolSide`.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from harness.emulator.code import CodeSource
from harness.emulator.forked_workers import WorkerTemplate
from harness.emulator.logs import WorkerLogStream
from harness.emulator.runtime_api import Invocation, RuntimeAPIServer

_SIGNALS = {
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
}
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "LD_LIBRARY_PATH")


def runtime_environment(python: str = sys.executable) -> dict[str, str]:
    """What every worker under `python` starts with, before Lambda's variables and the
    function's: the emulator's few it inherits, the runtime's bin first on PATH, and what the
    interpreter reads as it starts (the locale, the zone, unbuffered output). It is also the
    whole environment of the template workers fork from (forked_workers.py)."""
    env = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
    if python != sys.executable:  # its runtime's environment: its bin first, as /var/lang/bin
        env["PATH"] = os.pathsep.join([str(Path(python).parent), env.get("PATH", os.defpath)])
    env.update({"LANG": "en_US.UTF-8", "TZ": ":UTC", "PYTHONUNBUFFERED": "1"})
    return env


def exit_reason(returncode: int) -> str:
    if returncode < 0:
        name = _SIGNALS.get(-returncode) or signal.Signals(-returncode).name.lower()
        return f"Runtime exited with error: signal: {name}"
    if returncode == 0:
        return "Runtime exited without providing a reason"
    return f"Runtime exited with error: exit status {returncode}"


class PoolSide(Protocol):
    """What a worker may ask of its pool, which owns every worker's state."""

    host: str
    function: Any

    def lookup(self, request_id: str) -> Invocation | None: ...
    # blocks; the first call marks the worker initialised; None = stop polling
    def take(self, worker: Worker) -> Invocation | None: ...
    def init_failed(self, worker: Worker, body: bytes) -> None: ...
    def complete(
        self, worker: Worker, invocation: Invocation, body: bytes, errored: bool
    ) -> None: ...
    def holding(self, worker: Worker) -> Invocation | None: ...  # what its output belongs to
    def exited(self, worker: Worker, returncode: int) -> None: ...


class Worker:
    """One awslambdaric process and the Runtime API it polls."""

    def __init__(
        self,
        pool: PoolSide,
        env: dict[str, str],
        source: CodeSource,
        handler: str,
        python: str = sys.executable,  # the interpreter of the function's Runtime (runtimes.py)
        template: WorkerTemplate | None = None,  # fork from it instead (forked_workers.py)
    ):
        self.pool = pool
        self.started = time.monotonic()  # init duration is measured from here
        self._output = threading.Condition()  # held while output is read and logged
        self._output_closed = False
        self.logs = WorkerLogStream(pool.function)
        self.api = RuntimeAPIServer(self, pool.lookup, pool.host)
        env = dict(
            env, AWS_LAMBDA_RUNTIME_API=self.api.address, AWS_LAMBDA_LOG_STREAM_NAME=self.logs.name
        )
        self.fork_error = ""  # why a template could not fork it (it then started fresh)
        try:
            self.proc = self._fork(template, handler, source, env)
            if self.proc is None:
                self.proc = self._start(python, handler, source, env)
        except OSError:
            self.api.close()
            raise
        threading.Thread(target=self._pump_logs, daemon=True, name="lambda-logs").start()
        threading.Thread(target=self._wait_exit, daemon=True, name="lambda-exit").start()

    def _fork(self, template, handler: str, source: CodeSource, env: dict):
        if template is None:
            return None
        try:
            return template.fork(handler, source.cwd, env)
        except OSError as exc:
            self.fork_error = str(exc)
            return None

    @staticmethod
    def _start(python: str, handler: str, source: CodeSource, env: dict) -> subprocess.Popen:
        return subprocess.Popen(
            [python, "-m", "awslambdaric", handler],
            cwd=source.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() takes children too
        )

    # Runtime API side (called from its request threads)
    def next_invocation(self) -> Invocation | None:
        return self.pool.take(self)

    def init_failed(self, body: bytes) -> None:
        self.pool.init_failed(self, body)

    def complete(self, invocation: Invocation, body: bytes, errored: bool) -> None:
        self.pool.complete(self, invocation, body, errored)

    # process side
    def kill(self) -> None:
        """End the process group; the pool has retired the worker first."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _pump_logs(self) -> None:
        """Log the worker's output line by line; reads only while holding `_output`."""
        fd, pending = self.proc.stdout.fileno(), b""
        while True:
            select.select([fd], [], [])
            with self._output:
                chunk = os.read(fd, 65536)
                if chunk:
                    *lines, pending = (pending + chunk).split(b"\n")
                else:  # EOF: the worker ended
                    lines, pending = ([pending] if pending else []), b""
                    self._output_closed = True
                for raw in lines:
                    self._log_line(raw.decode("utf-8", "replace"))
                self._output.notify_all()
            if self._output_closed:
                return

    def _log_line(self, line: str) -> None:
        self.logs.write(line)
        invocation = self.pool.holding(self)
        if invocation is not None:
            invocation.log_tail.append(line)
            del invocation.log_tail[:-40]

    def drain_output(self, timeout: float = 0.05) -> None:
        """Wait until what the worker wrote so far is logged (it writes before it answers)."""
        fd, deadline = self.proc.stdout.fileno(), time.monotonic() + timeout
        with self._output:
            while not self._output_closed and select.select([fd], [], [], 0)[0]:
                if time.monotonic() > deadline:
                    return
                self._output.wait(0.005)

    def _wait_exit(self) -> None:
        returncode = self.proc.wait()
        self.drain_output()  # its last lines belong to what it held, before the pool forgets it
        self.api.close()
        self.pool.exited(self, returncode)


def lambda_environment(
    fn: Any, source: CodeSource, endpoint_url: str, python: str = sys.executable
) -> dict[str, str]:
    """Lambda's variables, then the function's own (which win), like SAM's env_vars."""
    env = runtime_environment(python)
    env.update(
        {
            "LAMBDA_RUNTIME_DIR": str(Path(python).parent.parent),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "PYTHONPATH": os.pathsep.join(str(p) for p in source.paths),
            "LAMBDA_TASK_ROOT": str(source.cwd),
            "_HANDLER": fn.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(fn.timeout),
            "AWS_LAMBDA_LOG_GROUP_NAME": fn.logs_group_name,
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_SESSION_TOKEN": "test",
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_CONFIG_FILE": os.devnull,  # the developer's ~/.aws must not leak in
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    if source.hot:
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # keep the source folders clean
    env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
    return env
