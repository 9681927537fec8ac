"""What deploy, plan and destroy print: who/where, a table of changes, links, cost."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from harness.deploy.base import CREATE, DELETE, SKIP, UNCHANGED, UPDATE, Change, Identity, Outputs
from harness.deploy.pricing import describe_cost

_STYLE = {CREATE: "green", UPDATE: "yellow", DELETE: "red", UNCHANGED: "dim", SKIP: "cyan"}


def identity_line(target: str, ident: Identity, endpoint_url: str | None = None) -> str:
    where = f" via {endpoint_url}" if endpoint_url else ""
    return f"target [bold]{target}[/]: account [bold]{ident.account}[/], region [bold]{ident.region}[/]{where}"


def changes_table(changes: list[Change], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("action", "resource", "name", "detail"):
        table.add_column(column, overflow="fold")
    for c in changes:
        style = _STYLE.get(c.action, "")
        table.add_row(f"[{style}]{c.action}[/]", c.kind, c.name, c.detail)
    return table


def counts(changes: list[Change]) -> str:
    parts = [
        f"{sum(c.action == a for c in changes)} {word}"
        for a, word in (
            (CREATE, "created"),
            (UPDATE, "changed"),
            (UNCHANGED, "unchanged"),
            (DELETE, "deleted"),
            (SKIP, "skipped"),
        )
        if any(c.action == a for c in changes)
    ]
    return ", ".join(parts) or "nothing"


def console_links(outputs: Outputs) -> dict[str, str]:
    r = outputs.identity.region
    home = f"https://{r}.console.aws.amazon.com"
    return {
        "state machine": f"{home}/states/home?region={r}#/statemachines/view/{outputs.state_machine_arn}",
        "endpoint": f"{home}/sagemaker/home?region={r}#/endpoints/{outputs.endpoint_name}",
        "functions": f"{home}/lambda/home?region={r}#/functions",
        "bucket": f"https://s3.console.aws.amazon.com/s3/buckets/{outputs.bucket}?region={r}",
        "data capture": f"https://s3.console.aws.amazon.com/s3/buckets/{outputs.bucket}"
        f"?region={r}&prefix=data_capture/",
    }


def print_outputs(
    console: Console, outputs: Outputs, instance_type: str, compact: bool = False
) -> None:
    """The table of changes (compact: only what changed), counts, links and cost on AWS."""
    title = "plan (nothing was changed)" if outputs.dry_run else f"deploy to {outputs.target}"
    shown = [c for c in outputs.changes if c.action != UNCHANGED] if compact else outputs.changes
    if shown:
        console.print(changes_table(shown, title))
    if outputs.dry_run:
        console.print(
            f"Plan: {outputs.count(CREATE)} to create, {outputs.count(UPDATE)} to change, "
            f"{outputs.count(UNCHANGED)} unchanged."
        )
    else:
        console.print(
            f"Done: {counts(outputs.changes)}."
            if outputs.changed
            else "Up to date: nothing changed."
        )
    console.print(f"state machine: {outputs.state_machine_arn}")
    if outputs.target != "aws" and not outputs.dry_run:
        _print_runtime(console)
    if outputs.target == "aws":
        for label, url in console_links(outputs).items():
            console.print(f"  {label:14} {url}", soft_wrap=True)
        console.print(f"[bold]cost[/]: endpoint {describe_cost(instance_type)}")


def _print_runtime(console: Console) -> None:
    """Embedded mode: the interpreter the functions run under, or, plainly, that the one their
    Runtime names is missing here (harness/emulator/runtimes.py). Docker mode: LocalStack's."""
    from harness.config import Settings

    settings = Settings.from_env()
    if settings.running_mode == "embedded":
        from harness.deploy.workflow import RUNTIME
        from harness.emulator.runtimes import summary_line

        console.print(summary_line(settings, RUNTIME), soft_wrap=True)


def print_destroy(console: Console, changes: list[Change], dry_run: bool = False) -> None:
    console.print(changes_table(changes, "destroy (dry run)" if dry_run else "destroy"))
    console.print(f"{counts(changes)}.")
