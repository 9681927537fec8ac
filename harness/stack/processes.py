"""Background processes the stack owns, and the state file that remembers them.

Each process runs in its own session (process group), so `down` can end it together
with every child it started, and logs to .harness/logs/<name>.log.

A PID alone is not an identity: once our process has ended, the kernel may give its number
to any other process. So the state file keeps each process's start time (psutil's
create_time) beside its PID, and nothing here signals a PID whose start time differs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from harness.config import REPO_ROOT, STACK_FILE, Settings

# create_time comes from clock ticks (1/100 s); the same process reads the same value
_START_TIME_TOLERANCE = 0.05


@dataclass
class StackState:
    mode: str
    aws_url: str
    model_server_url: str
    processes: dict[str, int] = field(default_factory=dict)  # name -> pid (= process group id)
    started_at: float = field(default_factory=time.time)
    # name -> the process's create_time; a state file written before it existed has none
    start_times: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def path(settings: Settings) -> Path:
        return settings.state_dir / STACK_FILE

    def save(self, settings: Settings) -> None:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path(settings).with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(self.path(settings))  # a reader never sees half a file

    @classmethod
    def load(cls, settings: Settings) -> StackState | None:
        try:
            return cls(**json.loads(cls.path(settings).read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    @classmethod
    def forget(cls, settings: Settings) -> None:
        cls.path(settings).unlink(missing_ok=True)

    def record(self, name: str, pid: int) -> None:
        self.processes[name] = pid
        started = start_time(pid)
        if started is not None:
            self.start_times[name] = started

    def owner(self, name: str) -> Ownership:
        return ownership(self.processes[name], self.start_times.get(name))


def log_path(settings: Settings, name: str) -> Path:
    return settings.state_dir / "logs" / f"{name}.log"


def spawn(settings: Settings, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start `python <args>` in the background with the settings in its environment."""
    log = log_path(settings, name)
    log.parent.mkdir(parents=True, exist_ok=True)
    child_env = {**os.environ, **settings.as_environ(), **env, "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO_ROOT,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


@dataclass(frozen=True)
class Ownership:
    """What runs under a recorded PID now: ours (`ours`), nothing (`gone`), or a stranger."""

    pid: int
    ours: bool
    gone: bool
    stranger: str = ""  # "python3 (started 16:02:11)" when the PID now belongs to another process

    @property
    def state(self) -> str:
        if self.ours:
            return "running"
        if self.gone:
            return f"exited (pid {self.pid})"
        return f"exited; pid {self.pid} now belongs to another process, {self.stranger}"


def ownership(pid: int, recorded_start: float | None) -> Ownership:
    if not alive(pid):
        return Ownership(pid, ours=False, gone=True)
    now = start_time(pid)
    if recorded_start is None or now is None:
        # a state file from before start times were kept: trust the PID, as before
        return Ownership(pid, ours=True, gone=False)
    if abs(now - recorded_start) <= _START_TIME_TOLERANCE:
        return Ownership(pid, ours=True, gone=False)
    try:
        name = psutil.Process(pid).name()
    except psutil.Error:
        name = "unknown"
    when = time.strftime("%H:%M:%S", time.localtime(now))
    return Ownership(pid, ours=False, gone=False, stranger=f"{name} (started {when})")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie counts as gone: a child of ours is reaped here; another's zombie (its parent, or a
    # PID 1 that never reaps, has not collected it yet) has ended all the same
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    except ChildProcessError:
        pass
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def stop(pid: int, timeout: float = 10.0, started: float | None = None) -> bool:
    """SIGTERM the process group, SIGKILL what is left after `timeout`. True if it was running.

    With `started` (the recorded create_time), a PID that now belongs to another process is
    left alone: only a process that is provably ours is signalled."""
    if not ownership(pid, started).ours:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)  # also any worker the leader left behind
    except ProcessLookupError:
        return True
    # kill() returns before the processes are gone; wait, so that their ports are free on return
    deadline = time.monotonic() + 5
    while _group_exists(pid) and time.monotonic() < deadline:
        alive(pid)  # reaps the leader if it is our child
        time.sleep(0.02)
    return True


def _group_exists(pgid: int) -> bool:
    """A live (not zombie) process is still in the group. Zombies do not count: they hold no
    port, and a PID 1 that never reaps (some containers) would keep them for ever."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, PermissionError):
            continue
    return False
