"""A function runs under the interpreter its Runtime names when this machine has it
(harness/emulator/runtimes.py), in an environment holding only awslambdaric and boto3; when it
does not, it runs under the harness's interpreter and that is said once, plainly."""

from __future__ import annotations

import io
import json
import sys
import uuid

import boto3
import pytest
from rich.console import Console

from harness.config import Settings
from harness.deploy.base import Identity, Outputs
from harness.deploy.summary import print_outputs
from harness.emulator import EmbeddedAWS
from harness.emulator.runtimes import Runtimes, find_interpreter, parse_spec, pins
from tests.support.lambda_zip import zip_code

MISSING = "/nonexistent/bin/python3.10"  # what the fallback runtime is pointed at
SPEC = f"auto,python3.10={MISSING}"

REPORT = """
import os, sys

def handler(event, context):
    try:
        import moto  # noqa: F401  (the harness's packages must not be importable, as on AWS)
        harness_visible = True
    except ImportError:
        harness_visible = False
    import boto3
    return {
        "version": list(sys.version_info[:2]),
        "executable": sys.executable,
        "boto3": boto3.__version__,
        "harness_visible": harness_visible,
        "env": {k: os.environ.get(k) for k in (
            "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "TZ",
            "AWS_LAMBDA_INITIALIZATION_TYPE", "_HANDLER")},
    }
"""


@pytest.fixture(scope="module")
def aws(tmp_path_factory, speedups):
    with pytest.MonkeyPatch.context() as patch:  # the workers read HARNESS_LAMBDA_RUNTIMES
        patch.setenv("HARNESS_LAMBDA_RUNTIMES", SPEC)
        patch.delenv("HARNESS_LAMBDA_RUNTIMES_DIR", raising=False)  # the shared default folder
        settings = Settings(
            aws_port=0,
            state_dir=tmp_path_factory.mktemp("runtimes-state"),
            emulator_speedups=speedups,
            lambda_prewarm=False,
        )
        emulator = EmbeddedAWS(settings).start()
        yield emulator
        emulator.stop()


@pytest.fixture(scope="module")
def lam(aws, client):
    return client("lambda")


@pytest.fixture(scope="module")
def deploy(lam, role_arn):
    def create(runtime: str) -> str:
        name = f"rt-{uuid.uuid4().hex[:8]}"
        lam.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role_arn,
            Handler="handler.handler",
            Code={"ZipFile": zip_code({"handler.py": REPORT})},
            Timeout=60,  # the first call may make the runtime's environment
        )
        return name

    return create


def call(lam, name: str) -> dict:
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return payload


def log_messages(client, name: str) -> list[str]:
    logs = client("logs")
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    return [e["message"] for e in events]


