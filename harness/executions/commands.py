"""`harness executions` and `harness show`: the console's execution list, Table and Graph views."""

from __future__ import annotations

import json
from pathlib import Path

import click

from harness.cli import TARGET_OPTION
from harness.config import Settings
from harness.executions.api import (
    STATUSES,
    execution_arn,
    list_executions,
    load_execution,
    stepfunctions_client,
)
from harness.executions.render import print_executions, print_states, record_json, write_views

_MACHINE = click.option(
    "--state-machine",
    default=None,
    metavar="NAME",
    help="default: SCONES_STATE_MACHINE (scones-workflow)",
)


@click.command()
@TARGET_OPTION
@click.option(
    "--status",
    type=click.Choice(STATUSES, case_sensitive=False),
    default=None,
    help="only executions with this status",
)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@_MACHINE
@click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
def executions(
    target: str | None, status: str | None, limit: int, state_machine: str | None, as_json: bool
) -> None:
    """List recent executions, newest first."""
    settings = Settings.from_env(target=target, state_machine_name=state_machine or None)
    items = list_executions(
        stepfunctions_client(settings), settings.state_machine_name, status, limit
    )
    if as_json:
        click.echo(json.dumps([item.to_dict() for item in items], indent=2))
        return
    where = settings.aws_endpoint_url or f"AWS {settings.region}"
    print_executions(items, title=f"{settings.state_machine_name} on {where}")
    if not items:
        click.echo("no executions" + (f" with status {status.upper()}" if status else ""), err=True)


@click.command()
@click.argument("execution")
@TARGET_OPTION
@_MACHINE
@click.option("--json", "as_json", is_flag=True, help="print the state rows as JSON")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="where the graph and HTML go (default: HARNESS_STATE_DIR/executions)",
)
@click.option("--no-png", is_flag=True, help="write the SVG only")
def show(
    execution: str,
    target: str | None,
    state_machine: str | None,
    as_json: bool,
    out_dir: Path | None,
    no_png: bool,
) -> None:
    """Show one execution (name or ARN): the table view, and write its graph."""
    settings = Settings.from_env(target=target, state_machine_name=state_machine or None)
    client = stepfunctions_client(settings)
    record = load_execution(client, execution_arn(client, settings, execution))
    files = write_views(record, out_dir or settings.state_dir / "executions", png=not no_png)
    if as_json:
        click.echo(json.dumps(record_json(record, files), indent=2))
        return
    print_states(record)
    click.echo(f"graph: {files.svg}" + ("" if no_png else f"  {files.png}"))
    click.echo(f"page:  {files.html}")
