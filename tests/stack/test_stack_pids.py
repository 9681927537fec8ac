"""PID reuse: the stack signals only processes that are provably its own (issue 15 point 1).

A stale stack.json may name a PID that the kernel has since given to another process; the
recorded start time tells them apart, so `down` leaves the stranger alone and `status` says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from harness.errors import HarnessError
from harness.stack import health, processes, stack
from harness.stack.processes import StackState
from harness.stack.readiness import free_port, wait_until
from tests.support.pids import alive


@pytest.fixture
def stranger():
    """Someone else's process, leading its own process group (so killpg(pid) would reach it)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
    )
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def local(settings, tmp_path):
    # ports nobody listens on: the status probes find nothing there
    return settings.replace(
        mode="embedded", aws_port=free_port(), model_server_port=free_port(), state_dir=tmp_path
    )


def stale_state(local, pid: int, started: float) -> StackState:
    """stack.json as a stack that died long ago left it, its PIDs now reused by `pid`."""
    state = StackState("embedded", local.aws_endpoint_url, local.model_server_url)
    state.processes = {"emulator": pid, "model-server": pid}
    state.start_times = {"emulator": started, "model-server": started}
    state.save(local)
    return state


def test_the_recorded_start_time_tells_our_process_from_a_stranger(stranger):
    started = processes.start_time(stranger.pid)
    assert started is not None
    assert processes.ownership(stranger.pid, started).ours
    other = processes.ownership(stranger.pid, started - 100)
    assert not other.ours and not other.gone
    assert "python" in other.stranger
    assert f"pid {stranger.pid} now belongs to another process" in other.state


def test_stop_never_signals_a_reused_pid(stranger):
    started = processes.start_time(stranger.pid)
    assert processes.stop(stranger.pid, timeout=1, started=started - 100) is False
    assert alive(stranger.pid) and stranger.poll() is None
    # the control: with its true start time it is ours, and stopped
    assert processes.stop(stranger.pid, timeout=5, started=started) is True
    assert stranger.wait(timeout=5) is not None


def test_down_with_a_stale_state_file_leaves_the_stranger_alone(local, stranger):
    stale_state(local, stranger.pid, processes.start_time(stranger.pid) - 3600)
    console = Console(record=True, width=200)
    assert stack.down(local, console) is True
    out = console.export_text()
    assert "left it alone" in out and f"pid {stranger.pid} now belongs to another process" in out
    assert f"stopped emulator (pid {stranger.pid})" not in out
    assert alive(stranger.pid) and stranger.poll() is None
    assert StackState.load(local) is None  # the stale record is gone


def test_status_and_require_running_name_the_dead_parts_and_the_fix(local, stranger):
    stale_state(local, stranger.pid, processes.start_time(stranger.pid) - 3600)
    parts = health.parts(local, StackState.load(local))
    assert [p.ok for p in parts] == [False, False]
    lines = health.problems(parts)
    assert len(lines) == 2
    assert all(
        "make local-up" in line and "now belongs to another process" in line for line in lines
    )
    assert stack.running(local) is None
    with pytest.raises(HarnessError) as caught:
        stack.require_running(local)
    assert "partly down" in caught.value.message and "AWS APIs" in caught.value.message
    assert "make local-up" in caught.value.hint
    console = Console(record=True, width=250)
    stack.print_status(local, console)
    out = console.export_text()
    assert "dead: exited; pid" in out and "-> run `make local-up`" in out
    assert alive(stranger.pid)


def test_a_part_whose_process_ended_is_named_with_its_pid(local):
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    started = processes.start_time(ended.pid) or 0.0
    ended.wait()
    stale_state(local, ended.pid, started)
    (emulator, endpoint) = health.parts(local, StackState.load(local))
    assert emulator.state == endpoint.state == f"dead: exited (pid {ended.pid})"


def test_a_state_file_from_before_start_times_still_loads_and_is_trusted(local, stranger):
    # written by the previous version: no start_times; the PID is trusted, as it was then
    StackState.path(local).parent.mkdir(parents=True, exist_ok=True)
    StackState.path(local).write_text(
        json.dumps(
            {
                "mode": "embedded",
                "aws_url": local.aws_endpoint_url,
                "model_server_url": local.model_server_url,
                "processes": {"emulator": stranger.pid},
                "started_at": 0,
            }
        )
    )
    state = StackState.load(local)
    assert state is not None and state.start_times == {}
    assert state.owner("emulator").ours


def test_a_zombie_that_is_not_our_child_counts_as_ended():
    """A part killed while its parent (or a PID 1 that never reaps) has not collected it yet
    has ended: status must say dead, not 'not answering'."""
    never_reaps = (
        "import os, time\n"
        "pid = os.fork()\n"
        "if pid == 0: os._exit(0)\n"
        "print(pid, flush=True); time.sleep(120)"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", never_reaps],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        orphan = int(parent.stdout.readline())
        wait_until(lambda: not alive(orphan), "the forked child to end", timeout=10)
        assert Path(f"/proc/{orphan}").exists()  # a zombie, still in the process table
        assert not processes.alive(orphan)
        assert processes.ownership(orphan, None).gone
        assert processes.alive(parent.pid)
    finally:
        parent.kill()
        parent.wait()
