"""up / down / status: the local stack's life cycle, the same in embedded and docker mode."""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.config import Settings
from harness.deploy import storage
from harness.errors import HarnessError
from harness.stack import compose, datastore, embedded, health, processes
from harness.stack.processes import StackState
from harness.stack.readiness import port_in_use


def resolve_mode(settings: Settings) -> str:
    if settings.mode in ("embedded", "docker"):
        return settings.mode
    if settings.mode != "auto":
        raise HarnessError(
            f"HARNESS_MODE={settings.mode!r} is not a mode.", "use auto, embedded or docker"
        )
    return "docker" if compose.engine_may_run() and compose.engine_answers() else "embedded"


def running(settings: Settings) -> StackState | None:
    """The recorded stack if every part of it is up, else None (`health.parts` says which not)."""
    state = StackState.load(settings)
    if state is None:
        return None
    if state.mode == "embedded" and not all(
        name in state.processes and state.owner(name).ours for name in embedded.PARTS
    ):
        return None
    return state


def require_running(settings: Settings) -> StackState:
    state = running(settings)
    if state is not None:
        return state
    recorded = StackState.load(settings)
    if recorded is None:
        raise HarnessError("The local stack is not up.", "run `make local-up` first")
    dead = [
        f"{p.component} {p.state}"
        for p in health.parts(settings, recorded)
        if p.process != "running"
    ]
    raise HarnessError(
        f"The local stack is partly down: {'; '.join(dead)}.",
        f"run {health.FIX}",
    )


def preflight(settings: Settings) -> None:
    storage.require_model(settings)
    storage.test_images(settings.data_dir)
    ports = [
        ("AWS emulator", settings.aws_port, "HARNESS_AWS_PORT"),
        ("model server", settings.model_server_port, "MODEL_SERVER_PORT"),
    ]
    if settings.mode == "docker":
        ports.append(("SageMaker control plane", settings.sagemaker_api_port, "SAGEMAKER_API_PORT"))
    for what, port, variable in ports:
        if port_in_use(settings.host, port):
            raise HarnessError(
                f"Port {port} ({what}) is already in use on {settings.host}.",
                f"stop what uses it (`make local-down` if it is an old stack), or set {variable}",
            )


def unpack_model(settings: Settings) -> Path:
    """Unpack model.tar.gz once per artifact version into .harness/model (what SageMaker does)."""
    target = settings.state_dir / "model"
    digest = hashlib.sha256(settings.model_artifact.read_bytes()).hexdigest()
    stamp = target / ".artifact-sha256"
    if stamp.is_file() and stamp.read_text() == digest:
        return target
    # imported only here: it loads onnxruntime, which the usual `up` (model unchanged) skips
    from harness.model_server.artifact import unpack_artifact

    shutil.rmtree(target, ignore_errors=True)
    unpack_artifact(settings.model_artifact, target)
    stamp.write_text(digest)
    return target


def deploy_into(settings: Settings, console: Console) -> None:
    """The one deploy path, into the stack; a compact summary of what changed."""
    from harness.deploy.deployer import deploy, make_target
    from harness.deploy.summary import print_outputs

    outputs = deploy(settings, make_target(settings))
    print_outputs(console, outputs, settings.instance_type, compact=True)


