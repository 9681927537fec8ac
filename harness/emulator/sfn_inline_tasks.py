"""A speed-up: a Task, Map or Parallel state without a timeout runs on its execution's thread.

moto's engine evaluates every such state on a new thread and waits for it with the state's
TimeoutSeconds (`ExecutionState._evaluate_with_timeout`): ~0.3 ms and two thread hand-overs
per Task. Without TimeoutSeconds (or TimeoutSecondsPath) the wait is 99999999 s, so the
thread enforces nothing: the waiting thread is not woken by a stop either, in both cases
the state runs to its end. Such states now run inline; moto's own code does the rest (the
frame, the output, the errors), given a thread object that runs its target at start().
States with a timeout keep their thread, which is what enforces it.
"""

from __future__ import annotations

import threading
from typing import Any

_MODULE = "moto.stepfunctions.parser.asl.component.state.exec.execute_state"
_installed: dict[str, Any] = {}
_lock = threading.Lock()
_inline = threading.local()


class _InlineThread:
    """What `_evaluate_with_timeout` uses of a Thread: its target runs inside start()."""

    def __init__(self, target, daemon: bool | None = None):
        self._target = target

    def start(self) -> None:
        self._target()

    def is_alive(self) -> bool:  # moto lists it in TMP_THREADS; sfn_ended prunes ended ones
        return False


def problems() -> list[str]:
    import importlib
    import inspect

    module = importlib.import_module(_MODULE)
    owner = getattr(module, "ExecutionState", None)
    method = _installed.get("method") or getattr(owner, "_evaluate_with_timeout", None)
    if method is None or list(inspect.signature(method).parameters) != ["self", "env"]:
        return ["ExecutionState._evaluate_with_timeout(self, env) changed"]
    if getattr(module, "Thread", None) is not threading.Thread and "thread" not in _installed:
        return [f"{_MODULE} no longer imports threading.Thread by name"]
    return []


def install() -> None:
    import importlib

    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

    module = importlib.import_module(_MODULE)
    with _lock:
        if "method" in _installed:
            return
        owner = module.ExecutionState
        original = _installed["method"] = owner._evaluate_with_timeout
        real_thread = _installed["thread"] = module.Thread

        def evaluate(self, env) -> None:
            timeout = self.timeout
            untimed = (
                type(timeout) is TimeoutSeconds
                and timeout.timeout_seconds == TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS
            )
            _inline.on = untimed
            try:
                original(self, env)
            finally:
                _inline.on = False

        def thread(*args, **kwargs):
            if getattr(_inline, "on", False):
                _inline.on = False  # only the state's own thread, not any its work starts
                return _InlineThread(*args, **kwargs)
            return real_thread(*args, **kwargs)

        owner._evaluate_with_timeout = evaluate
        module.Thread = thread


def uninstall() -> None:
    import importlib

    with _lock:
        method = _installed.pop("method", None)
        real_thread = _installed.pop("thread", None)
    if method is None:
        return
    module = importlib.import_module(_MODULE)
    module.ExecutionState._evaluate_with_timeout = method
    module.Thread = real_thread
