"""harness.stack.supervisor on a stand-in child: restarts, its status file, clean stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.stack.readiness import wait_until
from harness.stack.supervisor import MAX_BACKOFF_SECONDS, backoff, crashed, describe_exit
from tests.support.pids import alive

# a child that notes each start (its pid, one line a start) and waits to be killed; SIGTERM
# ends it with code 0, as the model server ends after draining
CHILD = (
    "import os, signal, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
    "open(sys.argv[1], 'a').write(f'{os.getpid()}\\n')\n"
    "while True: time.sleep(1)\n"
)


def read_status(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


@pytest.fixture
def supervised(tmp_path):
    status, starts = tmp_path / "status.json", tmp_path / "starts.txt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.stack.supervisor", "--name", "stand-in"]
        + ["--status-file", str(status), "--", sys.executable, "-c", CHILD, str(starts)],
        start_new_session=True,  # as processes.spawn: the supervisor leads its group
        stdout=subprocess.DEVNULL,
    )

    def started() -> list[int]:
        return [int(line) for line in starts.read_text().split()] if starts.exists() else []

    wait_until(lambda: len(started()) == 1, "the first child", timeout=10)
    wait_until(lambda: read_status(status).get("child_pid"), "the status file", timeout=5)
    yield proc, status, started
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_a_killed_child_is_started_again_at_once_and_counted(supervised):
    proc, status, started = supervised
    first = started()[0]
    assert read_status(status)["child_pid"] == first and read_status(status)["restarts"] == 0
    # WHEN the child is killed THEN a new one runs within 2 s, and the status file says why
    os.kill(first, signal.SIGKILL)
    took = wait_until(lambda: len(started()) == 2, "the restarted child", timeout=2)
    assert took < 2
    assert not alive(first)
    wait_until(lambda: read_status(status).get("restarts") == 1, "the status file", timeout=2)
    now = read_status(status)
    assert now["child_pid"] == started()[1] and alive(now["child_pid"])
    assert now["last_exit"] == "killed by SIGKILL"
    assert now["supervisor_pid"] == proc.pid
    # AND a second kill is counted too
    os.kill(started()[1], signal.SIGKILL)
    wait_until(lambda: read_status(status).get("restarts") == 2, "a second restart", timeout=2)
    # with no crash-loop pause: a kill from outside is no crash
    wait_until(lambda: len(started()) == 3, "the third child", timeout=2)


def test_sigterm_to_the_group_stops_both_without_a_restart(supervised):
    proc, status, started = supervised
    child = started()[0]
    os.killpg(proc.pid, signal.SIGTERM)  # what `harness down` sends
    assert proc.wait(timeout=10) == 0
    assert not alive(child)
    assert len(started()) == 1 and read_status(status)["restarts"] == 0


def test_sigterm_to_the_supervisor_alone_stops_its_child(supervised):
    proc, _, started = supervised
    child = started()[0]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    wait_until(lambda: not alive(child), "the child to end", timeout=5)
    assert len(started()) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_supervisor_takes_its_child_along(supervised):
    # no orphaned server may keep the port: the kernel sends the child SIGTERM
    proc, _, started = supervised
    child = started()[0]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=5)
    wait_until(lambda: not alive(child), "the orphaned child to end", timeout=5)


def test_backoff_is_none_for_a_first_crash_and_bounded_for_a_crash_loop():
    assert backoff(0) == backoff(1) == 0.0
    assert [backoff(n) for n in (2, 3, 4)] == [1.0, 2.0, 4.0]
    assert backoff(50) == MAX_BACKOFF_SECONDS


def test_only_a_child_that_ends_by_itself_counts_as_crashing():
    assert crashed(1 << 8) and crashed(0) and crashed(signal.SIGSEGV)
    assert not crashed(signal.SIGKILL) and not crashed(signal.SIGTERM)


def test_exit_descriptions():
    assert describe_exit(3 << 8) == "exit code 3"
    assert describe_exit(signal.SIGKILL) == "killed by SIGKILL"


def test_without_a_command_it_says_how_to_call_it(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "harness.stack.supervisor", "--status-file", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 2 and "pass it after --" in out.stderr


# a stand-in server for --listen: serves its pid on the inherited socket
SERVER = (
    "import os, socket, sys\n"
    "fd = int(sys.argv[sys.argv.index('--listen-fd') + 1])\n"
    "listener = socket.socket(fileno=fd)\n"
    "while True:\n"
    "    conn, _ = listener.accept()\n"
    "    conn.sendall(str(os.getpid()).encode())\n"
    "    conn.close()\n"
)


def ask(port: int) -> int:
    """Which server answers: connect (never refused while the supervisor holds the socket)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        return int(conn.recv(64))


