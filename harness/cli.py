"""`harness` / `python -m harness`: the command line behind every make target.

Each part of the harness owns its commands in `<part>/commands.py`; this module only
routes to them (lazily, so `harness status` does not import onnxruntime or moto) and
turns a HarnessError into a readable message and exit code 1. Usage errors exit 2.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from harness.errors import HarnessError

# The --target option every command that talks to AWS APIs shares (local stack or real AWS).
TARGET_OPTION = click.option(
    "--target",
    type=click.Choice(["local", "aws"]),
    default=None,
    help="the local stack or AWS (default: HARNESS_TARGET, else local)",
)

# command name -> "module:attribute" of a click command
COMMANDS = {
    "up": "harness.stack.commands:up",
    "down": "harness.stack.commands:down",
    "status": "harness.stack.commands:status",
    "deploy": "harness.deploy.commands:deploy",
    "plan": "harness.deploy.commands:plan",
    "destroy": "harness.deploy.commands:destroy",
    "e2e": "harness.e2e.commands:e2e",
    "serve": "harness.model_server.commands:serve",
    "monitor": "harness.monitoring.commands:monitor",
    "executions": "harness.executions.commands:executions",
    "show": "harness.executions.commands:show",
    "run": "harness.loop.commands:run",
    "invoke": "harness.loop.commands:invoke",
    "logs": "harness.loop.commands:logs",
    "test-state": "harness.statetest.commands:test_state",
    "console": "harness.console.commands:console",
    "fault": "harness.faults.commands:fault",
}

_HELP = {
    "up": "Start the local stack and deploy the workflow into it.",
    "down": "Stop everything `up` started.",
    "status": "Show what runs where.",
    "deploy": "Deploy the workflow to a target (local or aws).",
    "plan": "Show what `deploy` would create, change or leave.",
    "destroy": "Tear down what `deploy` created.",
    "e2e": "Run real executions through the running stack and check them.",
    "serve": "Run the model server alone (the SageMaker endpoint mirror).",
    "monitor": "Read Data Capture and write a monitoring report.",
    "executions": "List recent state machine executions.",
    "show": "Show one execution: table view and graph.",
    "run": "Run the workflow on one image (a local file or s3://...).",
    "invoke": "Invoke one deployed function with an event; payload and log tail.",
    "logs": "Print a function's logs, or the endpoint's.",
    "test-state": "Run one state through Step Functions' TestState API; print each stage.",
    "console": "Serve the web console (executions, functions, endpoint, run) on 127.0.0.1.",
    "fault": "Make the endpoint or a function fail on purpose (list, clear; shown by status).",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and not exc.name.startswith("harness"):
                raise HarnessError(
                    f"`harness {name}` needs the package {exc.name!r}, which is not installed.",
                    "run `make install` (it creates .venv with every pinned package)",
                ) from exc
            raise
        return getattr(module, attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # short help without importing every command
        with formatter.section("Commands"):
            formatter.write_dl([(name, _HELP.get(name, "")) for name in COMMANDS])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Scones Unlimited: develop the ML workflow locally, promote the same code to AWS."""


def main(argv: list[str] | None = None) -> None:
    if not sys.stdout.isatty():
        # rich falls back to 80 columns when piped (make, CI logs): tables would fold
        os.environ.setdefault("COLUMNS", "150")
    try:
        cli.main(args=argv, standalone_mode=False)
    except HarnessError as exc:
        click.secho(f"error: {exc.message}", fg="red", err=True)
        if exc.hint:
            click.echo(f"  -> {exc.hint}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 -- a bug or an unforeseen failure: say so, keep the traceback
        log = _save_traceback()
        click.secho(f"error: unexpected {type(exc).__name__}: {exc}", fg="red", err=True)
        click.echo(
            f"  -> the full traceback is in {log}; please report it with that file", err=True
        )
        sys.exit(1)


def _save_traceback():
    import traceback

    from harness.config import Settings

    log = Settings.from_env().state_dir / "logs" / "cli-error.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(traceback.format_exc())
    return log
