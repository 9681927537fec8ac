"""Docker mode: Docker Compose runs LocalStack, the SageMaker control plane and the model server.

Every failure a docker user meets gets a message naming the cause and the next command, and
leaves nothing half-started: a failed `up` takes down what it started.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from harness.config import REPO_ROOT, Settings
from harness.errors import HarnessError

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
PROJECT = "scones"  # docker-compose.yml's `name:`
# How a Lambda container, on the compose network, reaches the endpoint.
MODEL_SERVER_URL_IN_NETWORK = "http://model-server:8080"
# LocalStack names each Lambda container after its own: <project>-localstack-1-lambda-<function>-<id>
LAMBDA_CONTAINER_PREFIX = (
    f"{PROJECT}-localstack-1-lambda-"  # = container_name("localstack") + "-lambda-"
)
# Tags that start without an account: 4.14.0 and older, and its alias community-archive.
_TOKEN_FREE_TAG = re.compile(r"^(community-archive|[0-3]\.\d+(\.\d+)?|4\.(\d|1[0-4])(\.\d+)?)$")


def engine_answers(timeout: float = 2.0) -> bool:
    return _docker("info", "--format", "{{.ServerVersion}}", timeout=timeout).returncode == 0


def engine_may_run() -> bool:
    """False only when no engine can answer: no DOCKER_HOST, no docker context of the user's
    own, and no socket where Docker (rootful, rootless, Desktop) puts it. Lets auto mode skip
    `docker info` (~0.15 s of every `up`) on a machine without Docker."""
    if os.environ.get("DOCKER_HOST") or os.environ.get("DOCKER_CONTEXT"):
        return True
    config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"
    try:
        if json.loads(config.read_text()).get("currentContext", "default") != "default":
            return True
    except (OSError, ValueError, AttributeError):
        pass
    return any(path.exists() for path in _socket_paths())


def _socket_paths() -> list[Path]:
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return [
        Path("/var/run/docker.sock"),
        Path("/run/docker.sock"),
        Path(runtime_dir) / "docker.sock",  # rootless
        Path.home() / ".docker" / "run" / "docker.sock",  # Docker Desktop
    ]


def _docker(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
    if shutil.which("docker") is None:
        return subprocess.CompletedProcess(args, 127, "", "docker: command not found")
    try:
        return subprocess.run(
            ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (subprocess.TimeoutExpired, OSError) as exc:
        return subprocess.CompletedProcess(args, 1, "", str(exc))


def _compose_env(settings: Settings, model_dir) -> dict[str, str]:
    return {
        **os.environ,
        **settings.as_environ(),
        "MODEL_DIR": str(model_dir),
        "LOCALSTACK_PORT": str(settings.aws_port),
    }


def _compose(settings: Settings, model_dir, *args: str) -> int:
    command = ["docker", "compose", "-f", str(COMPOSE_FILE), *args]
    return subprocess.run(
        command, cwd=REPO_ROOT, env=_compose_env(settings, model_dir), check=False
    ).returncode


def needs_auth_token(image: str, token: str) -> bool:
    """A LocalStack tag newer than 4.14.0 (latest, 2026.x, ...) refuses to start without a token."""
    if token or not image.startswith("localstack/localstack"):
        return False  # a token is given, or an image of the user's own (CI's build, a mirror)
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else "latest"
    return not _TOKEN_FREE_TAG.match(tag)


def preflight(settings: Settings) -> None:
    """What docker mode needs before `compose up`; the ports are checked with the embedded ones."""
    if not engine_answers():
        raise HarnessError(
            "HARNESS_MODE=docker, but no Docker engine answers.",
            "start Docker (`docker info` must work), or use HARNESS_MODE=embedded",
        )
    if needs_auth_token(settings.localstack_image, settings.localstack_auth_token):
        raise HarnessError(
            f"LOCALSTACK_IMAGE={settings.localstack_image} asks for an auth token, and "
            "LOCALSTACK_AUTH_TOKEN is empty.",
            "set LOCALSTACK_AUTH_TOKEN (a free non-commercial plan exists), or leave LOCALSTACK_IMAGE "
            "at its default localstack/localstack:4.14.0, the last tag that runs without one",
        )
    network = _docker(
        "network",
        "inspect",
        settings.docker_network,
        "--format",
        '{{index .Labels "com.docker.compose.project"}}',
    )
    if network.returncode == 0 and network.stdout.strip() != PROJECT:
        raise HarnessError(
            f"The Docker network {settings.docker_network!r} exists and is not this stack's.",
            "set SCONES_DOCKER_NETWORK to another name (in .env), or remove the network with "
            f"`docker network rm {settings.docker_network}` if nothing uses it",
        )


def start(settings: Settings, model_dir) -> None:
    preflight(settings)
    if _compose(settings, model_dir, "up", "--wait", "--build", "--detach") == 0:
        _load_services(settings)
        return
    unhealthy = _unhealthy_services(settings, model_dir)
    stop(settings, model_dir)  # nothing half-started
    raise HarnessError(*_why_not_up(unhealthy))


# A cheap read per service the deploy uses, one after the other: LocalStack loads a service's
# provider on its first request, and the deploy's parallel first requests could meet
# "no handler for operation 'GetRole' on service 'iam'" while it did (seen in CI).
_FIRST_CALLS = (
    ("sts", "get_caller_identity"),
    ("s3", "list_buckets"),
    ("iam", "list_roles"),
    ("lambda", "list_functions"),
    ("logs", "describe_log_groups"),
    ("stepfunctions", "list_state_machines"),
)


def _load_services(settings: Settings) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    from harness.clients import local_client

    for service, operation in _FIRST_CALLS:
        client = local_client(
            service, region_name=settings.region, endpoint_url=settings.aws_endpoint_url
        )
        try:
            getattr(client, operation)()
        except (BotoCoreError, ClientError):
            pass  # the deploy reports a real failure with its own message


def _unhealthy_services(settings: Settings, model_dir) -> list[str]:
    command = ["docker", "compose", "-f", str(COMPOSE_FILE), "ps", "--all", "--format", "json"]
    result = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=_compose_env(settings, model_dir),
        capture_output=True,
        text=True,
        check=False,
    )
    rows = []
    for line in result.stdout.splitlines():  # one object a line; older Compose, one array
        if line.strip().startswith(("{", "[")):
            parsed = json.loads(line)
            rows.extend(parsed if isinstance(parsed, list) else [parsed])
    return [
        row["Service"]
        for row in rows
        if row.get("State") != "running" or row.get("Health") not in ("", "healthy")
    ]


def _why_not_up(unhealthy: list[str]) -> tuple[str, str]:
    causes = "docs/docker.md lists the usual causes"
    if "localstack" in unhealthy:
        return (
            "LocalStack did not become healthy in time (the stack was taken down again).",
            (
                f"read `docker compose logs localstack`; an image newer than 4.14.0 needs "
                f"LOCALSTACK_AUTH_TOKEN; {causes}"
            ),
        )
    if unhealthy:
        names = ", ".join(unhealthy)
        return (
            f"docker compose could not start {names} (the stack was taken down again).",
            f"read `docker compose logs {unhealthy[0]}`; {causes}",
        )
    return (
        "`docker compose up` failed (the stack was taken down again).",
        (
            f"see the compose output above; {causes} (LocalStack auth token, ports in use, "
            f"the network name taken, ARM machines)"
        ),
    )


SERVICES = ("localstack", "sagemaker-api", "model-server")


def container_name(service: str) -> str:
    """Compose's name for the one container of `service` in this project."""
    return f"{PROJECT}-{service}-1"


def restart_counts() -> dict[str, int]:
    """service -> how often Docker restarted its container (docker-compose.yml's restart policy
    restarts the model server when it dies, as SageMaker replaces an instance); {} without Docker."""
    names = [container_name(service) for service in SERVICES]
    # one line a container that exists; a missing one only adds to stderr
    fmt = '{{index .Config.Labels "com.docker.compose.service"}} {{.RestartCount}}'
    counts = {}
    for line in _docker("inspect", "--format", fmt, *names, timeout=5).stdout.splitlines():
        service, _, count = line.strip().rpartition(" ")
        if service and count.isdigit():
            counts[service] = int(count)
    return counts


def stop(settings: Settings, model_dir) -> None:
    code = _compose(settings, model_dir, "down", "--remove-orphans")
    # LocalStack removes its Lambda containers when it stops them, but not one whose start
    # timed out; remove what it left, so `down` leaves nothing of the stack.
    left = _docker("ps", "-aq", "--filter", f"name=^/{LAMBDA_CONTAINER_PREFIX}").stdout.split()
    if left:
        _docker("rm", "-f", *left)
    if code != 0:
        raise HarnessError(
            f"`docker compose down` failed (exit {code}).",
            "see its output above; `docker compose ps` shows what still runs",
        )
