"""`python -m MODULE ARGS` as a fork of a process that has already imported MODULE's heavy
dependencies (the supervisor's `--preload`), instead of a new interpreter.

Why (issue 17): the model server's active and standby processes each imported numpy,
onnxruntime and Pillow into a heap of their own: 165 MB PSS for the supervisor and its two
servers. Forked from a supervisor that imported them once (and froze that heap for the
collector), they share those pages: measured by hand, ~18 MB for the supervisor, ~40 for the
active server with its onnxruntime session, ~12 for a standby (since dropped, supervisor.py).

The child is what the interpreter would have made of `python -m MODULE ARGS`: `sys.argv`,
`__main__`, stdin on /dev/null, only the descriptors it was handed, default
signal handlers, the interpreter's exit (atexit, non-daemon threads, flushed streams).
Standard library only, and below both parts that use it: the model server's supervisor
(harness/stack/supervisor.py) imports it, and the Lambda worker template
(emulator/worker_template.py), which runs outside the harness's packages, loads this file by
its path for the same steps and to end process groups (the emulator imports it for that too).
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import runpy
import signal
import sys
import threading
import traceback
from collections.abc import Callable

_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def preload(module: str) -> str:
    """Import `module` here, for every child to share; '' or why it could not."""
    try:
        importlib.import_module(module)
        why = ""
    except Exception as exc:  # noqa: BLE001  the caller says it, and carries on without
        why = f"{type(exc).__name__}: {exc}"
    gc.collect()
    gc.freeze()  # the children's collections leave these pages shared
    return why


def module_command(command: list[str]) -> str | None:
    """MODULE when COMMAND is `<this interpreter> -m MODULE ARGS...` (its ARGS: command[3:])."""
    if len(command) >= 3 and command[1] == "-m" and command[0] == sys.executable:
        return command[2]
    return None


class ForkedChild:
    """What the supervisor uses of subprocess.Popen, for a child it forked."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        self.started = 0.0

    def send_signal(self, signum: int) -> None:
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass


def fork_module(
    module: str,
    args: list[str],
    *,
    keep_fds: tuple[int, ...],
    before: Callable[[], None] | None = None,
    name: bytes = b"",
) -> ForkedChild:
    """Run `python -m module args` in a fork of this process."""
    # SIGTERM and SIGINT wait (blocked) across the fork: one arriving between the fork and the
    # child's reset of its handlers would run this process's handler in the child, which would
    # swallow it (the supervisor's only marks itself stopping), so a `down` could leave that
    # child serving and its supervisor waiting for it. Blocked, it stays pending in the child
    # until the defaults are back; in this process it runs when the mask is restored.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        pid = os.fork()
        if pid == 0:
            _become(module, args, keep_fds, before, name, mask)  # never returns
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    return ForkedChild(pid)


def _become(module, args, keep_fds, before, name, mask) -> None:
    code = 1
    try:
        if before is not None:
            before()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a pending SIGTERM ends it here
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        close_all_but((0, 1, 2, *keep_fds))
        if name:
            name_process(name)
        sys.argv = ["", *args]  # run_module sets argv[0] to the module's file
        code = run_as_main(module)
    except BaseException:  # noqa: BLE001  a child that could not even start says why
        traceback.print_exc()
    finally:
        os._exit(code)


def run_as_main(module: str) -> int:
    """`python -m module` from here on: its exit code, after what the interpreter's exit does."""
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:  # noqa: BLE001  as the interpreter reports an uncaught error
        traceback.print_exc()
        code = 1
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:  # the interpreter's exit waits for non-daemon threads
        shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    return code


def kill_group(pid: int) -> None:
    """SIGKILL to the process group `pid` leads (it is gone already: nothing to do)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def close_all_but(keep: tuple[int, ...]) -> None:
    low = 0
    for fd in sorted(set(keep)):
        if fd > low:  # never an empty range: Python 3.11's closerange(n, n) closes them all
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def name_process(name: bytes) -> None:
    """What ps and top show (Linux; at most 15 bytes)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(15, name, 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):  # not Linux: the name is cosmetic
        pass
