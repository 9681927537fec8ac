"""`python -m harness.emulator`: one ready line, a busy port is a clear error, no orphan on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from support.lambda_zip import zip_code
from support.pids import alive

from harness.config import REPO_ROOT
from harness.stack.readiness import free_port


def _start(port: int, tmp_path: Path) -> subprocess.Popen:
    env = dict(os.environ, HARNESS_AWS_PORT=str(port), HARNESS_STATE_DIR=str(tmp_path))
    return subprocess.Popen(
        [sys.executable, "-m", "harness.emulator"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_foreground_process_serves_and_leaves_no_worker(tmp_path):
    port = free_port()
    proc = _start(port, tmp_path)
    try:
        line = proc.stdout.readline()  # blocks until ready (or the process died)
        assert line.strip() == f"embedded AWS ready at http://127.0.0.1:{port}", proc.stderr.read()
        kw = {
            "endpoint_url": f"http://127.0.0.1:{port}",
            "region_name": "us-east-1",
            "aws_access_key_id": "test",
            "aws_secret_access_key": "test",
        }
        role = boto3.client("iam", **kw).create_role(RoleName="r", AssumeRolePolicyDocument="{}")[
            "Role"
        ]["Arn"]
        code = zip_code({"handler.py": "import os\ndef handler(event, context):\n    return os.getpid()\n"})
        lam = boto3.client("lambda", **kw)
        lam.create_function(
            FunctionName="pid",
            Runtime="python3.11",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": code},
        )
        worker_pid = json.loads(lam.invoke(FunctionName="pid")["Payload"].read())
        assert alive(worker_pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    deadline = time.monotonic() + 5
    while alive(worker_pid):
        assert time.monotonic() < deadline, f"worker {worker_pid} outlived the emulator"
        time.sleep(0.05)


def test_port_in_use_is_an_actionable_error(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        proc = _start(busy.getsockname()[1], tmp_path)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "already in use" in stderr and "HARNESS_AWS_PORT" in stderr


@pytest.mark.parametrize("signum", [signal.SIGINT])
def test_sigint_stops_cleanly(tmp_path, signum):
    proc = _start(free_port(), tmp_path)
    assert proc.stdout.readline().startswith("embedded AWS ready at")
    proc.send_signal(signum)
    assert proc.wait(timeout=15) == 0


def test_stop_puts_moto_back_as_it_was(tmp_path):
    """Other tests use moto's in-process mock: a stopped emulator must leave no hook behind."""
    from moto.awslambda.models import LambdaFunction
    from moto.core.config import default_user_config
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    from harness.config import Settings
    from harness.emulator import EmbeddedAWS

    def hooked_state():
        return (
            LambdaFunction._invoke_lambda,
            LambdaFunction.invoke,
            AmazonStateLanguageParser.parse,
            dict(default_user_config["stepfunctions"]),
            os.environ.get("MOTO_PORT"),
        )

    before = hooked_state()
    aws = EmbeddedAWS(Settings(aws_port=0, state_dir=tmp_path)).start()
    assert LambdaFunction._invoke_lambda is not before[0]
    aws.stop()
    after = hooked_state()
    assert after == before


def test_public_interface_is_pinned():
    import harness.emulator

    assert sorted(harness.emulator.__all__) == [
        "CODE_PATHS_TAG",
        "EmbeddedAWS",
        "HEALTH_PATH",
        "is_ready",
        "wait_ready",
    ]
    assert harness.emulator.CODE_PATHS_TAG == "harness:code-paths"  # the deployer's contract
    assert harness.emulator.HEALTH_PATH == "/_harness/health"
