"""docker-compose.yml keeps the shape docker mode relies on (issue 5, point 1). Reads the file
itself, so it runs without Docker; the `docker compose config` check needs only the CLI plugin."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from harness.config import ENV, REPO_ROOT, Settings

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def test_ports_are_published_on_loopback_only(compose):
    ports = [port for service in compose["services"].values() for port in service.get("ports", [])]
    assert ports, "docker mode publishes LocalStack's and the model server's ports"
    for port in ports:
        assert port.startswith("127.0.0.1:"), f"{port!r} would listen on every interface"


def test_localstack_defaults_to_the_last_token_free_tag(compose):
    localstack = compose["services"]["localstack"]
    assert localstack["image"] == "${LOCALSTACK_IMAGE:-localstack/localstack:4.14.0}"
    env = localstack["environment"]
    assert env["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}"
    assert set(env["SERVICES"].split(",")) == {
        "s3",
        "iam",
        "sts",
        "lambda",
        "stepfunctions",
        "logs",
        "events",  # Step Functions reports to EventBridge (docs/contracts.md section 5)
    }
    assert "/var/run/docker.sock:/var/run/docker.sock" in localstack["volumes"]
    assert "/_localstack/health" in " ".join(localstack["healthcheck"]["test"])


def test_lambda_containers_join_the_compose_network(compose):
    # LocalStack's Lambda containers reach http://model-server:8080 only on the named network
    network = compose["networks"]["default"]["name"]
    assert compose["services"]["localstack"]["environment"]["LAMBDA_DOCKER_NETWORK"] == network


def test_model_server_runs_like_sagemaker(compose):
    server = compose["services"]["model-server"]
    assert server["command"] == "serve"
    assert (REPO_ROOT / server["build"]["context"] / server["build"]["dockerfile"]).is_file()
    assert "${MODEL_DIR:-./.harness/model}:/opt/ml/model:ro" in server["volumes"]
    assert "/ping" in " ".join(server["healthcheck"]["test"])
    env = server["environment"]
    assert env["MODEL_SERVER_HOST"] == "0.0.0.0"
    assert env["CAPTURE_S3_ENDPOINT_URL"] == "http://localstack:4566"


def test_sagemaker_control_plane_is_served_beside_localstack(compose):
    # LocalStack's free edition answers every SageMaker call with InternalFailure
    api = compose["services"]["sagemaker-api"]
    assert (REPO_ROOT / api["build"]["context"] / api["build"]["dockerfile"]).is_file()
    assert api["ports"] == ["127.0.0.1:${SAGEMAKER_API_PORT:-4567}:4567"]
    assert Settings().sagemaker_api_port == 4567
    # its ARNs name LocalStack's account, as every other ARN of the stack does
    assert api["environment"]["MOTO_ACCOUNT_ID"] == "000000000000"


def test_model_server_env_names_are_settings_the_server_reads(compose):
    # a misspelt name would be silently ignored by Settings.from_env()
    names = set(compose["services"]["model-server"]["environment"])
    unknown = {n for n in names if n not in ENV and not n.startswith("AWS_")}
    assert not unknown, f"not in harness/config.py ENV: {sorted(unknown)}"


def test_env_example_names_only_variables_compose_reads():
    used = set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text()))
    example = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert example <= used, f"unused in docker-compose.yml: {sorted(example - used)}"
    assert {"LOCALSTACK_AUTH_TOKEN", "LOCALSTACK_IMAGE", "MODEL_DIR"} <= example


def _compose_cli() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], check=False, capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _compose_cli(), reason="needs the `docker compose` (v2) CLI plugin")
def test_docker_compose_config_resolves_overrides(tmp_path):
    # GIVEN the variables a user (or harness up) sets
    env = {
        **os.environ,
        "LOCALSTACK_AUTH_TOKEN": "ls-token",
        "LOCALSTACK_PORT": "14566",
        "MODEL_SERVER_PORT": "18080",
        "MODEL_DIR": str(tmp_path),
        "SCONES_DOCKER_NETWORK": "scones-test-net",
    }
    # WHEN Compose itself resolves the file (no engine needed)
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # no .env of the repository's
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    # THEN every override lands where docker mode needs it
    localstack, server = config["services"]["localstack"], config["services"]["model-server"]
    assert localstack["environment"]["LOCALSTACK_AUTH_TOKEN"] == "ls-token"
    assert localstack["environment"]["LAMBDA_DOCKER_NETWORK"] == "scones-test-net"
    assert config["networks"]["default"]["name"] == "scones-test-net"
    assert [(p["host_ip"], p["published"]) for p in localstack["ports"]] == [("127.0.0.1", "14566")]
    assert [(p["host_ip"], p["published"]) for p in server["ports"]] == [("127.0.0.1", "18080")]
    mount = next(v for v in server["volumes"] if v["target"] == "/opt/ml/model")
    assert (mount["source"], mount["read_only"]) == (str(tmp_path), True)
