"""The active faults as a table: `harness fault list` and `harness status` print it."""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table

from harness.errors import HarnessError
from harness.faults.store import Fault, FaultStore


def time_left(fault: Fault, now: float | None = None) -> str:
    left = fault.seconds_left(now)
    if left is None:
        return "until cleared"
    minutes, seconds = divmod(int(left + 0.999), 60)  # never "0 s" while it is still on
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def faults_table(faults: list[Fault], now: float | None = None) -> Table:
    now = time.time() if now is None else now
    table = Table(title=f"Injected faults ({len(faults)} active)")
    for column in ("id", "target", "fault", "rate", "time left"):
        table.add_column(column)
    for f in faults:
        table.add_row(f.id, f"{f.scope} {f.target}", f.describe(), f"{f.rate:g}", time_left(f, now))
    return table


def print_active(state_dir, console: Console) -> None:
    """For `status`: the active faults, or nothing when there are none (expired ones are not
    shown; the file keeps them until the next `harness fault` command drops them)."""
    try:
        faults = FaultStore(state_dir).active()
    except HarnessError as exc:
        console.print(f"[red]faults: {exc.message}[/] -> {exc.hint}")
        return
    if faults:
        console.print(faults_table(faults))
        console.print("`harness fault clear` ends them all, `--id ID` one", highlight=False)
