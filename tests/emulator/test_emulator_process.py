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

from harness.config import REPO_ROOT
from harness.stack.readiness import free_port
from tests.support.lambda_zip import zip_code
from tests.support.pids import alive


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
        code = zip_code(
            {"handler.py": "import os\ndef handler(event, context):\n    return os.getpid()\n"}
        )
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


def _moto_points() -> dict:
    """Every point the emulator patches or reads, as moto has it now. The interpreter's
    modules are looked at only if loaded: importing them here would load moto.batch whole,
    and hide whether the emulator's placeholder for it went away again."""
    import copy

    from moto.awslambda.models import LambdaBackend, LambdaFunction
    from moto.core.config import default_user_config
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler

    points = {
        "LambdaFunction._invoke_lambda": LambdaFunction._invoke_lambda,
        "LambdaFunction.invoke": LambdaFunction.invoke,
        "LambdaBackend.create_function": LambdaBackend.create_function,
        "LambdaBackend.delete_function": LambdaBackend.delete_function,
        "DomainDispatcherApplication.get_backend_for_host": (
            DomainDispatcherApplication.get_backend_for_host
        ),
        "MotoRequestHandler.disable_nagle_algorithm": MotoRequestHandler.disable_nagle_algorithm,
        "config": copy.deepcopy({k: default_user_config[k] for k in ("stepfunctions", "lambda")}),
        "moto.batch": sys.modules.get("moto.batch"),
        "MOTO_PORT": os.environ.get("MOTO_PORT"),
    }
    parser = sys.modules.get("moto.stepfunctions.parser.asl.parse.asl_parser")
    if parser is not None:
        points["AmazonStateLanguageParser.parse"] = parser.AmazonStateLanguageParser.parse
    for name in (
        "moto.stepfunctions.parser.asl.utils.json_path",
        "moto.stepfunctions.parser.asl.component.common.path.result_path",
    ):
        if name in sys.modules:
            points[f"{name}.parse"] = sys.modules[name].parse
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions") and hasattr(module, "boto_client_for"):
            points[f"{name}.boto_client_for"] = module.boto_client_for
    points.update(_mock_points())
    points.update(_jsonata_points())
    return points


def _jsonata_points() -> dict:
    """sfn_jsonata.py: every point it patches (tests/emulator/test_emulator_sfn_jsonata_hooks)."""
    from tests.emulator.test_emulator_sfn_jsonata_hooks import POINTS

    return {
        f"{owner or module}.{name}": getattr(
            sys.modules[module] if owner is None else getattr(sys.modules[module], owner), name
        )
        for module, owner, name in POINTS
        if module in sys.modules
    }


def _mock_points() -> dict:
    """sfn_mocks.py: one light point always, the engine's once a `#TestCase` start ran."""
    from moto.stepfunctions.responses import StepFunctionResponse

    points = {"StepFunctionResponse.start_execution": StepFunctionResponse.start_execution}
    for module, owner, name in (
        ("moto.stepfunctions.parser.models", "StepFunctionsParserBackend", "start_execution"),
        ("moto.stepfunctions.parser.backend.execution", "Execution", "_get_start_execution_worker"),
        ("moto.stepfunctions.parser.mocking.mock_config", None, "load_mock_test_case_for"),
    ):
        if module in sys.modules:
            target = sys.modules[module] if owner is None else getattr(sys.modules[module], owner)
            points[f"{owner or module}.{name}"] = getattr(target, name)
    return points


def _start_a_mocked_execution(url: str) -> None:
    """A StartExecution on `<arn>#<TestCase>`: the mocks patch the engine (InvalidName here)."""
    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    arn = sfn.create_state_machine(
        name="restore-check",
        roleArn="arn:aws:iam::123456789012:role/restore-check",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    with pytest.raises(sfn.exceptions.ClientError, match="InvalidName"):
        sfn.start_execution(stateMachineArn=f"{arn}#NoSuchCase", name="restore-check")


def _not_ours(points: dict) -> dict:
    """The points that hold one of the emulator's replacements."""
    return {
        key: value
        for key, value in points.items()
        if getattr(value, "__module__", "").startswith("harness.")
        or hasattr(value, "cache_info")  # an lru_cache around jsonpath_ng's parse
        or (key == "moto.batch" and value is not None and not hasattr(value, "__file__"))
    }


def test_stop_puts_moto_back_as_it_was(tmp_path, speedups):
    """Other tests use moto's in-process mock: a stopped emulator must leave no hook behind."""
    from moto.awslambda.models import LambdaFunction

    from harness.config import Settings
    from harness.emulator import EmbeddedAWS

    before = _moto_points()
    assert _not_ours(before) == {}  # an earlier emulator in this process cleaned up too
    aws = EmbeddedAWS(Settings(aws_port=0, state_dir=tmp_path, emulator_speedups=speedups)).start()
    try:
        aws.wait_stepfunctions()  # the speed-ups are all in place from here on
        assert LambdaFunction._invoke_lambda is not before["LambdaFunction._invoke_lambda"]
        _start_a_mocked_execution(aws.url)
        running = _moto_points()
        assert "StepFunctionsParserBackend.start_execution" in _not_ours(running)
        assert "StringJSONata._eval_body" in _not_ours(running)  # sfn_jsonata.py
        assert running["config"]["stepfunctions"]["execute_state_machine"] is True
        if speedups:
            assert any(key.endswith(".boto_client_for") for key in _not_ours(running))
    finally:
        aws.stop()
    after = _moto_points()
    assert {key: after[key] for key in before} == before
    assert _not_ours(after) == {}  # points first loaded while it ran hold moto's own too


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


def test_contract_has_one_home():
    """The stack and the deployer use the emulator's own names, not copies of them."""
    from harness.deploy import local
    from harness.emulator import code, contract, server
    from harness.stack import embedded

    assert local.CODE_PATHS_TAG is code.CODE_PATHS_TAG is contract.CODE_PATHS_TAG
    assert embedded.HEALTH_PATH is server.HEALTH_PATH is contract.HEALTH_PATH


def _python(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_up_and_the_package_stay_light():
    """`up` (harness.stack.embedded) must not pay for moto, and the emulator sits below the
    stack: importing it loads nothing of harness.stack."""
    out = _python(
        "-c",
        "import sys, harness.stack.embedded, harness.emulator;"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('moto', 'boto3', 'werkzeug'));"
        "assert not heavy, heavy",
    )
    assert out.returncode == 0, out.stderr
    out = _python(
        "-c",
        "import sys, harness.emulator.server, harness.emulator.__main__;"
        "print(sorted(m for m in sys.modules if m.startswith('harness.stack')))",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_help_prints_usage_and_exits():
    out = _python("-m", "harness.emulator", "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: python -m harness.emulator")
    assert "HARNESS_EMULATOR_SPEEDUPS" in out.stdout and "ready at" not in out.stdout
