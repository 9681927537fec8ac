"""`python -m harness.stack.supervisor --status-file F [--listen H:P] [--preload M] -- COMMAND`:
keep a server running.

The embedded stack runs the model server under this, as SageMaker runs a container: when the
server dies (a crash, an OOM kill, `kill -9`) another takes its place at once (issue 15;
docs/contracts.md section 2). Two things make that take ~0.1 s: the supervisor loads the
server's heavy parts once (`--preload MODULE`: numpy, onnxruntime, Pillow, Data Capture's S3
client) and forks each `python -m ...` child from itself (harness/preforked.py), so a new
server only builds the model's session (~50 ms) instead of starting Python and onnxruntime,
which alone can take seconds on a loaded machine; and the listening socket is held here
(`--listen`), so callers queue in its backlog instead of being refused while one server
replaces another (a server handed the socket loads its model before it accepts). In docker
mode Compose's restart policy does this job. The status file (JSON) says how often the server
was replaced and why, for `harness status`.

(A warm standby server, loaded and waiting for its turn, was dropped in issue 17: with the
preload a fresh fork is back in ~105 ms against the standby's ~75, and the standby held
~14 MB for those 30 ms.)

The supervisor is the process group's leader and its children stay in that group, so `down`
(SIGTERM to the group) reaches them all; the supervisor then lets the server drain and flush
Data Capture instead of replacing it. Should the supervisor itself be killed, the kernel sends
its children SIGTERM (PR_SET_PDEATHSIG), so no orphaned server keeps the port.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from harness import preforked

QUICK_EXIT_SECONDS = 5.0  # a child that dies sooner than this after its start is crash-looping
MAX_BACKOFF_SECONDS = 30.0
_PR_SET_PDEATHSIG = 1


def describe_exit(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def crashed(status: int) -> bool:
    """Ended by itself (an exit code, or a crash signal such as SIGSEGV), not killed from
    outside: a user's or the OOM killer's kill -9 right after a restart is no crash loop."""
    code = os.waitstatus_to_exitcode(status)
    return code >= 0 or -code not in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)


def backoff(quick_exits: int) -> float:
    """No wait for a first crash (the endpoint must be back fast); then 1, 2, 4... up to 30 s,
    so a server that cannot start (a broken model, a port taken) does not spin the CPU."""
    if quick_exits <= 1:
        return 0.0
    return min(2.0 ** (quick_exits - 2), MAX_BACKOFF_SECONDS)


def _die_with_parent_hook():
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork: the hook only calls it
    parent = os.getpid()

    def hook() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the supervisor died before prctl took effect
            os._exit(1)

    return hook


class Supervisor:
    """Runs COMMAND, and again each time it dies; with `listen` it holds the listening socket
    itself and hands it to every child (`--listen-fd`), so the port never closes between them."""

    def __init__(
        self,
        name: str,
        command: list[str],
        status_file: Path,
        listen: str = "",
        preload: str = "",
    ):
        self.name = name
        self.command = command
        # `-m MODULE` children forked from here once MODULE's imports are done (harness/preforked.py)
        self.module = preforked.module_command(command) if preload else None
        if self.module is not None:
            why = preforked.preload(preload)
            if why:
                print(f"supervisor: cannot preload {preload} ({why}); starting new interpreters")
                self.module = None
        self.status_file = status_file
        self.sock: socket.socket | None = None
        if listen:
            host, _, port = listen.rpartition(":")
            self.sock = socket.create_server((host, int(port)), backlog=128)
        self.child: subprocess.Popen | preforked.ForkedChild | None = None
        self.stopping = False
        self.restarts = 0
        self.last_exit = ""
        self.last_restart_at: float | None = None
        self._hook = _die_with_parent_hook()

    def on_signal(self, signum, frame) -> None:
        self.stopping = True
        # in case only our PID was signalled; os.kill, not Popen.send_signal, which would reap
        # the child here, under the main loop's wait
        if self.child is not None and self.child.returncode is None:
            try:
                os.kill(self.child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def write_status(self) -> None:
        status = {
            "supervisor_pid": os.getpid(),
            "child_pid": self.child.pid if self.child else None,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "last_restart_at": self.last_restart_at,
        }
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(status))
        tmp.replace(self.status_file)

    def _spawn(self) -> subprocess.Popen | preforked.ForkedChild:
        command, fds = list(self.command), ()
        if self.sock is not None:
            command += ["--listen-fd", str(self.sock.fileno())]
            fds = (self.sock.fileno(),)
        if self.module is not None:
            child = preforked.fork_module(
                self.module,
                command[3:],
                keep_fds=fds,
                before=self._hook,
                name=self.name.encode()[:15],
            )
        else:
            # preexec_fn is unsafe only with threads, and the supervisor has none of its own
            child = subprocess.Popen(
                command,
                preexec_fn=self._hook,  # noqa: PLW1509
                pass_fds=fds,
                stdin=subprocess.DEVNULL,
            )
        child.started = time.monotonic()
        if self.stopping:  # the group's SIGTERM came while the child was being forked
            child.send_signal(signal.SIGTERM)
        return child

    def run(self) -> int:
        self.child = self._spawn()
        self.write_status()
        quick_exits = 0
        while True:
            try:
                pid, status = os.wait()
            except ChildProcessError:  # every child reaped: only after a stop
                return 0
            if self.child is None or pid != self.child.pid:
                continue
            self.child.returncode = os.waitstatus_to_exitcode(status)
            if self.stopping:
                continue  # until os.wait finds no child left
            quick = time.monotonic() - self.child.started < QUICK_EXIT_SECONDS and crashed(status)
            quick_exits = quick_exits + 1 if quick else 1
            self.child = None
            self._count_restart(pid, status)
            delay = backoff(quick_exits)
            if delay:
                print(
                    f"supervisor: it keeps dying at start (see above); next try in {delay:.0f} s",
                    flush=True,
                )
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline and not self.stopping:
                time.sleep(0.1)
            if self.stopping:
                return 0
            self.child = self._spawn()
            self.write_status()

    def _count_restart(self, pid: int, status: int) -> None:
        self.restarts += 1
        self.last_exit = describe_exit(status)
        self.last_restart_at = time.time()
        print(
            f"supervisor: {self.name} (pid {pid}) ended ({self.last_exit}); restart {self.restarts}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.stack.supervisor",
        description="Run COMMAND; start it again whenever it dies, until SIGTERM or SIGINT.",
    )
    parser.add_argument("--name", default="the process", help="how the log names it")
    parser.add_argument("--status-file", type=Path, required=True)
    parser.add_argument("--listen", default="", help="HOST:PORT: hold this socket, pass it down")
    parser.add_argument(
        "--preload",
        default="",
        help="MODULE: import it here and fork `python -m ...` children from this process",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no COMMAND to run: pass it after --")
    try:
        supervisor = Supervisor(
            args.name,
            command,
            args.status_file,
            listen=args.listen,
            preload=args.preload,
        )
    except OSError as exc:  # the port is taken
        print(f"supervisor: cannot listen on {args.listen}: {exc}", file=sys.stderr, flush=True)
        return 1
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, supervisor.on_signal)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
