"""Lambda workers forked from one warm template per interpreter (issue 17: memory).

A worker started as `python -m awslambdaric` imports boto3 again and holds its own copy: ~30 MB
each, twelve of them after a burst. A template (worker_template.py, run by the Runtime's own
interpreter) imports boto3 once and forks each worker from that heap, so the pages stay shared:
measured by hand, 23 / 16 / 1 MB of a worker's own memory (S3 client, SageMaker runtime
client, no client) against 37 / 31 / 7.5 MB.

What the function sees is what a fresh process would give it: its environment, working folder,
`sys.path` (working folder, PYTHONPATH, the runtime's), its own process group, awslambdaric
imported anew. Two differences: the runtime's imports are not part of Init Duration (as with
SnapStart), and a function whose code folders hold a module the template has already imported
(its own boto3, or a `json.py`) gets a fresh process instead, so its copy wins as on AWS.
LAMBDA_FORK_WORKERS=false starts every worker fresh.
"""

from __future__ import annotations

import errno
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from harness.preforked import kill_group

TEMPLATE_SCRIPT = Path(__file__).with_name("worker_template.py")
# PYTHON* (PYTHONHASHSEED, PYTHONWARNINGS, ...) and the locale (PEP 538's coercion sets LC_CTYPE)
_AT_START = ("PYTHON", "LANG", "LC_ALL", "LC_CTYPE")
READY_TIMEOUT = 30.0  # a busy 2-core machine, cold caches: importing boto3 takes ~1 s
FOLDER_PREFIX = "scones-lambda-template-"


def sweep_stale_folders(root: str | None = None) -> list[str]:
    """Remove template folders whose socket nobody holds any more; the ones removed.

    A template removes its folder when its emulator goes, but not when a SIGKILL takes it
    too (`down` after an emulator that would not stop). A folder older than a template's
    start whose socket is not in /proc/net/unix (Linux's list of bound sockets) is such a
    leftover; elsewhere nothing is swept."""
    try:
        with open("/proc/net/unix") as table:
            bound = {line.split()[-1] for line in table.readlines()[1:] if len(line.split()) > 7}
    except OSError:
        return []
    removed = []
    root = root or tempfile.gettempdir()
    for name in os.listdir(root):
        folder = os.path.join(root, name)
        if not name.startswith(FOLDER_PREFIX) or os.path.join(folder, "fork.sock") in bound:
            continue
        try:
            info = os.stat(folder)
        except OSError:
            continue
        if info.st_uid == os.getuid() and time.time() - info.st_mtime > READY_TIMEOUT:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


class ForkedProcess:
    """What sandbox.Worker uses of subprocess.Popen, for a worker a template forked (the
    template is its parent and reports its exit status on `conn`)."""

    def __init__(self, pid: int, conn: socket.socket, stdout_fd: int):
        self.pid = pid
        self.stdout = open(stdout_fd, "rb", buffering=0)  # noqa: SIM115  the worker's lifetime
        self.returncode: int | None = None
        self._conn = conn
        self._reader = threading.Lock()
        self._done = threading.Event()

    def wait(self, timeout: float | None = None) -> int:
        if self._done.is_set():
            return self.returncode
        if timeout is None and self._reader.acquire(blocking=False):
            try:  # the worker's exit watcher: the one thread that reads the status
                reply = self._conn.recv(64)
            except OSError:
                reply = b""
            finally:
                self._conn.close()
            if reply:
                self.returncode = int(reply)
            else:  # the template is gone, and no status will come: end the worker for sure
                kill_group(self.pid)
                self.returncode = -signal.SIGKILL
            self._done.set()
            return self.returncode
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired("lambda worker", timeout)
        return self.returncode


