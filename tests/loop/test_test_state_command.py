"""`harness test-state` as a user types it, in a fresh `python -m harness` process, against an
embedded AWS of its own (free port, own state folder) holding the workflow's real
filter_inferences function under a test prefix; the definition is the workflow's own file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import boto3
import pytest

from harness.config import Settings
from harness.deploy.workflow import build_zip
from harness.emulator import EmbeddedAWS

FILTER = "Filter low-confidence inferences"
EVENT = {"image_data": "", "s3_bucket": "b", "s3_key": "k.png", "inferences": [0.97, 0.03]}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("test-state")
    aws = EmbeddedAWS(Settings(aws_port=0, state_dir=state_dir)).start()
    prefix = f"ts{uuid.uuid4().hex[:6]}-"
    connect = {
        "endpoint_url": aws.url,
        "region_name": "us-east-1",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
    }
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "lambda.amazonaws.com"},
            }
        ],
    }
    role = boto3.client("iam", **connect).create_role(
        RoleName=f"{prefix}role", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    boto3.client("lambda", **connect).create_function(
        FunctionName=f"{prefix}filter_inferences",
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": build_zip("filter_inferences")},
        Environment={"Variables": {"THRESHOLD": "0.93"}},
    )
    aws.wait_stepfunctions()
    env = {
        **os.environ,
        "HARNESS_TARGET": "local",
        "HARNESS_HOST": "127.0.0.1",
        "HARNESS_AWS_PORT": aws.url.rsplit(":", 1)[1],
        "HARNESS_STATE_DIR": str(state_dir),
        "SCONES_FUNCTION_PREFIX": prefix,
        "AWS_REGION": "us-east-1",
        "COLUMNS": "200",
    }
    env.pop("SCONES_STATE_MACHINE_FILE", None)  # the workflow's own file
    yield env
    aws.stop()


def harness(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness", "test-state", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_state_runs_the_real_function_and_prints_each_stage(stack):
    result = harness(stack, FILTER, "--input", json.dumps(EVENT))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "SUCCEEDED" in out
    for stage in ("input", "afterInputPath", "afterParameters", "result", "output"):
        assert f"│ {stage} " in out, out
    assert '"statusCode":200' in out  # the function's real answer, in the result stage


def test_a_failing_state_exits_1_with_its_error(stack, tmp_path):
    low = tmp_path / "low.json"
    low.write_text(json.dumps({**EVENT, "inferences": [0.6, 0.4]}))
    result = harness(stack, FILTER, "--input", f"@{low}", "--level", "INFO")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED" in result.stdout and "THRESHOLD_CONFIDENCE_NOT_MET" in result.stdout


def test_a_mocked_error_shows_which_retrier_applies(stack, tmp_path):
    mock = tmp_path / "mock.json"
    mock.write_text(json.dumps({"errorOutput": {"error": "EndpointTransientError", "cause": "x"}}))
    result = harness(stack, "Classify image", "--input", json.dumps(EVENT), "--mock", f"@{mock}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RETRIABLE" in result.stdout
    assert '"retryIndex": 1' in result.stdout  # the workflow's second Retrier


def test_an_unknown_state_is_an_error_the_user_can_act_on(stack):
    result = harness(stack, "Nope")
    assert result.returncode == 1
    assert "State not found in definition" in result.stderr
    assert "check the state name" in result.stderr
