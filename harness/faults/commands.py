"""`harness fault endpoint | lambda | list | clear`: click parses and prints; store.py keeps the
faults, and the running model server and emulator apply them (endpoint.py, lambdas.py)."""

from __future__ import annotations

import click
from rich.console import Console

from harness.cli import TARGET_OPTION
from harness.config import Settings
from harness.errors import HarnessError
from harness.faults import view
from harness.faults.endpoint import MAX_DELAY_SECONDS
from harness.faults.store import (
    ENDPOINT,
    ENDPOINT_KINDS,
    LAMBDA,
    Fault,
    FaultStore,
    new_fault,
    parse_duration,
)

RATE_OPTION = click.option(
    "--rate",
    type=click.FloatRange(0, 1, min_open=True),
    default=1.0,
    show_default=True,
    help="the probability that one request or invocation meets the fault",
)
FOR_OPTION = click.option(
    "--for",
    "duration",
    metavar="DURATION",
    default=None,
    help="how long until it ends by itself: 500ms, 30s, 2m, 1h (default: until cleared)",
)


@click.group()
def fault() -> None:
    """Make the local stack's endpoint or functions fail on purpose, to watch retries and alarms
    work. Faults show in `harness status` and end by themselves with --for."""


def _settings(target: str | None) -> Settings:
    settings = Settings.from_env(target=target)
    if settings.target == "aws":
        raise HarnessError(
            "Fault injection works on the local stack only.",
            "drop --target aws (and HARNESS_TARGET=aws); on AWS, AWS Fault Injection Service "
            "does this",
        )
    return settings


def _added(settings: Settings, fault: Fault) -> None:
    from harness.stack.processes import StackState

    FaultStore(settings.state_dir).add(fault)
    how_long = "until cleared" if fault.expires_at is None else f"for {view.time_left(fault)}"
    click.echo(
        f"fault {fault.id}: {fault.scope} {fault.target}: {fault.describe()}, rate {fault.rate:g}, "
        f"{how_long}"
    )
    if StackState.load(settings) is None:
        click.echo("note: no local stack is up; the fault applies once `make local-up` runs")
    click.echo(f"end it with `harness fault clear --id {fault.id}`")


@fault.command()
@click.option(
    "--error",
    "kind",
    type=click.Choice(ENDPOINT_KINDS, case_sensitive=False),
    required=True,
    help="what InvokeEndpoint answers (429, 503, 424) or `slow` (added latency)",
)
@RATE_OPTION
@FOR_OPTION
@click.option("--delay", default="2s", show_default=True, help="slow: the latency it adds")
@click.option(
    "--status",
    type=click.IntRange(400, 599),
    default=500,
    show_default=True,
    help="ModelError: the container's status (OriginalStatusCode)",
)
@TARGET_OPTION
def endpoint(
    kind: str, rate: float, duration: str | None, delay: str, status: int, target: str | None
) -> None:
    """Make the endpoint's InvokeEndpoint (and /invocations) fail or slow down."""
    settings = _settings(target)
    params: dict = {}
    if kind == "slow":
        params["delay"] = parse_duration(delay, "--delay")
        if params["delay"] > MAX_DELAY_SECONDS:
            raise HarnessError(
                f"--delay {delay} is over the {MAX_DELAY_SECONDS:.0f} s SageMaker gives a "
                "container to answer.",
                "give at most 60s, or use --error ServiceUnavailable for an outage",
            )
    elif kind == "ModelError":
        params["status"] = status
    seconds = None if duration is None else parse_duration(duration)
    _added(
        settings,
        new_fault(ENDPOINT, settings.endpoint_name, kind, rate, params, seconds),
    )


@fault.command(name="lambda")
@click.argument("function")
@click.option("--timeout", "timeout", is_flag=True, help="the call times out (Sandbox.Timedout)")
@click.option("--crash", is_flag=True, help="the worker is killed mid-call (Runtime.ExitError)")
@click.option(
    "--error",
    "error",
    metavar="NAME",
    default=None,
    help="a service error (ServiceException, TooManyRequestsException, ...: Step Functions sees "
    "Lambda.NAME) or any other name: a function error with that errorType",
)
@RATE_OPTION
@FOR_OPTION
@TARGET_OPTION
def lambda_(
    function: str,
    timeout: bool,
    crash: bool,
    error: str | None,
    rate: float,
    duration: str | None,
    target: str | None,
) -> None:
    """Make FUNCTION (its name or lambdas/ folder) time out, crash or fail (embedded mode)."""
    settings = _settings(target)
    chosen = [name for name, on in (("timeout", timeout), ("crash", crash), ("error", error)) if on]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --timeout, --crash, --error NAME")
    if settings.running_mode == "docker":
        raise HarnessError(
            "Lambda faults need the embedded mode: LocalStack runs each function in a container "
            "of its own, out of the harness's reach.",
            "endpoint faults work in docker mode (`harness fault endpoint ...`); for Lambda "
            "faults run the embedded stack (HARNESS_MODE=embedded make local-up)",
        )
    name = _function(settings, function)
    params = _error_params(error) if error else {}
    seconds = None if duration is None else parse_duration(duration)
    _added(settings, new_fault(LAMBDA, name, chosen[0], rate, params, seconds))


def _error_params(error: str) -> dict:
    from harness.faults.lambdas import service_errors

    name = error.removeprefix("Lambda.")  # as the state machine's Retry spells it
    status = service_errors().get(name)
    if status is not None:
        return {"error": name, "service": True, "status": status}
    if error.startswith("Lambda."):
        raise HarnessError(
            f"{error} is not one of Lambda's service errors.",
            "use one of: " + ", ".join(sorted(service_errors())) + "; or a name without "
            "`Lambda.` for a function error",
        )
    if not error.replace("_", "").replace(".", "").replace("-", "").isalnum():
        raise HarnessError(
            f"--error {error!r} is not an error name.", "use a name like MyError or KeyError"
        )
    return {"error": error, "service": False}


def _function(settings: Settings, name: str) -> str:
    """The deployed function `name` means (its name, or its lambdas/ folder)."""
    from harness.loop.invoke import known_functions, match_function

    deployed = _deployed(settings)
    known = deployed or known_functions(settings)
    found = match_function(settings, name, known)
    if found is not None:
        return found
    where = "deployed" if deployed else "the workflow's (the stack does not answer)"
    raise HarnessError(
        f"{name!r} is not a function of the local stack.", f"use one of {where}: {', '.join(known)}"
    )


def _deployed(settings: Settings) -> list[str]:
    """The local stack's functions; [] when its AWS does not answer."""
    from harness import clients
    from harness.stack import embedded

    if not embedded.aws_ready(settings):
        return []
    lam = clients.client(settings, "lambda", retries={"total_max_attempts": 1}, read_timeout=10)
    pages = lam.get_paginator("list_functions").paginate()
    return sorted(f["FunctionName"] for page in pages for f in page["Functions"])


@fault.command(name="list")
def list_() -> None:
    """Show the active faults with the time each has left."""
    store = FaultStore(Settings.from_env().state_dir)
    active = store.prune()
    if not active:
        click.echo("no fault is active")
        return
    Console().print(view.faults_table(active))


@fault.command()
@click.option("--id", "fault_id", default=None, help="clear this fault only (see `fault list`)")
def clear(fault_id: str | None) -> None:
    """End every fault now (or the one with --id)."""
    removed = FaultStore(Settings.from_env().state_dir).clear(fault_id)
    if not removed:
        click.echo("no fault was active")
    for f in removed:
        click.echo(f"cleared {f.id}: {f.scope} {f.target}: {f.describe()}")
