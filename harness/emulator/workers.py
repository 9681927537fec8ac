"""Warm Lambda workers: pools of `python -m awslambdaric <Handler>` processes (sandbox.py).

One `FunctionPool` per function version holds a queue of invocations and a few workers that
take them from it through their own Runtime API. The pool starts `min_workers` on first use
and grows up to `max_workers` while invocations wait. A function's Timeout is enforced by
killing the worker's process group; a crash or an init failure is reported as AWS reports
it, and the next invocation gets a fresh worker. A change of code or configuration (or of
the source files under hot reload) starts a new generation: old workers finish what they
hold and go.

The pool owns every worker's state (`WorkerState`, and the invocation it holds) and moves it
only under its lock; a worker asks for what it needs through sandbox.PoolSide.
"""

from __future__ import annotations

import collections
import enum
import json
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.emulator.code import CodeSource, SourceWatcher, code_source
from harness.emulator.contract import CODE_PATHS_TAG
from harness.emulator.forked_workers import WorkerTemplate, WorkerTemplates
from harness.emulator.runtime_api import Invocation
from harness.emulator.runtimes import Runtimes
from harness.emulator.sandbox import Worker, exit_reason, lambda_environment
from harness.faults import lambdas as faults  # `harness fault lambda`: faults.json

# Lambda gives init 10 s; a busy 2-core CI box needs more slack before we give up on a worker.
PICKUP_TIMEOUT = 30.0


class WorkerState(enum.Enum):
    STARTING = "starting"  # the process runs; its handler has not asked for work yet
    IDLE = "idle"  # initialised, waiting for an invocation
    BUSY = "busy"  # holds an invocation
    RETIRED = "retired"  # old generation, timed out or closing: ends once it holds nothing
    DEAD = "dead"  # the process exited; the pool has forgotten it


_LIVE = (WorkerState.STARTING, WorkerState.IDLE, WorkerState.BUSY)  # what _grow counts


@dataclass
class _Slot:
    """The pool's record of one worker."""

    generation: int
    state: WorkerState = WorkerState.STARTING
    current: Invocation | None = None  # BUSY, or RETIRED while it finishes
    init_ms: float | None = None  # until its first invocation's REPORT carries it
    init_error: bytes | None = None
    idle_since: float = 0.0  # when it last became IDLE (retired after idle_seconds)


@dataclass(frozen=True)
class PoolOptions:
    """What every pool of one emulator shares (worker_manager.WorkerManager holds it)."""

    host: str  # where a worker's Runtime API listens
    endpoint_url: str  # the emulator, as the functions' AWS endpoint
    state_dir: Path
    min_workers: int
    max_workers: int
    # workers beyond the minimum that stay idle this long end, as Lambda reclaims idle
    # environments: the pool shrinks back after a burst (0: never)
    idle_seconds: float = 0.0
    runtimes: Runtimes | None = None  # None: each Runtime under this interpreter
    templates: WorkerTemplates | None = None  # None: every worker starts fresh