def up(settings: Settings, console: Console | None = None) -> StackState:
    """Start what is not running and deploy into it; `harness up` then runs a sample execution.

    On a stack that is partly up it keeps what runs, restarts what is dead and redeploys (a
    restarted emulator has lost every deployed resource), and says what it did."""
    console = console or Console()
    started = time.monotonic()
    state = StackState.load(settings)
    if state is not None:
        settings = _for_mode(settings, state.mode)
        with console.status("Checking the running stack…"):
            actions = _heal(settings, state)
        for action in actions:
            console.print(f"[yellow]healed:[/] {action}")
        if not actions:
            console.print(f"Stack already up ({state.mode}); redeploying.")
        # a restarted emulator (or LocalStack) came back with the saved data, or needs it
        aws_restarted = any(a.startswith((embedded.EMULATOR, "AWS APIs")) for a in actions)
    else:
        mode = resolve_mode(settings)
        settings = _for_mode(settings, mode)
        preflight(settings)
        with console.status(f"Starting the {mode} stack…"):
            model_dir = unpack_model(settings)
            pids = {} if mode == "docker" else embedded.start(settings, model_dir)
            if mode == "docker":
                compose.start(settings, model_dir)
        state = StackState(mode, settings.aws_endpoint_url, settings.model_server_url)
        for name, pid in pids.items():
            state.record(name, pid)
        state.save(settings)
        console.print(f"[green]✓[/] {mode} stack ready in {time.monotonic() - started:.1f} s")
        aws_restarted = True
    if aws_restarted and state.mode == "embedded" and settings.persist:
        note = datastore.restored_note(settings)
        if note:
            console.print(note)
    deploy_into(settings, console)
    if aws_restarted and state.mode == "docker" and settings.persist:
        datastore.import_quietly(settings, console)  # after the deploy made the bucket
    console.print(f"[green]✓[/] deployed; up in {time.monotonic() - started:.1f} s")
    return state


def _heal(settings: Settings, state: StackState) -> list[str]:
    if state.mode == "embedded":
        return embedded.heal(settings, state, lambda: unpack_model(settings))
    down_now = [p.component for p in health.parts(settings, state) if not p.ok]
    if not down_now:
        return []
    # `compose up` starts the stopped containers and leaves the running ones alone
    compose.start(settings, unpack_model(settings))
    return [f"{', '.join(down_now)} did not answer: `docker compose up` started them again"]


def _for_mode(settings: Settings, mode: str) -> Settings:
    if mode == "docker" and not settings.lambda_model_server_url:
        # Lambda containers reach the endpoint by its compose service name
        return settings.replace(
            mode=mode, lambda_model_server_url=compose.MODEL_SERVER_URL_IN_NETWORK
        )
    return settings.replace(mode=mode)


def down(settings: Settings, console: Console | None = None, reset: bool = False) -> bool:
    """Stop the stack; its data (S3, executions) stays in <state_dir>/data unless `reset`."""
    console = console or Console()
    state = StackState.load(settings)
    if state is None:
        console.print("Nothing to stop: no local stack is recorded.")
        _reset(settings, console, reset)
        return False
    if state.mode == "docker":
        if settings.persist and not reset:
            datastore.export_quietly(settings, console)
        compose.stop(settings, settings.state_dir / "model")
    # the model server first: it flushes Data Capture to the emulator's S3 as it stops
    for name, pid in sorted(state.processes.items(), key=lambda item: item[0] == "emulator"):
        owner = state.owner(name)
        if processes.stop(pid, started=state.start_times.get(name)):
            console.print(f"stopped {name} (pid {pid})")
        elif owner.stranger:
            # the PID was reused: signalling it would hit someone else's process
            console.print(f"{name}: {owner.state}; left it alone")
    StackState.forget(settings)
    console.print("[green]✓[/] local stack stopped")
    _reset(settings, console, reset)
    return True


def _reset(settings: Settings, console: Console, reset: bool) -> None:
    if reset and datastore.wipe(settings):
        console.print(f"wiped the saved data ({datastore.store(settings).root})")


def print_status(settings: Settings, console: Console | None = None) -> None:
    console = console or Console()
    state = StackState.load(settings)
    parts_now = health.parts(settings, state)
    table = Table(title=f"Local stack ({state.mode if state else 'not running'})")
    for column in ("component", "address", "state", "restarts", "what it stands in for"):
        table.add_column(column)
    for part in parts_now:
        colour = "green" if part.ok else ("yellow" if part.restarting else "red")
        restarts = "" if part.restarts is None else str(part.restarts)
        if part.restarts and part.last_exit:
            restarts += f" (last: {part.last_exit})"
        table.add_row(
            part.component, part.address, f"[{colour}]{part.state}[/]", restarts, part.role
        )
    console.print(table)
    if state:
        for line in health.problems(parts_now):
            console.print(f"[red]{line}[/]")
        console.print(
            f"bucket s3://{settings.bucket}, state machine {settings.state_machine_name}, "
            f"logs in {settings.state_dir / 'logs'}"
        )
    from harness.faults.view import print_active  # `harness fault`: what fails on purpose

    print_active(settings.state_dir, console)
