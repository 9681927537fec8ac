"""`harness console`: serve the console until Ctrl-C."""

from __future__ import annotations

import click

from harness.cli import TARGET_OPTION
from harness.config import Settings


@click.command()
@TARGET_OPTION
@click.option("--port", type=int, default=None, help="default: HARNESS_CONSOLE_PORT (8900)")
@click.option(
    "--allow-run",
    is_flag=True,
    help="with --target aws: allow the Run page to start executions (read-only otherwise)",
)
def console(target: str | None, port: int | None, allow_run: bool) -> None:
    """Serve the web console on 127.0.0.1: executions (Graph, Table, events), functions,
    the endpoint and its Data Capture, and a Run page."""
    from harness.console.server import ConsoleServer

    settings = Settings.from_env(target=target)
    server = ConsoleServer(settings, port, allow_run or None)
    where = settings.aws_endpoint_url or f"AWS {settings.region}"
    mode = "" if server.app.jinja_env.globals["can_run"] else " (read-only; --allow-run to run)"
    click.echo(f"console for {where}{mode}: {server.url}  (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("console stopped")