class FunctionPool:
    """The warm workers of one function version and the invocations waiting for them."""

    def __init__(self, function: Any, options: PoolOptions):
        self.function = function
        self._runtimes = options.runtimes or Runtimes()
        self._runtime_noted = False
        self._templates = options.templates
        self._fresh_noted = False
        self.host = options.host
        self._endpoint_url = options.endpoint_url
        self._state_dir = options.state_dir
        self._min = max(1, options.min_workers)
        self._max = max(self._min, options.max_workers)
        self._idle_seconds = options.idle_seconds
        self._cond = threading.Condition()
        self._queue: collections.deque[Invocation] = collections.deque()
        self._slots: dict[Worker, _Slot] = {}  # the live workers
        self._by_request: dict[str, Invocation] = {}
        self._generation = 0
        self._config: tuple | None = None
        self._source: CodeSource | None = None
        self._watcher: SourceWatcher | None = None
        self._closed = False

    # the invoke path (moto's request thread)
    def invoke(self, event: bytes) -> tuple[str, bool, str]:
        fn = self._refresh()
        fault = faults.pick(self._state_dir, fn.function_name)
        if fault is not None and fault.kind != "crash":
            return faults.answer(fault, fn)  # no worker runs it; a service error raises
        invocation = Invocation(
            event=event, function_arn=fn.function_arn, timeout=float(fn.timeout)
        )
        with self._cond:
            if fault is None:  # a crashing worker's answer is refused: it dies holding the call
                self._by_request[invocation.request_id] = invocation
            self._queue.append(invocation)
            try:
                self._grow()
            except OSError as exc:  # e.g. a code folder (harness:code-paths) that is gone
                self._queue.remove(invocation)
                invocation.error("Runtime.ExitError", f"cannot start the runtime: {exc}")
            self._cond.notify()
        try:
            if fault is not None:
                faults.crash_when_picked(invocation, PICKUP_TIMEOUT)
            self._await(invocation)
        finally:
            with self._cond:
                self._by_request.pop(invocation.request_id, None)
        return (
            invocation.payload.decode("utf-8", "replace"),
            invocation.errored,
            "\n".join(invocation.log_tail),
        )

    def worker_count(self) -> int:
        with self._cond:
            return len(self._slots)

    def states(self) -> list[WorkerState]:
        with self._cond:
            return [slot.state for slot in self._slots.values()]

    def prewarm(self) -> None:
        """One warm worker ahead of the first invoke (which tops the pool up to its minimum)."""
        self._refresh()
        with self._cond:
            if not self._closed:
                try:
                    self._grow(minimum=1)
                except OSError:  # the first invoke reports it
                    pass

    def _await(self, invocation: Invocation) -> None:
        if not invocation.picked.wait(PICKUP_TIMEOUT):
            with self._cond:
                if not invocation.picked.is_set():
                    invocation.cancelled = True
            if invocation.cancelled:
                invocation.error(
                    "Sandbox.Timedout",
                    f"no worker became ready within {PICKUP_TIMEOUT:.0f} seconds",
                )
                return
        if invocation.done.is_set():  # answered, or failed before any worker took it
            return
        remaining = invocation.deadline_ms / 1000 - time.time()
        if not invocation.done.wait(max(0.0, remaining)):
            message = f"Task timed out after {invocation.timeout:.2f} seconds"
            if invocation.error("Sandbox.Timedout", message):
                worker = invocation.worker
                worker.logs.write(
                    f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} "
                    f"{invocation.request_id} {message}"
                )
                with self._cond:  # unless it answered just now and moved on to other work
                    slot = self._slots.get(worker)
                    if slot is not None and slot.current is invocation:
                        self._retire(worker, slot)
                self._report(worker, invocation)

    def _refresh(self) -> Any:
        """Start a new generation when the code, the configuration or the sources changed."""
        fn = self.function
        config = (
            fn.code_sha_256,
            fn.handler,
            fn.run_time,
            fn.timeout,
            fn.memory_size,
            json.dumps(fn.environment_vars, sort_keys=True),
            (fn.tags or {}).get(CODE_PATHS_TAG),
        )
        with self._cond:
            if config != self._config:
                self._config = config
                self._source = code_source(fn, self._state_dir)
                self._watcher = SourceWatcher(self._source.paths) if self._source.hot else None
                self._new_generation()
            elif self._watcher is not None and self._watcher.changed():
                self._new_generation()
        return fn

    def _new_generation(self) -> None:
        self._generation += 1
        for worker, slot in self._slots.items():
            slot.state = WorkerState.RETIRED
            if slot.current is None:
                worker.kill()
        self._cond.notify_all()

    def _idle_too_long(self, slot: _Slot) -> bool:  # called locked
        if not self._idle_seconds or slot.state is not WorkerState.IDLE:
            return False
        if time.monotonic() - slot.idle_since < self._idle_seconds:
            return False
        return sum(1 for s in self._slots.values() if s.state in _LIVE) > self._min

    def _retire(self, worker: Worker, slot: _Slot) -> None:  # called locked
        if slot.state is not WorkerState.DEAD:  # a dead worker's pid may be someone else's now
            slot.state = WorkerState.RETIRED
            worker.kill()

    def _grow(self, minimum: int | None = None) -> None:
        """Start workers so that every waiting invocation has one coming (called locked)."""
        live = [s for s in self._slots.values() if s.state in _LIVE]
        coming = sum(1 for s in live if s.state is not WorkerState.BUSY)
        waiting = sum(1 for inv in self._queue if not inv.cancelled)
        minimum = self._min if minimum is None else minimum
        while len(live) < self._max and (len(live) < minimum or coming < waiting):
            live.append(self._spawn())
            coming += 1

    def _spawn(self) -> _Slot:
        """(called locked, so the worker's own threads find its slot)"""
        # the interpreter its Runtime names; the first call per runtime may make its environment
        runtime = self._runtimes.resolve(self.function.run_time)
        environment = lambda_environment(
            self.function, self._source, self._endpoint_url, runtime.python
        )
        template, why_fresh = self._template(runtime.python)
        worker = Worker(
            self, environment, self._source, self.function.handler, runtime.python, template
        )
        if runtime.note and not self._runtime_noted:  # the fallback, once in the function's log
            self._runtime_noted = True
            worker.logs.write(f"WARNING {runtime.note}")
        why_fresh = why_fresh or worker.fork_error
        if why_fresh and not self._fresh_noted:  # once in the function's log
            self._fresh_noted = True
            worker.logs.write(f"INFO this function's workers start as fresh processes: {why_fresh}")
        slot = self._slots[worker] = _Slot(generation=self._generation)
        return slot

    def _template(self, python: str) -> tuple[WorkerTemplate | None, str]:
        """The template to fork from, or None and why not (called locked)."""
        if self._templates is None:
            return None, ""
        template = self._templates.get(python)
        if template is None:
            return None, self._templates.failures.get(python, "")
        shadowed = template.shadowed_by([self._source.cwd, *self._source.paths])
        if shadowed:  # its own copy must win, as on AWS
            return None, f"its code holds {', '.join(sorted(shadowed))}, preloaded in the template"
        return template, ""

    # the worker side (sandbox.PoolSide: Runtime API threads, log pumps, exit watchers)
    def lookup(self, request_id: str) -> Invocation | None:
        return self._by_request.get(request_id)

    def holding(self, worker: Worker) -> Invocation | None:
        with self._cond:
            slot = self._slots.get(worker)
            return slot.current if slot is not None else None

    def init_failed(self, worker: Worker, body: bytes) -> None:
        with self._cond:
            slot = self._slots.get(worker)
            if slot is not None:
                slot.init_error = body

    def take(self, worker: Worker) -> Invocation | None:
        with self._cond:
            slot = self._slots.get(worker)
            if slot is None:  # it exited while its request was on the way
                return None
            if slot.state is WorkerState.STARTING:
                slot.state, slot.idle_since = WorkerState.IDLE, time.monotonic()
                slot.init_ms = (time.monotonic() - worker.started) * 1000
            while True:
                if slot.state is WorkerState.DEAD:
                    return None
                if (
                    slot.state is WorkerState.RETIRED
                    or slot.generation != self._generation
                    or self._closed
                ):
                    self._retire(worker, slot)
                    return None
                while self._queue:
                    invocation = self._queue.popleft()
                    if invocation.cancelled:
                        continue
                    slot.state, slot.current = WorkerState.BUSY, invocation
                    invocation.worker = worker
                    invocation.init_ms, slot.init_ms = slot.init_ms, None  # only the cold start
                    invocation.started = time.monotonic()
                    invocation.deadline_ms = int((time.time() + invocation.timeout) * 1000)
                    invocation.log_tail.append(
                        worker.logs.start(invocation.request_id, str(self.function.version))
                    )
                    invocation.picked.set()
                    return invocation
                if self._idle_too_long(slot):
                    self._retire(worker, slot)
                    return None
                self._cond.wait(1.0)

    def complete(self, worker: Worker, invocation: Invocation, body: bytes, errored: bool) -> None:
        worker.drain_output()  # its log lines belong to this invocation, before END/REPORT
        with self._cond:  # free the worker first, so the next invoke sees it available
            slot = self._slots.get(worker)
            if slot is not None and slot.current is invocation:
                slot.current = None
                if slot.state is WorkerState.BUSY:
                    slot.state, slot.idle_since = WorkerState.IDLE, time.monotonic()
        if not invocation.done.is_set():
            self._report(worker, invocation)  # first, so a LogResult tail holds END and REPORT
        invocation.finish(body, errored)

    def _report(self, worker: Worker, invocation: Invocation) -> None:
        duration = (time.monotonic() - invocation.started) * 1000
        invocation.log_tail.extend(
            worker.logs.end(
                invocation.request_id, duration, int(self.function.memory_size), invocation.init_ms
            )
        )

    def exited(self, worker: Worker, returncode: int) -> None:
        with self._cond:
            slot = self._slots.pop(worker, None)
            if slot is None:
                return
            was, slot.state = slot.state, WorkerState.DEAD
            invocation = slot.current
            init_error = slot.init_error if was is WorkerState.STARTING else None
            if invocation is None and was is WorkerState.STARTING:
                # died while initialising: like Lambda, the invoke that waited for it fails
                invocation = next((i for i in self._queue if not i.cancelled), None)
                if invocation is not None:
                    self._queue.remove(invocation)
            if not self._closed:  # replace it only for waiting work: a broken init must not loop
                self._grow(minimum=0)
        if invocation is not None:
            if init_error:
                invocation.finish(init_error, True)
            elif invocation.error("Runtime.ExitError", exit_reason(returncode)):
                worker.logs.write(
                    f"RequestId: {invocation.request_id} Error: {exit_reason(returncode)}"
                )
                if invocation.started is not None:
                    self._report(worker, invocation)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            workers = list(self._slots)
            for slot in self._slots.values():
                slot.state = WorkerState.RETIRED
            self._cond.notify_all()
        for worker in workers:
            worker.kill()
        deadline = time.monotonic() + 5
        for worker in workers:
            try:
                worker.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
