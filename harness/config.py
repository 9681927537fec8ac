"""Settings: every environment variable the harness reads, with its default, read once.

Precedence is explicit argument > environment > default. Every command, the deployer,
the model server and the tests build one `Settings` (usually `Settings.from_env()`)
and pass it down; nothing else reads os.environ for harness settings.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = REPO_ROOT / "lambdas"
STATE_MACHINE_FILE = REPO_ROOT / "statemachine" / "workflow.asl.json"
DEFAULT_MODEL_ARTIFACT = REPO_ROOT / "model_training" / "artifact" / "model.tar.gz"
# Tests and CI read the shared copy; users get the real download into data/.
_SHARED_DATA = REPO_ROOT.parent / "shared" / "data" / "cifar100-bikes"
DEFAULT_DATA_DIR = _SHARED_DATA if _SHARED_DATA.is_dir() else REPO_ROOT / "data" / "cifar100-bikes"

STACK_FILE = "stack.json"  # in state_dir: what `harness up` started (harness.stack.processes)

# name of the environment variable -> (field, type). The one list of names the harness reads.
ENV = {
    "HARNESS_MODE": ("mode", str),  # auto | embedded | docker
    "HARNESS_TARGET": ("target", str),  # local | aws
    "HARNESS_HOST": ("host", str),
    "HARNESS_AWS_PORT": ("aws_port", int),
    "HARNESS_CONSOLE_PORT": ("console_port", int),  # harness console (127.0.0.1)
    # boto3's own per-service variable: where SageMaker's control plane answers (docker mode:
    # our sagemaker-api service, since LocalStack's free edition has none; a LocalStack plan
    # with SageMaker: http://127.0.0.1:4566). Empty: the mode's default.
    "AWS_ENDPOINT_URL_SAGEMAKER": ("sagemaker_endpoint_url", str),
    "SAGEMAKER_API_PORT": ("sagemaker_api_port", int),
    "HARNESS_STATE_DIR": ("state_dir", Path),
    "AWS_REGION": ("region", str),
    "SCONES_BUCKET": ("bucket", str),
    "SCONES_STATE_MACHINE": ("state_machine_name", str),
    "SCONES_STATE_MACHINE_FILE": ("state_machine_file", Path),  # e.g. the JSONata twin
    "SCONES_FUNCTION_PREFIX": ("function_prefix", str),
    "SCONES_THRESHOLD": ("threshold", float),
    "SCONES_DATA_DIR": ("data_dir", Path),
    "SCONES_MODEL_ARTIFACT": ("model_artifact", Path),
    "SCONES_ENDPOINT_NAME": ("endpoint_name", str),
    "SCONES_VARIANT_NAME": ("variant_name", str),
    "SCONES_INSTANCE_TYPE": ("instance_type", str),
    "MODEL_SERVER_HOST": ("model_server_host", str),
    "MODEL_SERVER_PORT": ("model_server_port", int),
    "SAGEMAKER_MODEL_DIR": ("model_dir", Path),
    "CAPTURE_ENABLED": ("capture_enabled", bool),
    "CAPTURE_DESTINATION_S3_URI": ("capture_s3_uri", str),
    "CAPTURE_SAMPLING_PERCENTAGE": ("capture_sampling_percentage", int),
    "CAPTURE_OPTIONS": ("capture_options", str),  # "Input,Output"
    "CAPTURE_FLUSH_SECONDS": ("capture_flush_seconds", float),
    "CAPTURE_S3_ENDPOINT_URL": ("capture_s3_endpoint_url", str),
    "CAPTURE_SPOOL_DIR": ("capture_spool_dir", str),  # records kept on disk until uploaded
    "LAMBDA_WORKERS_PER_FUNCTION": ("lambda_workers_per_function", int),
    "LAMBDA_MAX_WORKERS_PER_FUNCTION": ("lambda_max_workers_per_function", int),
    "LAMBDA_PREWARM": ("lambda_prewarm", bool),
    "LAMBDA_IDLE_SECONDS": ("lambda_idle_seconds", float),
    "LAMBDA_FORK_WORKERS": ("lambda_fork_workers", bool),  # false: each worker a fresh process
    "HARNESS_EMULATOR_SPEEDUPS": ("emulator_speedups", bool),  # false: moto's own slow paths
    # the local stack's S3 and executions outlive `down` (<state_dir>/data; emulator/persistence.py)
    "HARNESS_PERSIST": ("persist", bool),
    "HARNESS_PERSIST_INTERVAL": ("persist_interval", float),  # seconds between snapshots
    "HARNESS_PERSIST_MAX_EXECUTIONS": ("persist_max_executions", int),
    # the newest log events each CloudWatch log group keeps in the embedded emulator (0: all)
    "HARNESS_LOG_EVENTS_KEPT": ("log_events_kept", int),
    # the interpreter per Lambda Runtime: auto | off | python3.12=/path,... (emulator/runtimes.py)
    "HARNESS_LAMBDA_RUNTIMES": ("lambda_runtimes", str),
    "HARNESS_LAMBDA_RUNTIMES_DIR": ("lambda_runtimes_dir", Path),  # their small environments
    # Step Functions Local mock file: StartExecution on <machine ARN>#<TestCase> (sfn_mocks.py)
    "SFN_MOCK_CONFIG": ("sfn_mock_config", Path),
    # the model server's address as a Lambda sees it (docker: http://model-server:8080)
    "LAMBDA_MODEL_SERVER_URL": ("lambda_model_server_url", str),
    "SCONES_ECR_REPOSITORY": ("ecr_repository", str),
    # docker mode (docker-compose.yml reads the same names)
    "LOCALSTACK_IMAGE": ("localstack_image", str),
    "LOCALSTACK_AUTH_TOKEN": ("localstack_auth_token", str),
    "SCONES_DOCKER_NETWORK": ("docker_network", str),
    "SM_OUTPUT_DIR": ("training_output_dir", Path),  # model_training writes `failure` here
}


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file as docker compose reads them (comments, blank lines and
    surrounding quotes aside); a missing file is empty."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    values = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.removeprefix("export ").split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def _parse_bool(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    mode: str = "auto"
    target: str = "local"
    host: str = "127.0.0.1"
    aws_port: int = 4566
    console_port: int = 8900  # harness console
    sagemaker_endpoint_url: str = ""
    sagemaker_api_port: int = 4567  # docker mode's SageMaker control plane on the host
    state_dir: Path = REPO_ROOT / ".harness"
    region: str = "us-east-1"

    # the workflow
    bucket: str = "scones-unlimited-local"
    state_machine_name: str = "scones-workflow"
    function_prefix: str = ""
    threshold: float = 0.93
    data_dir: Path = DEFAULT_DATA_DIR
    model_artifact: Path = DEFAULT_MODEL_ARTIFACT

    # the endpoint
    endpoint_name: str = "scones-image-classifier"
    variant_name: str = "AllTraffic"
    instance_type: str = "ml.m5.xlarge"
    model_server_host: str = "127.0.0.1"
    model_server_port: int = 8080
    model_dir: Path = Path("/opt/ml/model")

    # Data Capture (docs/contracts.md section 4); empty URI = s3://<bucket>/data_capture
    capture_enabled: bool = True
    capture_s3_uri: str = ""
    capture_sampling_percentage: int = 100
    capture_options: str = "Input,Output"
    capture_flush_seconds: float = 1.0
    capture_s3_endpoint_url: str = ""  # empty: the stack's S3 (local) or AWS's own
    capture_spool_dir: str = ""  # empty: in memory only (the embedded stack sets one)

    lambda_workers_per_function: int = 1  # warm workers each function keeps (Lambda keeps none)
    lambda_max_workers_per_function: int = 4  # warm pool grows on demand up to this
    lambda_prewarm: bool = True  # start a function's warm workers at CreateFunction
    lambda_idle_seconds: float = 60.0  # workers beyond the minimum idle this long end (0: never)
    lambda_fork_workers: bool = True  # fork them from a warm template (emulator/forked_workers.py)
    emulator_speedups: bool = True  # the emulator's fast paths (harness/emulator/moto_speedups.py)
    persist: bool = True  # keep S3 and executions under <state_dir>/data across down/up
    persist_interval: float = 2.0  # a kill -9 loses at most this many seconds of changes
    persist_max_executions: int = 1000  # the newest ones kept on disk
    log_events_kept: int = 5000  # per log group: about 1,000 invocations of a function
    lambda_runtimes: str = "auto"  # workers run under the interpreter their Runtime names
    lambda_runtimes_dir: Path = REPO_ROOT / ".venv" / "lambda-runtimes"
    sfn_mock_config: Path = REPO_ROOT / "statemachine" / "mocks" / "workflow.mocks.json"
    lambda_model_server_url: str = ""  # empty: model_server_url
    ecr_repository: str = "scones-model-server"  # AWS target: where the model-server image goes
    # 4.14.0 is LocalStack's last tag that starts without an account (docs/docker.md)
    localstack_image: str = "localstack/localstack:4.14.0"
    localstack_auth_token: str = ""
    docker_network: str = "scones-net"  # the compose network LocalStack's Lambda containers join
    # training (SageMaker sets SM_OUTPUT_DIR=/opt/ml/output in a training container)
    training_output_dir: Path = REPO_ROOT / ".harness" / "training"
    # the workflow's sources (not from the environment; tests point them at their own copies)
    lambdas_dir: Path = LAMBDAS_DIR
    state_machine_file: Path = STATE_MACHINE_FILE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        """From `environ` (default: the process's environment over the repository's .env file,
        which docker compose reads too, so both see the same values)."""
        environ = {**read_dotenv(REPO_ROOT / ".env"), **os.environ} if environ is None else environ
        values: dict = {}
        for name, (attr, typ) in ENV.items():
            raw = environ.get(name)
            if raw is None and name == "AWS_REGION":
                raw = environ.get("AWS_DEFAULT_REGION")
            if raw is None or raw == "":
                continue
            values[attr] = _parse_bool(raw) if typ is bool else typ(raw)
        values.update((k, v) for k, v in overrides.items() if v is not None)  # None: not given
        return cls(**values)

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)

    # derived values: computed, never stored twice
    @property
    def aws_endpoint_url(self) -> str | None:
        """Where boto3 clients of the harness point; None means real AWS."""
        return None if self.target == "aws" else f"http://{self.host}:{self.aws_port}"

    @property
    def running_mode(self) -> str:
        """embedded or docker: the mode asked for, else the one the running stack recorded."""
        if self.mode in ("embedded", "docker"):
            return self.mode
        try:
            return json.loads((self.state_dir / STACK_FILE).read_text()).get("mode", "embedded")
        except (OSError, ValueError, AttributeError):
            return "embedded"

    @property
    def sagemaker_api_url(self) -> str | None:
        """SageMaker's control plane: AWS's own (None), the embedded emulator, or in docker
        mode the sagemaker-api service; AWS_ENDPOINT_URL_SAGEMAKER beats them locally."""
        if self.target == "aws":
            return None
        if self.sagemaker_endpoint_url:
            return self.sagemaker_endpoint_url
        if self.running_mode == "docker":
            return f"http://{self.host}:{self.sagemaker_api_port}"
        return self.aws_endpoint_url

    @property
    def model_server_url(self) -> str:
        return f"http://{self.model_server_host}:{self.model_server_port}"

    @property
    def capture_destination(self) -> str:
        return self.capture_s3_uri or f"s3://{self.bucket}/data_capture"

    def function_name(self, base: str) -> str:
        return f"{self.function_prefix}{base}"

    def as_environ(self) -> dict[str, str]:
        """The settings as environment variables, for child processes (workers, servers)."""
        out = {}
        for name, (attr, typ) in ENV.items():
            value = getattr(self, attr)
            out[name] = ("true" if value else "false") if typ is bool else str(value)
        return out
