"""Background processes the stack owns, and the state file that remembers them.

Each process runs in its own session (process group), so `down` can end it together
with every child it started (Lambda workers), and logs to .harness/logs/<name>.log.
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

from harness.config import REPO_ROOT, STACK_FILE, Settings


@dataclass
class StackState:
    mode: str
    aws_url: str
    model_server_url: str
    processes: dict[str, int] = field(default_factory=dict)  # name -> pid (= process group id)
    started_at: float = field(default_factory=time.time)

    @staticmethod
    def path(settings: Settings) -> Path:
        return settings.state_dir / STACK_FILE

    def save(self, settings: Settings) -> None:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.path(settings).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, settings: Settings) -> StackState | None:
        try:
            return cls(**json.loads(cls.path(settings).read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    @classmethod
    def forget(cls, settings: Settings) -> None:
        cls.path(settings).unlink(missing_ok=True)


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


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as gone
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def stop(pid: int, timeout: float = 10.0) -> bool:
    """SIGTERM the process group, SIGKILL what is left after `timeout`. True if it was running."""
    if not alive(pid):
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
        pass
    return True
