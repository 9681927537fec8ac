"""`harness run | invoke | logs`: click only parses and prints; the work is in run/invoke/logs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from botocore.exceptions import ClientError
from rich.console import Console

from harness import clients
from harness.cli import TARGET_OPTION
from harness.config import Settings
from harness.errors import HarnessError


@click.command()
@click.argument("image")
@TARGET_OPTION
@click.option(
    "--timeout",
    type=click.FloatRange(1),
    default=120,
    show_default=True,
    help="seconds to wait for the execution",
)
def run(image: str, target: str | None, timeout: float) -> None:
    """Run the workflow on IMAGE (a local image file, uploaded first, or s3://BUCKET/KEY).
    Prints the execution's table and where its graph is; exits 1 unless it SUCCEEDED."""
    from harness.e2e.runner import run_execution
    from harness.executions.api import load_execution, state_machine_arn, stepfunctions_client
    from harness.executions.render import print_states, write_views
    from harness.loop.run import parse_s3_uri, upload

    settings = Settings.from_env(target=target)
    console = Console()
    if image.startswith("s3://"):
        obj = parse_s3_uri(image)
        _require_object(settings, obj)
    else:
        obj = upload(settings, Path(image))
        console.print(f"uploaded {image} to {obj.uri}")
    sfn = stepfunctions_client(settings)
    result = run_execution(
        sfn,
        state_machine_arn(sfn, settings.state_machine_name),
        obj.bucket,
        obj.key,
        timeout=timeout,
    )
    record = load_execution(sfn, result.arn)
    files = write_views(record, settings.state_dir / "executions")
    print_states(record, console)
    colour = "green" if result.status == "SUCCEEDED" else "red"
    console.print(
        f"[{colour}]{result.status}[/] {result.name} on {obj.uri}: {result.outcome} "
        f"in {result.seconds * 1000:.0f} ms"
    )
    console.print(f"graph: {files.svg}\npage:  {files.html}", highlight=False)
    if result.status != "SUCCEEDED":
        sys.exit(1)


def _require_object(settings: Settings, obj) -> None:
    try:
        clients.client(settings, "s3").head_object(Bucket=obj.bucket, Key=obj.key)
    except ClientError as exc:
        raise HarnessError(
            f"{obj.uri} cannot be read ({exc.response['Error'].get('Code')}).",
            "check the bucket and key, or give a local image file instead",
        ) from exc


@click.command()
@click.argument("function")
@TARGET_OPTION
@click.option(
    "--event",
    "event_source",
    default=None,
    metavar="FILE|-",
    help="the event as JSON (default: the workflow's input for the first test image)",
)
def invoke(function: str, target: str | None, event_source: str | None) -> None:
    """Invoke one deployed FUNCTION (its name or lambdas/ folder) with an event; prints the
    payload, the function error and its log tail. Exits 1 on a function error."""
    from harness.dataset import listed_images
    from harness.loop.invoke import invoke as invoke_function
    from harness.loop.invoke import read_event

    settings = Settings.from_env(target=target)
    first_key = listed_images(settings.data_dir)[0].key if event_source is None else ""
    result = invoke_function(settings, function, read_event(event_source, settings, first_key))
    console = Console()
    console.rule(f"{result.function}: payload")
    console.print_json(json.dumps(result.payload)) if not isinstance(
        result.payload, str
    ) else console.print(result.payload, markup=False)
    if result.function_error:
        console.print(
            f"[red]function error ({result.function_error}): {result.error_type or ''}[/]"
        )
    console.rule("log tail")
    console.print(result.log_tail.rstrip() or "(no log returned)", markup=False, highlight=False)
    if result.function_error:
        sys.exit(1)


@click.command()
@click.argument("what", metavar="FUNCTION|endpoint")
@TARGET_OPTION
@click.option("--follow", "-f", is_flag=True, help="keep printing new lines (Ctrl-C stops)")
@click.option("--since", default="10m", show_default=True, help="how far back: 30s, 10m, 2h, 1d")
def logs(what: str, target: str | None, follow: bool, since: str) -> None:
    """Print the CloudWatch Logs of a function, or the endpoint's log (the model server)."""
    from harness.loop import logs as loglib

    settings = Settings.from_env(target=target)
    since_s = loglib.parse_since(since)
    if loglib.is_endpoint(what) and settings.target == "local":
        if settings.running_mode == "docker":
            sys.exit(loglib.stream_docker_logs(since_s, follow))
        lines = loglib.read_model_server_file(settings, since_s, follow)
    else:
        lines = loglib.read_cloudwatch(settings, loglib.log_group(settings, what), since_s, follow)
    for line in lines:
        stamp = f"{line.timestamp:%H:%M:%S} " if line.timestamp else ""
        click.echo(f"{stamp}{line.message}")
