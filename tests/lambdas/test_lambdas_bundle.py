"""Each handler works from its zip layout (handler.py + shared/) with only stdlib and boto3.

The deployer zips lambdas/<function>/ together with lambdas/shared/; these tests build that
layout in a temporary folder and import the handler there in a fresh interpreter, the way
awslambdaric does (cwd = the unpacked code), so a stray import of harness/ or tests/ shows up.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from shared.errors import EndpointInvocationError

from harness.config import LAMBDAS_DIR
from harness.stack.readiness import free_port

FUNCTIONS = ("serialize_image_data", "classify_image", "filter_inferences")
ALLOWED_TOP_LEVEL = set(sys.stdlib_module_names) | {"boto3", "botocore", "shared"}


def test_lambda_code_imports_only_stdlib_boto3_and_shared():
    for path in sorted(LAMBDAS_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in ALLOWED_TOP_LEVEL, f"{path}: imports {name}"


def bundle(function: str, root: Path) -> Path:
    target = root / function
    shutil.copytree(LAMBDAS_DIR / function, target, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        LAMBDAS_DIR / "shared", target / "shared", ignore=shutil.ignore_patterns("__pycache__")
    )
    return target


def run_in_bundle(code_dir: Path, script: str, **env: str) -> subprocess.CompletedProcess:
    # Only AWS_REGION (no AWS_DEFAULT_REGION): the handlers must not rely on botocore's own lookup.
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, '.')\n" + script],
        check=False,
        cwd=code_dir,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("function", FUNCTIONS)
def test_handler_imports_from_its_bundle(tmp_path, function):
    result = run_in_bundle(
        bundle(function, tmp_path),
        "import inspect, handler\nprint(list(inspect.signature(handler.handler).parameters))",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['event', 'context']"


def test_clients_take_their_endpoint_from_the_environment(tmp_path):
    # GIVEN the local-mode environment of the classifier (as the deployer sets it)
    result = run_in_bundle(
        bundle("classify_image", tmp_path),
        "import handler; print(handler.runtime.meta.endpoint_url)",
        AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME="http://127.0.0.1:8080",
        AWS_ENDPOINT_URL="http://127.0.0.1:4566",
    )
    # THEN boto3 itself points the module-level client there; no code path differs
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "http://127.0.0.1:8080"


def test_filter_raises_the_contract_error_from_its_bundle(tmp_path):
    event = {"s3_bucket": "b", "s3_key": "k.png", "image_data": "", "inferences": [0.4, 0.6]}
    result = run_in_bundle(
        bundle("filter_inferences", tmp_path),
        "import json, handler\n"
        f"try:\n    handler.handler({event!r}, None)\n"
        "except Exception as exc:\n    print(json.dumps([type(exc).__name__, str(exc)]))",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [
        "THRESHOLD_CONFIDENCE_NOT_MET",
        "top confidence 0.6 (motorcycle) is below the threshold 0.93",
    ]


def test_unreachable_endpoint_is_a_named_error(classify_module, load_event):
    # GIVEN a sagemaker-runtime client pointed at a port where nothing listens
    port = free_port()
    client = boto3.client(
        "sagemaker-runtime",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2),
    )
    # WHEN the classifier calls it THEN the error names the endpoint, the image and the cause
    from shared.event import WorkflowEvent

    with pytest.raises(EndpointInvocationError) as caught:
        classify_module.classify_image(
            WorkflowEvent(load_event("classify_input")), client, "scones-image-classifier"
        )
    assert caught.value.code == "EndpointConnectionError"
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "s3://scones-unlimited-local/test/bicycle_s_000030.png" in str(caught.value)
    # nothing listens *yet* (a restarting server): the state machine retries this name
    assert type(caught.value).__name__ == "EndpointTransientError"


def test_a_server_dying_mid_request_is_transient(classify_module, load_event):
    # GIVEN a server that accepts the connection and closes it without an answer (what a
    # model server killed mid-request does to its callers)
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def accept_and_drop() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.close()

    threading.Thread(target=accept_and_drop, daemon=True).start()
    client = boto3.client(
        "sagemaker-runtime",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=5),
    )
    from shared.event import WorkflowEvent

    try:
        with pytest.raises(EndpointInvocationError) as caught:
            classify_module.classify_image(
                WorkflowEvent(load_event("classify_input")), client, "scones-image-classifier"
            )
    finally:
        listener.close()
    # THEN the state machine's Retry gets it: the next attempt may meet a restarted server
    assert type(caught.value).__name__ == "EndpointTransientError"
    assert caught.value.code == "ConnectionClosedError"