class WorkerTemplate:
    """One template process and the socket it forks workers on."""

    def __init__(self, python: str, env: dict[str, str]):
        self._env = env
        self._dir = tempfile.mkdtemp(prefix=FOLDER_PREFIX)
        self._socket = os.path.join(self._dir, "fork.sock")
        self.proc = subprocess.Popen(
            [python, str(TEMPLATE_SCRIPT), self._socket],
            cwd=self._dir,
            env=env,
            stdin=subprocess.PIPE,  # its end of input is the emulator's end
            stdout=subprocess.PIPE,
        )
        try:
            hello = _read_line(self.proc.stdout.fileno(), READY_TIMEOUT)
            self.modules = frozenset(json.loads(hello)["modules"])
        except (OSError, ValueError, KeyError) as exc:
            self.close()
            raise OSError(f"the Lambda worker template under {python} did not start: {exc}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def shadowed_by(self, code_paths: Iterable[Path]) -> set[str]:
        """Modules the template imported that the function's own folders also hold."""
        found = set()
        for folder in code_paths:
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            found |= {n.split(".")[0] for n in names} & self.modules
        return found

    def fork(self, handler: str, cwd: Path, env: dict[str, str]) -> ForkedProcess:
        if not os.path.isdir(cwd):  # as Popen reports it, before any process exists
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(cwd))
        differ = self._read_at_start(env)
        if differ:
            raise OSError(
                f"its environment sets {', '.join(differ)}, read at the interpreter's start"
            )
        read_end, write_end = os.pipe()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            conn.connect(self._socket)
            request = {"args": [handler], "cwd": str(cwd), "env": env}
            socket.send_fds(conn, [json.dumps(request).encode()], [write_end])
            reply = conn.recv(64)
            if not reply:
                raise OSError("the Lambda worker template ended")
        except BaseException:
            conn.close()
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        return ForkedProcess(int(reply), conn, read_end)

    def _read_at_start(self, env: dict[str, str]) -> list[str]:
        """Variables the interpreter reads as it starts (so the template already has) on which
        the function's environment and the template's differ."""
        names = {n for n in env.keys() | self._env.keys() if n.startswith(_AT_START)}
        names -= {"PYTHONPATH", "PYTHONDONTWRITEBYTECODE"}  # the fork applies these itself
        return sorted(n for n in names if env.get(n) != self._env.get(n))

    def close(self) -> None:
        try:
            self.proc.stdin.close()  # the template ends, and takes any worker left with it
            self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        shutil.rmtree(self._dir, ignore_errors=True)


class WorkerTemplates:
    """The templates by interpreter, started on first use; one that fails to start is not
    tried again for that interpreter (its workers start fresh)."""

    def __init__(self, environment: Callable[[str], dict[str, str]]):
        self._environment = environment  # an interpreter's: sandbox.runtime_environment
        sweep_stale_folders()
        self._by_python: dict[str, WorkerTemplate | None] = {}
        self._lock = threading.Lock()
        self.failures: dict[str, str] = {}

    def get(self, python: str) -> WorkerTemplate | None:
        with self._lock:
            template = self._by_python.get(python)
            if template is not None and not template.alive():  # killed: a new one
                template.close()
                template = None
                self._by_python.pop(python)
            if python not in self._by_python:
                try:
                    template = WorkerTemplate(python, self._environment(python))
                except OSError as exc:
                    self.failures[python] = str(exc)
                    template = None
                self._by_python[python] = template
            return template

    def pids(self) -> list[int]:
        with self._lock:
            return [t.proc.pid for t in self._by_python.values() if t is not None]

    def close(self) -> None:
        with self._lock:
            templates, self._by_python = list(self._by_python.values()), {}
        for template in templates:
            if template is not None:
                template.close()


def _read_line(fd: int, timeout: float) -> str:
    data = b""
    while not data.endswith(b"\n"):
        if not select.select([fd], [], [], timeout)[0]:
            raise OSError(f"no answer within {timeout:.0f} s")
        chunk = os.read(fd, 65536)
        if not chunk:
            raise OSError("it exited")
        data += chunk
    return data.decode()
