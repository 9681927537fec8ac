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
from harness.stack import compose, embedded, processes
from harness.stack.processes import StackState
from harness.stack.readiness import http_ok, port_in_use


def resolve_mode(settings: Settings) -> str:
    if settings.mode in ("embedded", "docker"):
        return settings.mode
    if settings.mode != "auto":
        raise HarnessError(
            f"HARNESS_MODE={settings.mode!r} is not a mode.", "use auto, embedded or docker"
        )
    return "docker" if compose.engine_answers() else "embedded"


def running(settings: Settings) -> StackState | None:
    state = StackState.load(settings)
    if state is None:
        return None
    if state.mode == "embedded" and not all(processes.alive(p) for p in state.processes.values()):
        return None
    return state


def require_running(settings: Settings) -> StackState:
    state = running(settings)
    if state is None:
        raise HarnessError("The local stack is not up.", "run `make local-up` first")
    return state


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
    """Start what is not running and deploy into it; `harness up` then runs a sample execution."""
    console = console or Console()
    started = time.monotonic()
    state = running(settings)
    if state is not None:
        console.print(f"Stack already up ({state.mode}); redeploying.")
        settings = _for_mode(settings, state.mode)
    else:
        mode = resolve_mode(settings)
        settings = _for_mode(settings, mode)
        preflight(settings)
        with console.status(f"Starting the {mode} stack…"):
            model_dir = unpack_model(settings)
            pids = {} if mode == "docker" else embedded.start(settings, model_dir)
            if mode == "docker":
                compose.start(settings, model_dir)
        state = StackState(mode, settings.aws_endpoint_url, settings.model_server_url, pids)
        state.save(settings)
        console.print(f"[green]✓[/] {mode} stack ready in {time.monotonic() - started:.1f} s")
    deploy_into(settings, console)
    console.print(f"[green]✓[/] deployed; up in {time.monotonic() - started:.1f} s")
    return state


def _for_mode(settings: Settings, mode: str) -> Settings:
    if mode == "docker" and not settings.lambda_model_server_url:
        # Lambda containers reach the endpoint by its compose service name
        return settings.replace(
            mode=mode, lambda_model_server_url=compose.MODEL_SERVER_URL_IN_NETWORK
        )
    return settings.replace(mode=mode)


def down(settings: Settings, console: Console | None = None) -> bool:
    console = console or Console()
    state = StackState.load(settings)
    if state is None:
        console.print("Nothing to stop: no local stack is recorded.")
        return False
    if state.mode == "docker":
        compose.stop(settings, settings.state_dir / "model")
    for name, pid in state.processes.items():
        if processes.stop(pid):
            console.print(f"stopped {name} (pid {pid})")
    StackState.forget(settings)
    console.print("[green]✓[/] local stack stopped")
    return True


def print_status(settings: Settings, console: Console | None = None) -> None:
    console = console or Console()
    state = StackState.load(settings)
    table = Table(title=f"Local stack ({state.mode if state else 'not running'})")
    for column in ("component", "address", "state", "what it stands in for"):
        table.add_column(column)
    docker = state is not None and state.mode == "docker"
    aws_services = "S3, IAM, STS, Lambda, Step Functions, CloudWatch Logs"
    rows = [
        (
            "AWS APIs",
            settings.aws_endpoint_url,
            "/_localstack/health" if docker else embedded.HEALTH_PATH,
            aws_services if docker else f"{aws_services}, SageMaker control plane",
        ),
        (
            "endpoint",
            settings.model_server_url,
            "/ping",
            f"SageMaker endpoint {settings.endpoint_name} + runtime API + Data Capture",
        ),
    ]
    if docker:
        rows.insert(
            1,
            (
                "SageMaker API",
                settings.replace(mode="docker").sagemaker_api_url,
                "/moto-api/data.json",
                "SageMaker control plane (LocalStack's free edition has none)",
            ),
        )
    for name, url, probe, role in rows:
        up_now = http_ok(url + probe)
        table.add_row(name, url, "[green]up[/]" if up_now else "[red]down[/]", role)
    console.print(table)
    if state:
        console.print(
            f"bucket s3://{settings.bucket}, state machine {settings.state_machine_name}, "
            f"logs in {settings.state_dir / 'logs'}"
        )
