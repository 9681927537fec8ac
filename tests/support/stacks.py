"""An embedded stack of a test's own: free ports and a state folder of its own, started and
stopped by the same code as `harness up` / `harness down`, so it never meets a developer's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from harness.config import Settings
from harness.stack import stack
from harness.stack.processes import StackState
from harness.stack.readiness import free_port


@contextmanager
def embedded_stack(
    settings: Settings, state_dir: Path, data_dir: Path, **changes
) -> Iterator[tuple[Settings, StackState]]:
    local = settings.replace(
        mode="embedded",
        target="local",
        aws_port=free_port(),
        model_server_port=free_port(),
        state_dir=state_dir,
        data_dir=data_dir,
        **changes,
    )
    state = stack.up(local, Console(record=True))
    try:
        yield local, state
    finally:
        stack.down(local, Console(record=True))
