"""`harness deploy | plan | destroy --target local|aws`: click only forwards to the confirm_and_*
functions, which say who we are where and ask before they change AWS."""

from __future__ import annotations

import click
from rich.console import Console

from harness.cli import TARGET_OPTION
from harness.config import Settings
from harness.deploy.base import Identity, Outputs, Target
from harness.deploy.deployer import deploy as run_deploy
from harness.deploy.deployer import destroy as run_destroy
from harness.deploy.deployer import make_target
from harness.deploy.pricing import describe_cost
from harness.deploy.summary import identity_line, print_destroy, print_outputs

_yes = click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation")


def _introduce(settings: Settings, console: Console | None) -> tuple[Console, Target, Identity]:
    """The console, the target, and who we are there (printed before anything is asked)."""
    console = console or Console()
    target = make_target(settings)
    ident = target.identity()
    console.print(identity_line(settings.target, ident, getattr(target, "endpoint_url", None)))
    return console, target, ident


def confirm_and_deploy(
    settings: Settings, yes: bool, dry_run: bool, console: Console | None = None
) -> Outputs:
    console, target, ident = _introduce(settings, console)
    if settings.target == "aws" and not dry_run and not yes:
        click.confirm(
            f"Deploy to account {ident.account} in {ident.region}? The endpoint costs "
            f"{describe_cost(settings.instance_type)}",
            abort=True,
        )
    outputs = run_deploy(settings, target, dry_run=dry_run)
    print_outputs(console, outputs, settings.instance_type)
    return outputs


def confirm_and_destroy(
    settings: Settings, yes: bool, delete_bucket: bool, console: Console | None = None
):
    console, target, _ = _introduce(settings, console)
    if not yes:
        what = (
            "the endpoint, models, functions, state machine, roles"
            + (", the ECR repository" if settings.target == "aws" else "")
            + (f" and the bucket {settings.bucket} with its objects" if delete_bucket else "")
        )
        click.confirm(
            f"Delete {what} (only resources tagged managed-by=scones-harness)?", abort=True
        )
    changes = run_destroy(settings, target, delete_bucket=delete_bucket)
    print_destroy(console, changes)
    return changes


@click.command()
@TARGET_OPTION
@_yes
@click.option("--dry-run", is_flag=True, help="only print what would change (same as `plan`)")
def deploy(target: str | None, yes: bool, dry_run: bool) -> None:
    """Create or update the workflow on the target; a second run changes nothing."""
    confirm_and_deploy(Settings.from_env(target=target), yes, dry_run)


@click.command()
@TARGET_OPTION
def plan(target: str | None) -> None:
    """Print what `deploy` would create, change or leave, calling no mutating API."""
    confirm_and_deploy(Settings.from_env(target=target), yes=True, dry_run=True)


@click.command()
@TARGET_OPTION
@_yes
@click.option("--delete-bucket", is_flag=True, help="also empty and delete the bucket")
def destroy(target: str | None, yes: bool, delete_bucket: bool) -> None:
    """Delete what `deploy` created (endpoint first); only resources tagged managed-by=scones-harness."""
    confirm_and_destroy(Settings.from_env(target=target), yes, delete_bucket)
