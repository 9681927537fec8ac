"""What each part of the local stack is doing now, and the one command that fixes a dead one.

`harness status` prints this; `require_running` names the dead parts in its error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from harness.config import Settings
from harness.stack import compose, embedded
from harness.stack.processes import StackState
from harness.stack.readiness import http_ok

FIX = "`make local-up` (it restarts what is dead and keeps what runs)"
_AWS_SERVICES = "S3, IAM, STS, Lambda, Step Functions, CloudWatch Logs"
RECENT_RESTART_SECONDS = 10.0  # a supervised server that died this recently is "restarting"


@dataclass(frozen=True)
class Part:
    component: str  # as the status table names it
    address: str
    role: str
    answers: bool
    process: str = ""  # embedded: "running", "exited (pid 123)", ...; docker: ""
    restarts: int | None = None  # None: not supervised / unknown
    last_exit: str = ""
    restarting: bool = False

    @property
    def ok(self) -> bool:
        return self.answers

    @property
    def state(self) -> str:
        if self.answers:
            return "up"
        if self.restarting:
            return f"restarting ({self.last_exit})"
        if self.process and self.process != "running":
            return f"dead: {self.process}"
        return "not answering" if self.process == "running" else "down"


def parts(settings: Settings, state: StackState | None) -> list[Part]:
    """One Part a component; with no recorded stack, what answers at the configured ports."""
    docker = state is not None and state.mode == "docker"
    model_server_role = f"SageMaker endpoint {settings.endpoint_name} + runtime API + Data Capture"
    if docker:
        counts = compose.restart_counts()
        return [
            Part(
                "AWS APIs",
                settings.aws_endpoint_url,
                _AWS_SERVICES,
                http_ok(f"{settings.aws_endpoint_url}/_localstack/health"),
                restarts=counts.get("localstack"),
            ),
            Part(
                "SageMaker API",
                settings.replace(mode="docker").sagemaker_api_url,
                "SageMaker control plane (LocalStack's free edition has none)",
                http_ok(f"{settings.replace(mode='docker').sagemaker_api_url}/moto-api/data.json"),
                restarts=counts.get("sagemaker-api"),
            ),
            Part(
                "endpoint",
                settings.model_server_url,
                model_server_role,
                http_ok(f"{settings.model_server_url}/ping"),
                restarts=counts.get("model-server"),
            ),
        ]
    emulator = Part(
        "AWS APIs",
        settings.aws_endpoint_url,
        f"{_AWS_SERVICES}, SageMaker control plane",
        embedded.aws_ready(settings),
        process=_process(state, embedded.EMULATOR),
    )
    supervised = embedded.supervisor_status(settings) if state is not None else {}
    process = _process(state, embedded.MODEL_SERVER)
    last_restart = supervised.get("last_restart_at") or 0.0
    endpoint = Part(
        "endpoint",
        settings.model_server_url,
        model_server_role,
        http_ok(f"{settings.model_server_url}/ping"),
        process=process,
        restarts=supervised.get("restarts"),
        last_exit=supervised.get("last_exit", ""),
        restarting=process == "running" and time.time() - last_restart < RECENT_RESTART_SECONDS,
    )
    return [emulator, endpoint]


def _process(state: StackState | None, name: str) -> str:
    if state is None:
        return ""
    if name not in state.processes:
        return "not started"
    return state.owner(name).state


def problems(parts_now: list[Part]) -> list[str]:
    """One line a part that is not up: what it is and what to run."""
    return [f"{p.component}: {p.state} -> run {FIX}" for p in parts_now if not p.ok]