def test_a_function_runs_under_its_declared_runtime(deploy, lam, client):
    if find_interpreter("python3.12") is None:
        pytest.skip("no python3.12 interpreter on this machine (PATH, pyenv, /usr/bin)")
    name = deploy("python3.12")
    seen = call(lam, name)
    assert seen["version"] == [3, 12]
    assert seen["env"]["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert seen["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert seen["env"]["TZ"] == ":UTC" and seen["env"]["_HANDLER"] == "handler.handler"
    assert seen["env"]["LAMBDA_RUNTIME_DIR"].endswith("python3.12")
    assert seen["harness_visible"] is False  # only awslambdaric and boto3, as on AWS
    assert f"boto3=={seen['boto3']}" in pins()
    assert not any("WARNING" in line for line in log_messages(client, name))


def test_the_harness_runtime_runs_under_the_harness_interpreter(deploy, lam):
    seen = call(lam, deploy("python{}.{}".format(*sys.version_info[:2])))
    assert seen["version"] == list(sys.version_info[:2])
    assert seen["executable"] == sys.executable


def test_a_missing_interpreter_falls_back_and_says_so_once(deploy, lam, client):
    name = deploy("python3.10")
    first, second = call(lam, name), call(lam, name)
    assert first["version"] == second["version"] == list(sys.version_info[:2])
    assert first["env"]["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.10"  # as declared
    warnings = [line for line in log_messages(client, name) if line.startswith("WARNING")]
    assert len(warnings) == 1, warnings
    assert "python3.10" in warnings[0] and MISSING in warnings[0]
    assert "the harness's Python {}.{}".format(*sys.version_info[:2]) in warnings[0]


@pytest.mark.parametrize("spec", ["off", f"python3.12={MISSING}"])
def test_the_deploy_summary_reports_the_fallback(spec, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_MODE", "embedded")
    monkeypatch.setenv("HARNESS_LAMBDA_RUNTIMES", spec)
    outputs = Outputs(
        target="local",
        identity=Identity(account="123456789012", region="us-east-1"),
        bucket="b",
        function_arns={},
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:s",
        endpoint_name="e",
        endpoint_config_name="c",
        model_name="m",
        image_uri="i",
        changes=[],
    )
    out = io.StringIO()
    print_outputs(Console(file=out, width=400), outputs, "ml.m5.xlarge")
    lines = [line for line in out.getvalue().splitlines() if "python3.12" in line]
    assert len(lines) == 1, out.getvalue()
    assert lines[0].startswith("warning: Lambda runtime python3.12:")
    assert "functions run under the harness's Python" in lines[0]


def test_the_deploy_summary_names_the_interpreter(monkeypatch):
    if find_interpreter("python3.12") is None:
        pytest.skip("no python3.12 interpreter on this machine (PATH, pyenv, /usr/bin)")
    monkeypatch.setenv("HARNESS_MODE", "embedded")
    monkeypatch.setenv("HARNESS_LAMBDA_RUNTIMES", "auto")
    monkeypatch.delenv("HARNESS_LAMBDA_RUNTIMES_DIR", raising=False)
    from harness.emulator.runtimes import summary_line

    assert summary_line(Settings.from_env(), "python3.12").startswith(
        "Lambda runtime python3.12: Python 3.12."
    )


def test_settings_and_pins():
    assert parse_spec("auto") == (True, {})
    assert parse_spec("off") == (False, {})
    assert parse_spec("auto,python3.13=/x/python3") == (True, {"python3.13": "/x/python3"})
    with pytest.raises(ValueError, match="HARNESS_LAMBDA_RUNTIMES"):
        parse_spec("python3.12")
    assert Settings.from_env({"HARNESS_LAMBDA_RUNTIMES": "off"}).lambda_runtimes == "off"
    assert [p.split("==")[0] for p in pins()] == ["awslambdaric", "boto3", "botocore"]
    assert f"boto3=={boto3.__version__}" in pins()  # the harness runs the same pins
    runtime = Runtimes("off").resolve("python3.12")
    assert not runtime.declared and "HARNESS_LAMBDA_RUNTIMES=off" in runtime.note


def test_an_environment_that_cannot_be_made_falls_back(tmp_path):
    if find_interpreter("python3.12") is None:
        pytest.skip("no python3.12 interpreter on this machine (PATH, pyenv, /usr/bin)")
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    runtime = Runtimes("auto", blocked / "runtimes").resolve("python3.12")
    assert not runtime.declared and runtime.python == sys.executable
    assert "its environment could not be made" in runtime.note


def test_a_made_environment_is_used_without_probing_interpreters(tmp_path, monkeypatch):
    """Each probe starts a Python (a pyenv shim a shell too); a stamp from an earlier run of
    an interpreter that is still there answers at once."""
    from harness.emulator import runtimes

    target = tmp_path / "python3.99"
    (target / "bin").mkdir(parents=True)
    (target / "bin" / "python").write_text("")
    stamp = {"python": sys.executable, "version": "3.99.1", "packages": pins()}
    (target / ".harness-runtime.json").write_text(json.dumps(stamp))
    probed = []
    monkeypatch.setattr(runtimes, "find_interpreter", lambda r: probed.append(r))
    found = Runtimes("auto", tmp_path).resolve("python3.99")
    assert (found.python, found.version, found.declared) == (
        str(target / "bin" / "python"),
        "3.99.1",
        True,
    )
    assert probed == []
    # other pins: the environment is stale, so the interpreters are looked for again
    (target / ".harness-runtime.json").write_text(json.dumps({**stamp, "packages": ["x==1"]}))
    Runtimes("auto", tmp_path).resolve("python3.99")
    assert probed == ["python3.99"]
