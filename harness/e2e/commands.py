"""`harness e2e`: real executions through the running stack (or AWS), a table, an exit code."""

from __future__ import annotations

import sys

import click

from harness.cli import TARGET_OPTION
from harness.config import Settings
from harness.e2e.check import run_e2e
from harness.e2e.report import print_table


@click.command()
@TARGET_OPTION
@click.option("--per-class", default=2, show_default=True, help="confident images per class")
@click.option("--parallel", default=8, show_default=True, help="executions run at once")
@click.option(
    "--mocks",
    is_flag=True,
    help="run the failure paths of statemachine/mocks/ (mocked test cases) instead",
)
def e2e(target: str | None, per_class: int, parallel: int, mocks: bool) -> None:
    """Run real executions on real images and check their outcomes."""
    settings = Settings.from_env(target=target)
    if settings.target == "local":
        from harness.stack.stack import require_running

        require_running(settings)
    if mocks:
        from harness.e2e import mocked

        mocked_verdicts = mocked.run_mocked(settings, parallel=parallel)
        mocked.print_table(mocked_verdicts)
        sys.exit(0 if all(v.ok for v in mocked_verdicts) else 1)
    verdicts = run_e2e(settings, per_class=per_class, parallel=parallel)
    print_table(verdicts)
    sys.exit(0 if all(v.ok for v in verdicts) else 1)