def test_a_killed_server_is_replaced_on_the_same_socket_and_nobody_is_refused(tmp_path):
    from harness.stack.readiness import free_port

    port, status = free_port(), tmp_path / "status.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.stack.supervisor"]
        + ["--listen", f"127.0.0.1:{port}", "--status-file", str(status)]
        + ["--", sys.executable, "-c", SERVER],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: read_status(status).get("child_pid"), "the server", timeout=10)
        first = read_status(status)
        assert ask(port) == first["child_pid"]
        # WHEN the server is killed THEN the next caller waits in the supervisor's backlog and
        # is answered by its replacement, without a refused connection in between
        os.kill(first["child_pid"], signal.SIGKILL)
        # (kill() returns before the process is gone: until then it may still accept, and drop)
        wait_until(lambda: not alive(first["child_pid"]), "the killed server to go", timeout=5)
        replacement = ask(port)
        assert replacement != first["child_pid"]
        wait_until(lambda: read_status(status).get("restarts") == 1, "the status", timeout=5)
        now = read_status(status)
        assert now["child_pid"] == replacement
        assert now["last_exit"] == "killed by SIGKILL"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert not alive(now["child_pid"])


def test_a_taken_port_is_a_clear_error(tmp_path):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "harness.stack.supervisor", "--listen", f"127.0.0.1:{port}"]
            + ["--status-file", str(tmp_path / "s"), "--", sys.executable, "-c", "pass"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert out.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in out.stderr


def ask_json(port: int) -> dict:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        return json.loads(conn.recv(65536))


def _preloaded_supervisor(tmp_path, preload: str) -> tuple[subprocess.Popen, int, Path]:
    from harness.stack.readiness import free_port

    port, status = free_port(), tmp_path / "status.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.stack.supervisor", "--preload", preload]
        + ["--listen", f"127.0.0.1:{port}", "--status-file", str(status)]
        + ["--", sys.executable, "-m", "tests.support.forked_server", "--flag"],
        start_new_session=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: read_status(status).get("child_pid"), "the first server", timeout=10)
    return proc, port, status


def test_preloaded_children_are_forks_that_take_over_as_new_interpreters_would(tmp_path):
    # issue 17: the model server's processes fork from a supervisor that imported their
    # modules once, and must still behave as `python -m MODULE ARGS` would
    proc, port, status = _preloaded_supervisor(tmp_path, "tests.support.forked_preload")
    try:
        first = read_status(status)
        answer = ask_json(port)
        assert answer["pid"] == first["child_pid"]
        assert answer["imported_in"] == proc.pid  # its module came from the supervisor's heap
        assert answer["argv"][0] == "--flag" and "--listen-fd" in answer["argv"]
        # only stdin, stdout, stderr and the listening socket (and the listing's own)
        listen_fd = int(answer["argv"][answer["argv"].index("--listen-fd") + 1])
        assert set(answer["open_fds"]) - {0, 1, 2, listen_fd} <= {max(answer["open_fds"])}
        os.kill(first["child_pid"], signal.SIGKILL)
        wait_until(lambda: not alive(first["child_pid"]), "the killed server to go", timeout=5)
        taken_over = ask_json(port)
        assert taken_over["pid"] != first["child_pid"]
        assert taken_over["imported_in"] == proc.pid  # the replacement is a fork too
        assert taken_over["argv"] == answer["argv"]
        wait_until(lambda: read_status(status).get("restarts") == 1, "the status", timeout=5)
        now = read_status(status)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert not alive(now["child_pid"])


def test_a_preload_that_fails_is_said_and_the_children_start_as_new_interpreters(tmp_path):
    proc, port, status = _preloaded_supervisor(tmp_path, "no_such_module_here")
    try:
        answer = ask_json(port)
        assert answer["pid"] == read_status(status)["child_pid"]
        assert answer["imported_in"] is None  # its own interpreter imported it as __main__
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "cannot preload no_such_module_here (ModuleNotFoundError" in out
