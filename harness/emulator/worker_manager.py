"""All Lambda pools of the emulator, by function version: the hook moto's `_invoke_lambda`
calls, prewarming at CreateFunction, and the end of a deleted function's workers. It owns the
worker templates (forked_workers.py) the pools fork from.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

from harness.emulator.forked_workers import WorkerTemplates
from harness.emulator.runtimes import shared as shared_runtimes
from harness.emulator.sandbox import runtime_environment
from harness.emulator.workers import FunctionPool, PoolOptions, WorkerState


class WorkerManager:
    """All pools, by function version; the hook moto's `_invoke_lambda` calls."""

    def __init__(self, options: PoolOptions, *, fork_workers: bool = True):
        from harness.config import Settings

        # LAMBDA_FORK_WORKERS: workers forked from a warm template per interpreter
        self._templates = WorkerTemplates(runtime_environment) if fork_workers else None
        self._options = dataclasses.replace(
            options,
            state_dir=Path(options.state_dir),
            # HARNESS_LAMBDA_RUNTIMES: which interpreter each Runtime runs under
            runtimes=options.runtimes or shared_runtimes(Settings.from_env()),
            templates=self._templates,
        )
        self._pools: dict[tuple, FunctionPool] = {}
        self._lock = threading.Lock()

    def _pool(self, function: Any) -> FunctionPool:
        key = (function.account_id, function.region, function.function_name, str(function.version))
        with self._lock:
            pool = self._pools.get(key)
            if pool is None or pool.function is not function:  # recreated under the same name
                if pool is not None:
                    pool.close()
                pool = self._pools[key] = FunctionPool(function, self._options)
        return pool

    def prewarm(self, function: Any) -> None:
        """Start the function's warm workers now, in the background (after CreateFunction)."""
        pool = self._pool(function)
        threading.Thread(target=pool.prewarm, daemon=True, name="lambda-prewarm").start()

    def forget(self, account: str, region: str, name: str, qualifier: str | None) -> None:
        """End the workers of a deleted function (all its versions, or the one deleted)."""
        with self._lock:
            keys = [
                key
                for key in self._pools
                if key[:3] == (account, region, name) and qualifier in (None, key[3])
            ]
            pools = [self._pools.pop(key) for key in keys]
        for pool in pools:
            pool.close()

    def invoke(self, function: Any, event: Any) -> tuple[str, bool, str]:
        pool = self._pool(function)
        # moto hands us the JSON-decoded payload (or the string "{}" for an empty one)
        body = b"{}" if event is None or event == "{}" else json.dumps(event).encode()
        return pool.invoke(body)

    def workers(self, function_name: str | None = None) -> int:
        """How many worker processes run (for one function, or all)."""
        with self._lock:
            pools = [p for key, p in self._pools.items() if function_name in (None, key[2])]
        return sum(pool.worker_count() for pool in pools)

    def states(self, function_name: str) -> list[WorkerState]:
        """The state of every live worker of a function (all its versions)."""
        with self._lock:
            pools = [p for key, p in self._pools.items() if key[2] == function_name]
        return [state for pool in pools for state in pool.states()]

    def template_pids(self) -> list[int]:
        return self._templates.pids() if self._templates else []

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
        if self._templates is not None:
            self._templates.close()
