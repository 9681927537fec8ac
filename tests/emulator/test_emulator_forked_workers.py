"""Lambda workers forked from a warm template (issue 17: memory; emulator/forked_workers.py):
a forked worker must see what a fresh `python -m awslambdaric` process sees, a function's own
copy of a preloaded module must win, and the template must not outlive its emulator or leave
workers behind when it dies. (Every other Lambda test runs on forked workers too: the default.)"""

from __future__ import annotations

import json
import os
import signal
import uuid

import psutil

from harness.config import Settings
from harness.emulator import EmbeddedAWS
from harness.stack.readiness import wait_until
from tests.support import emulator_clients
from tests.support.lambda_zip import zip_code

WHAT_IT_SEES = """
import os, sys, time, boto3, awslambdaric

def handler(event, context):
    return {
        "cwd": os.getcwd(),
        "path": sys.path[: len(os.environ["PYTHONPATH"].split(os.pathsep)) + 1],
        "argv0": sys.argv[0].rsplit(os.sep, 2)[-2:],
        "env": {k: v for k, v in os.environ.items() if not k.startswith(("AWS_LAMBDA_LOG_S",
                "AWS_LAMBDA_RUNTIME_API", "_X_AMZN", "_HANDLER_"))},
        "own_group": os.getpgid(0) == os.getpid(),
        "tz": time.tzname,
        "boto3_from_runtime": boto3.__file__.startswith(sys.base_prefix) or "site-packages" in boto3.__file__,
        "awslambdaric_main": sys.modules["__main__"].__spec__.name,
        "dont_write_bytecode": sys.dont_write_bytecode,
        "stdin": os.read(0, 10),
        "mode": os.environ.get("MODE"),
    }
"""


def _emulator(tmp_path_factory, fork: bool) -> EmbeddedAWS:
    settings = Settings(
        aws_port=0,
        state_dir=tmp_path_factory.mktemp("forked" if fork else "fresh"),
        lambda_fork_workers=fork,
    )
    return EmbeddedAWS(settings).start()


def _deploy(url: str, files: dict[str, str], env: dict | None = None) -> tuple[object, str]:
    make = emulator_clients.factory(url)
    role = make("iam").create_role(
        RoleName=f"role-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    lam = make("lambda")
    name = f"fn-{uuid.uuid4().hex[:10]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": zip_code(files)},
        Environment={"Variables": env or {}},
    )
    return lam, name


def _invoke(lam, name: str) -> dict:
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    payload = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, payload
    return payload


def test_a_forked_worker_sees_what_a_fresh_process_sees(aws, monkeypatch):
    seen = {}
    for mode in ("forked", "fresh"):
        if mode == "fresh":  # pools made from now on start their workers as fresh processes
            monkeypatch.setitem(aws.manager._options, "templates", None)
        lam, name = _deploy(aws.url, {"handler.py": WHAT_IT_SEES}, env={"MODE": "same"})
        got = _invoke(lam, name)
        assert aws.manager.workers(name) == 1
        root = got["env"]["LAMBDA_TASK_ROOT"]  # each function's code has a folder of its own
        seen[mode] = json.loads(json.dumps(got).replace(root, "<root>").replace(name, "<name>"))
    assert seen["forked"] == seen["fresh"]
    assert seen["forked"]["own_group"] is True
    assert seen["forked"]["awslambdaric_main"] == "awslambdaric.__main__"
    assert seen["forked"]["path"][0] == seen["forked"]["cwd"]  # as `python -m` puts it
    assert seen["forked"]["stdin"] == ""
    assert seen["forked"]["env"]["MODE"] == "same"


def test_a_function_bundling_its_own_boto3_gets_it(aws, client):
    lam, name = _deploy(
        aws.url,
        {
            "handler.py": "import boto3\ndef handler(event, context):\n    return boto3.WHOSE\n",
            "boto3/__init__.py": "WHOSE = 'bundled'\n",
        },
    )
    assert _invoke(lam, name) == "bundled"
    logs = client("logs")
    group = f"/aws/lambda/{name}"

    def noted() -> bool:
        events = logs.filter_log_events(logGroupName=group)["events"]
        return any("start as fresh processes" in e["message"] for e in events)

    wait_until(noted, timeout=10, what="the fresh-process note in the function's log")


def _template_pids(emulator: EmbeddedAWS) -> list[int]:
    return emulator.manager.template_pids()


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_workers_die_with_a_killed_template_and_the_next_invoke_gets_a_new_one(aws):
    lam, name = _deploy(
        aws.url, {"handler.py": "import os\ndef handler(e, c):\n    return os.getpid()\n"}
    )
    first = _invoke(lam, name)
    [template] = _template_pids(aws)
    assert first in [p.pid for p in psutil.Process(template).children()]
    os.kill(template, signal.SIGKILL)
    wait_until(lambda: _gone(first), timeout=10, what="the dead template's worker to end")
    # and its pool to have seen it go (until then it may hand the dead worker an invocation,
    # as with any worker killed from outside)
    wait_until(lambda: aws.manager.workers(name) == 0, timeout=10, what="the pool to forget it")
    second = _invoke(lam, name)  # a new template, a new worker
    assert second != first
    assert _template_pids(aws) != [template]


def test_the_template_ends_with_its_emulator(tmp_path_factory):
    emulator = _emulator(tmp_path_factory, fork=True)
    try:
        lam, name = _deploy(emulator.url, {"handler.py": "def handler(e, c):\n    return 1\n"})
        assert _invoke(lam, name) == 1
        [template] = _template_pids(emulator)
        workers = [p.pid for p in psutil.Process(template).children()]
        assert workers
    finally:
        emulator.stop()
    wait_until(
        lambda: all(_gone(p) for p in [template, *workers]),
        timeout=10,
        what="the template and its workers to end with the emulator",
    )
