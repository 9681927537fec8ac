"""Lambda workers forked from a warm template (issue 17: memory; emulator/forked_workers.py):
a forked worker must see what a fresh `python -m awslambdaric` process sees, a function's own
copy of a preloaded module must win, and the template must not outlive its emulator or leave
workers behind when it dies. (Every other Lambda test runs on forked workers too: the default.)"""

from __future__ import annotations

import dataclasses
import json
import os
import signal

import psutil
import pytest

from harness.emulator import EmbeddedAWS
from harness.stack.readiness import wait_until

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


def _invoke_ok(invoke, name: str):
    payload, error = invoke(name)
    assert error is None, payload
    return payload


def test_a_forked_worker_sees_what_a_fresh_process_sees(aws, make_function, invoke, monkeypatch):
    seen = {}
    for mode in ("forked", "fresh"):
        if mode == "fresh":  # pools made from now on start their workers as fresh processes
            fresh = dataclasses.replace(aws.manager._options, templates=None)
            monkeypatch.setattr(aws.manager, "_options", fresh)
        name = make_function(WHAT_IT_SEES, env={"MODE": "same"})
        got = _invoke_ok(invoke, name)
        assert aws.manager.workers(name) == 1
        root = got["env"]["LAMBDA_TASK_ROOT"]  # each function's code has a folder of its own
        seen[mode] = json.loads(json.dumps(got).replace(root, "<root>").replace(name, "<name>"))
    assert seen["forked"] == seen["fresh"]
    assert seen["forked"]["own_group"] is True
    assert seen["forked"]["awslambdaric_main"] == "awslambdaric.__main__"
    assert seen["forked"]["path"][0] == seen["forked"]["cwd"]  # as `python -m` puts it
    assert seen["forked"]["stdin"] == ""
    assert seen["forked"]["env"]["MODE"] == "same"


def test_a_function_bundling_its_own_boto3_gets_it(client, make_function, invoke):
    name = make_function(
        "import boto3\ndef handler(event, context):\n    return boto3.WHOSE\n",
        extra_files={"boto3/__init__.py": "WHOSE = 'bundled'\n"},
    )
    assert _invoke_ok(invoke, name) == "bundled"
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


def _template(aws: EmbeddedAWS, pid: int):
    return next(t for t in aws.manager._templates._by_python.values() if t and t.proc.pid == pid)


@pytest.mark.parametrize("how", ["killed", "its emulator gone"])
def test_a_template_that_goes_takes_its_workers_and_the_next_invoke_gets_a_new_one(
    aws, make_function, invoke, how
):
    name = make_function("import os\ndef handler(e, c):\n    return os.getpid()\n")
    first = _invoke_ok(invoke, name)
    [template] = aws.manager.template_pids()
    assert first in [p.pid for p in psutil.Process(template).children()]
    folder = _template(aws, template)._dir
    if how == "killed":  # the emulator sees its status connections end, and kills the workers
        os.kill(template, signal.SIGKILL)
    else:  # its stdin ends, as when the emulator is killed: it kills its workers and ends
        _template(aws, template).proc.stdin.close()
    wait_until(lambda: _gone(template) and _gone(first), timeout=10, what="template and worker")
    if how != "killed":  # and leaves no folder behind (a killed one's goes at the next fork)
        wait_until(lambda: not os.path.exists(folder), timeout=5, what="its folder to go")
    # and its pool to have seen the worker go (until then it may hand the dead worker an
    # invocation, as with any worker killed from outside)
    wait_until(lambda: aws.manager.workers(name) == 0, timeout=10, what="the pool to forget it")
    second = _invoke_ok(invoke, name)  # a new template, a new worker
    assert second != first
    assert not os.path.exists(folder)
    assert aws.manager.template_pids() not in ([], [template])


def test_closing_the_emulator_s_pools_ends_the_templates_and_their_workers(
    aws, make_function, invoke
):
    name = make_function("def handler(e, c):\n    return 1\n")
    assert _invoke_ok(invoke, name) == 1
    [template] = aws.manager.template_pids()
    workers = [p.pid for p in psutil.Process(template).children()]
    assert workers
    aws.manager.close()  # what EmbeddedAWS.stop does
    assert aws.manager.template_pids() == []
    wait_until(
        lambda: all(_gone(p) for p in [template, *workers]),
        timeout=10,
        what="the template and its workers to end",
    )
    assert _invoke_ok(invoke, name) == 1  # pools and templates come back on demand


@pytest.mark.skipif(not os.path.exists("/proc/net/unix"), reason="Linux's list of bound sockets")
def test_a_templates_folder_left_by_a_kill_is_swept_and_a_live_one_is_not(tmp_path):
    import socket
    import time

    from harness.emulator.forked_workers import FOLDER_PREFIX, READY_TIMEOUT, sweep_stale_folders

    def folder(name: str, listening: bool | None, age: float) -> tuple:
        path = tmp_path / f"{FOLDER_PREFIX}{name}"
        path.mkdir()
        held = None
        if listening is not None:  # a socket file; held open (bound) only when listening
            held = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            held.bind(str(path / "fork.sock"))
            held.listen(1)
            if not listening:
                held.close()  # what a SIGKILL leaves: the file, and nobody bound to it
                held = None
        stamp = time.time() - age
        os.utime(path, (stamp, stamp))
        return path, held

    old = READY_TIMEOUT + 60
    killed, _ = folder("killed", listening=False, age=old)
    live, held = folder("live", listening=True, age=old)
    starting, _ = folder("starting", listening=None, age=0)  # not bound yet
    other = tmp_path / "someone-else"
    other.mkdir()
    try:
        assert sweep_stale_folders(str(tmp_path)) == [str(killed)]
    finally:
        held.close()
    assert not killed.exists() and live.exists() and starting.exists() and other.exists()
