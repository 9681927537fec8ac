"""`harness up|down|status`."""

from __future__ import annotations

import click
from rich.console import Console

from harness.config import Settings
from harness.stack import stack


@click.command()
@click.option("--no-sample", is_flag=True, help="skip the sample execution at the end")
def up(no_sample: bool) -> None:
    """Start the local stack (embedded without Docker, compose with it) and deploy into it."""
    settings, console = Settings.from_env(), Console()
    stack.up(settings, console)
    if not no_sample:
        from harness.e2e.check import run_sample

        run_sample(settings, console)
    stack.print_status(settings, console)


@click.command()
@click.option(
    "--reset",
    is_flag=True,
    help="also wipe the saved data (S3 objects, executions) in .harness/data",
)
def down(reset: bool) -> None:
    """Stop everything `up` started; no process or port is left behind. The bucket's objects
    and the executions are kept for the next `up`, unless --reset."""
    stack.down(Settings.from_env(), Console(), reset=reset)


@click.command()
@click.option(
    "--check", is_flag=True, help="check the machine instead: python, data, model, ports, docker"
)
def status(check: bool) -> None:
    """Show what runs where."""
    settings = Settings.from_env()
    if check:
        stack.preflight(settings)
        mode = stack.resolve_mode(settings)
        click.echo(f"ok: data, model and ports are fine; mode would be {mode}")
        return
    stack.print_status(settings, Console())
    stack.require_running(settings)
