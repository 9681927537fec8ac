"""A Lambda worker template: `python worker_template.py SOCKET`, run by a Runtime's interpreter.

It imports what every Python function's start imports (boto3, which the runtime ships: most of
a worker's memory and start time), freezes that heap, and then forks a worker for each request
on SOCKET, so the workers share those pages instead of each holding its own copy (issue 17).
The child becomes what `python -m awslambdaric HANDLER` would be: its own session, the
function's environment, working folder and `sys.path`, stdout and stderr on the descriptor it
was sent. awslambdaric itself is imported in the child (it reads the function's log settings
at import). The template reports each worker's exit status on the connection that asked for
it, and ends when its stdin does (the emulator is gone), taking its workers with it.

Standard library only (with harness/preforked.py, loaded by its path for the steps a fork
takes to become `python -m MODULE`): it runs outside the harness's packages.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import select
import signal
import socket
import sys
import time


def _load_preforked():
    """harness/preforked.py (standard library only), by its path: this script runs under
    a Runtime's interpreter, where the harness's packages are not importable."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(os.path.dirname(here), "preforked.py")
    spec = importlib.util.spec_from_file_location("_harness_preforked", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PREFORKED = _load_preforked()


def main() -> None:
    path = sys.argv[1]
    # never passed in (forked_workers.py): the interpreter set it, coercing a C locale (PEP 538),
    # as it would in a fresh worker with the same LANG and LC_ALL (else there is no fork)
    coerced = os.environ.get("LC_CTYPE")
    own_dir = os.path.dirname(os.path.abspath(__file__))
    base_path = [p for p in sys.path if p and os.path.abspath(p) != own_dir]
    # the runtime's own boto3 (a client is the function's business); an interpreter without it
    # still forks, just saves less
    PREFORKED.preload("boto3")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server.bind(path)
    server.listen(64)
    wake_r, wake_w = os.pipe()
    for fd in (wake_r, wake_w):
        os.set_blocking(fd, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd gets a byte
    modules = sorted({name.split(".")[0] for name in sys.modules} - {"__main__", "__mp_main__"})
    sys.stdout.write(json.dumps({"pid": os.getpid(), "modules": modules}) + "\n")
    sys.stdout.flush()
    watching: dict[int, socket.socket] = {}  # worker pid -> the connection that asked for it
    stdin = sys.stdin.fileno()
    while True:
        ready = select.select([server, wake_r, stdin], [], [])[0]
        if wake_r in ready:
            while _drained(wake_r):
                pass
            _reap(watching)
        if stdin in ready and not os.read(stdin, 4096):
            break  # the emulator is gone
        if server in ready:
            _serve(server, watching, base_path, coerced)
    for pid in watching:
        PREFORKED.kill_group(pid)
    # its folder too: after a kill -9 of the emulator nobody else would remove it
    for remove, target in ((os.unlink, path), (os.rmdir, os.path.dirname(path))):
        try:
            remove(target)
        except OSError:
            pass


def _drained(fd: int) -> bool:
    try:
        return bool(os.read(fd, 512))
    except BlockingIOError:
        return False


def _serve(server: socket.socket, watching: dict, base_path: list[str], coerced) -> None:
    conn, _ = server.accept()
    fds: list[int] = []
    try:
        data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 4)
        request = json.loads(data)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"worker template: a bad request ({exc})\n")
        conn.close()
        for fd in fds:
            os.close(fd)
        return
    out = fds[0]
    pid = PREFORKED.fork_module(
        "awslambdaric",
        request["args"],
        keep_fds=(),
        before=lambda: _enter_function(request, out, base_path, coerced),
        name=b"awslambdaric",  # what ps, top and the benches see it as
    ).pid
    for fd in fds:
        os.close(fd)
    watching[pid] = conn
    conn.send(f"{pid}".encode())
    _reap(watching)  # a worker may already have ended, before it was watched


def _reap(watching: dict) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = watching.pop(pid, None)
        if conn is not None:
            try:
                conn.send(f"{os.waitstatus_to_exitcode(status)}".encode())
            except OSError:
                pass
            conn.close()


def _enter_function(request: dict, out: int, base_path: list[str], coerced) -> None:
    """In the child, before it runs awslambdaric (preforked.fork_module): what a fresh worker
    would have, from its process group to its `sys.path`."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()  # its own process group: a timeout's kill takes its children too
    os.dup2(out, 1)
    os.dup2(out, 2)
    env = request["env"]
    os.environ.clear()
    os.environ.update(env)
    if coerced and "LC_CTYPE" not in env:
        os.environ["LC_CTYPE"] = coerced
    time.tzset()
    os.chdir(request["cwd"])
    # what `python -m` sets up: the working folder first, then PYTHONPATH, then the runtime's
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:] = [os.getcwd(), *extra, *base_path]
    importlib.invalidate_caches()


if __name__ == "__main__":
    main()
