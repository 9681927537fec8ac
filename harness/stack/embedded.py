"""Embedded mode: the emulated AWS and the model server as local processes.

The model server runs under harness.stack.supervisor, which starts it again when it dies (as
SageMaker replaces a failed instance); `heal` restarts whichever part is dead and keeps the
rest (issue 15).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from harness.config import Settings
from harness.emulator.contract import HEALTH_PATH  # imports no moto: `up` stays light
from harness.errors import HarnessError
from harness.stack import processes
from harness.stack.processes import StackState
from harness.stack.readiness import http_ok, port_in_use, wait_until

EMULATOR = "emulator"
MODEL_SERVER = "model-server"
PARTS = (EMULATOR, MODEL_SERVER)
# how long a part that runs but does not answer gets before `up` replaces it
UNRESPONSIVE_GRACE_SECONDS = 20.0


def supervisor_status_path(settings: Settings) -> Path:
    return settings.state_dir / f"{MODEL_SERVER}.supervisor.json"


def supervisor_status(settings: Settings) -> dict:
    """What the model server's supervisor last wrote: child_pid, restarts, last_exit, ..."""
    try:
        return json.loads(supervisor_status_path(settings).read_text())
    except (OSError, ValueError):
        return {}


def capture_spool_dir(settings: Settings) -> Path:
    return Path(settings.capture_spool_dir or settings.state_dir / "capture-spool")


def _spawn(settings: Settings, name: str, model_dir: Path) -> subprocess.Popen:
    if name == EMULATOR:
        return processes.spawn(settings, EMULATOR, ["-m", "harness.emulator"], {})
    supervisor_status_path(settings).unlink(missing_ok=True)  # restarts count from this start
    serve = [sys.executable, "-m", "harness.model_server", "serve", "--model-dir", str(model_dir)]
    supervise = ["-m", "harness.stack.supervisor", "--name", "model server"]
    # the servers fork from the supervisor once numpy, onnxruntime, Pillow and botocore's data
    # are loaded: they share those pages
    supervise += ["--preload", "harness.model_server.preload"]
    supervise += ["--listen", f"{settings.model_server_host}:{settings.model_server_port}"]
    status_file = ["--status-file", str(supervisor_status_path(settings))]
    return processes.spawn(
        settings,
        MODEL_SERVER,
        [*supervise, *status_file, "--", *serve],
        {
            # Data Capture goes to the emulated S3, as it would go to S3 on AWS
            "CAPTURE_S3_ENDPOINT_URL": settings.capture_s3_endpoint_url
            or settings.aws_endpoint_url,
            # records wait on disk too, so a killed server's successor uploads them
            "CAPTURE_SPOOL_DIR": str(capture_spool_dir(settings)),
        },
    )


def ready(settings: Settings, name: str) -> bool:
    if name == EMULATOR:
        return aws_ready(settings)
    return http_ok(f"{settings.model_server_url}/ping")


def _wait_ready(settings: Settings, name: str, alive: Callable[[], bool], timeout: float) -> None:
    what = "the embedded AWS emulator" if name == EMULATOR else "the model server"
    wait_until(
        lambda: ready(settings, name),
        what,
        timeout=timeout,
        hint=f"see {processes.log_path(settings, name)}",
        still_alive=alive,
    )


def start(settings: Settings, model_dir, names: tuple[str, ...] = PARTS) -> dict[str, int]:
    """Start the named parts at once, then wait for each; returns name -> pid."""
    spawned = {name: _spawn(settings, name, Path(model_dir)) for name in names}

    def alive(name: str) -> Callable[[], bool]:
        proc = spawned[name]
        if name == EMULATOR:
            return lambda: proc.poll() is None
        # the supervisor outlives a server that dies at start: a restart before the first
        # /ping 200 means the server cannot start (its log says why), so fail now, not later
        return lambda: proc.poll() is None and not supervisor_status(settings).get("restarts")

    try:
        for name, proc in spawned.items():
            _wait_ready(settings, name, alive(name), timeout=60)
    except Exception:
        for proc in spawned.values():
            processes.stop(proc.pid, timeout=5)
        raise
    return {name: proc.pid for name, proc in spawned.items()}


def heal(settings: Settings, state: StackState, model_dir_for: Callable[[], Path]) -> list[str]:
    """Keep the parts that run and answer; restart the others. Returns what it did, one line a
    part it restarted (empty: everything was up)."""
    actions, dead = [], []
    for name in PARTS:
        if name not in state.processes:
            actions.append(f"{name} was not recorded: started it")
            dead.append(name)
            continue
        owner = state.owner(name)
        if owner.ours:
            try:  # it runs: give it time to answer (a supervised server may be restarting)
                still = lambda o=owner: processes.alive(o.pid)
                _wait_ready(settings, name, still, timeout=UNRESPONSIVE_GRACE_SECONDS)
                continue
            except HarnessError:
                processes.stop(owner.pid, timeout=5, started=state.start_times.get(name))
                actions.append(f"{name} (pid {owner.pid}) did not answer: restarted it")
        else:
            actions.append(f"{name} {owner.state}: restarted it")
        dead.append(name)
    if not dead:
        return []
    _require_free_ports(settings, dead)
    for name, pid in start(settings, model_dir_for(), tuple(dead)).items():
        state.record(name, pid)
    state.save(settings)
    return actions


def _require_free_ports(settings: Settings, names: list[str]) -> None:
    """A dead part's port must be free again; a server ending on SIGTERM (the supervisor's child
    when the supervisor died) may need a moment to drain and flush Data Capture."""
    for name in names:
        port, variable, grace = (
            (settings.aws_port, "HARNESS_AWS_PORT", 2.0)
            if name == EMULATOR
            else (settings.model_server_port, "MODEL_SERVER_PORT", 30.0)
        )
        try:
            free = lambda p=port: not port_in_use(settings.host, p)
            wait_until(free, f"port {port}", timeout=grace)
        except HarnessError:
            raise HarnessError(
                f"Port {port} ({name}) is held by a process this stack did not record.",
                f"stop it (`ss -ltnp 'sport = :{port}'` names it), or set {variable}, then "
                "`make local-up`",
            ) from None


def aws_ready(settings: Settings) -> bool:
    return http_ok(f"{settings.aws_endpoint_url}{HEALTH_PATH}", timeout=1.0)
