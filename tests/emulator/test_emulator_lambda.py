"""Lambda code really runs in warm awslambdaric workers, with AWS's shapes for results and errors."""

from __future__ import annotations

import concurrent.futures
import os
import time
import uuid
from dataclasses import replace

import pytest

from tests.support.lambda_zip import zip_code
from tests.support.pids import alive

COUNTER = """
import os
INITS = 0
INITS += 1  # module code: runs once per worker (init)
CALLS = 0

def handler(event, context):
    global CALLS
    CALLS += 1
    print("called with", event)
    return {"pid": os.getpid(), "inits": INITS, "calls": CALLS, "echo": event,
            "remaining": context.get_remaining_time_in_millis(),
            "function": context.function_name, "request_id": context.aws_request_id,
            "env": {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_REGION",
                    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_RUNTIME_API", "MY_SETTING",
                    "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME")}}
"""

RAISES = """
class ThresholdConfidenceNotMet(Exception):
    pass

def handler(event, context):
    raise ThresholdConfidenceNotMet(f"confidence {event['confidence']} below 0.93")
"""


def test_payload_context_and_environment(aws, make_function, invoke):
    name = make_function(
        COUNTER,
        timeout=7,
        env={"MY_SETTING": "mine", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": "http://127.0.0.1:9"},
    )
    payload, error = invoke(name, {"s3_key": "test/a.png", "nested": {"inferences": [0.1, 0.9]}})
    assert error is None
    assert payload["echo"] == {"s3_key": "test/a.png", "nested": {"inferences": [0.1, 0.9]}}
    assert payload["function"] == name
    assert 5000 < payload["remaining"] <= 7000  # from the deadline header, Timeout=7
    env = payload["env"]
    assert env["AWS_ENDPOINT_URL"] == aws.url  # SDK calls inside the handler come back here
    assert env["AWS_REGION"] == "us-east-1" and env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["MY_SETTING"] == "mine"
    assert (
        env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] == "http://127.0.0.1:9"
    )  # the function's own wins


def test_warm_worker_runs_init_once(make_function, invoke):
    name = make_function(COUNTER)
    results = [invoke(name, {"i": i})[0] for i in range(6)]
    assert all(r["inits"] == 1 for r in results)  # module code never re-ran in a worker
    by_pid: dict[int, list[int]] = {}
    for r in results:
        by_pid.setdefault(r["pid"], []).append(r["calls"])
    assert len(by_pid) <= 2  # sequential calls reuse the warm pool
    assert any(calls[-1] > 1 for calls in by_pid.values())  # and a worker served several calls
    assert len({r["request_id"] for r in results}) == 6


def test_error_has_aws_shape(make_function, invoke):
    name = make_function(RAISES)
    payload, error = invoke(name, {"confidence": 0.5})
    assert error == "Unhandled"
    assert payload["errorType"] == "ThresholdConfidenceNotMet"
    assert payload["errorMessage"] == "confidence 0.5 below 0.93"
    assert any("raise ThresholdConfidenceNotMet" in line for line in payload["stackTrace"])


def test_timeout_kills_worker_then_recovers(make_function, invoke):
    name = make_function(
        """
        import os, time
        def handler(event, context):
            if event.get("sleep"):
                time.sleep(event["sleep"])
            return {"pid": os.getpid()}
    """,
        timeout=1,
    )
    started = time.monotonic()
    payload, error = invoke(name, {"sleep": 30})
    elapsed = time.monotonic() - started
    assert error == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"].endswith("Error: Task timed out after 1.00 seconds")
    assert elapsed < 10  # killed near the 1 s timeout, not after the 30 s sleep
    payload, error = invoke(name, {})
    assert error is None and payload["pid"] > 0


@pytest.mark.parametrize(
    ("crash", "reason"),
    [
        ("os._exit(3)", "Runtime exited with error: exit status 3"),
        ("sys.exit(2)", "Runtime exited with error: exit status 2"),
        (
            "os.kill(os.getpid(), signal.SIGSEGV)",
            "Runtime exited with error: signal: segmentation fault",
        ),
    ],
)
def test_crash_reported_then_fresh_worker(make_function, invoke, crash, reason):
    name = make_function(f"""
        import os, signal, sys
        def handler(event, context):
            if event.get("crash"):
                {crash}
            return {{"pid": os.getpid()}}
    """)
    invoke(name, {})
    payload, error = invoke(name, {"crash": True})
    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    assert payload["errorMessage"].endswith(reason)
    after, error = invoke(name, {})
    assert error is None and after["pid"] > 0


def test_init_error_is_import_module_error(make_function, invoke):
    name = make_function(
        "import module_that_does_not_exist\n\ndef handler(event, context):\n    return 1\n"
    )
    payload, error = invoke(name, {})
    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "module_that_does_not_exist" in payload["errorMessage"]
    payload, error = invoke(name, {})  # every invoke retries with a fresh worker, as Lambda does
    assert payload["errorType"] == "Runtime.ImportModuleError"


def test_update_function_code_gives_fresh_workers(client, make_function, invoke):
    name = make_function("def handler(event, context):\n    return 'v1'\n")
    assert invoke(name, {}) == ("v1", None)
    client("lambda").update_function_code(
        FunctionName=name,
        ZipFile=zip_code({"handler.py": "def handler(event, context):\n    return 'v2'\n"}),
    )
    assert invoke(name, {}) == ("v2", None)


def test_hot_reload_uses_changed_source(make_function, invoke):
    name = make_function(
        """
        from helper import VALUE
        def handler(event, context):
            return VALUE
    """,
        hot=True,
        extra_files={"helper.py": "VALUE = 'before'\n"},
    )
    assert invoke(name, {}) == ("before", None)
    (make_function.folders[name] / "helper.py").write_text("VALUE = 'after edit'\n")
    deadline = time.monotonic() + 5  # the watcher looks at most every 0.2 s
    while (result := invoke(name, {})) == ("before", None) and time.monotonic() < deadline:
        pass
    assert result == ("after edit", None)


def test_parallel_invocations_do_not_serialize(make_function, invoke):
    name = make_function("""
        import os, time
        def handler(event, context):
            time.sleep(0.6)
            return os.getpid()
    """)
    invoke(name, {})  # warm
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: invoke(name, {}), range(4)))
    elapsed = time.monotonic() - started
    assert all(error is None for _, error in results)
    assert len({pid for pid, _ in results}) >= 2
    assert elapsed < 4 * 0.6  # serialized would take 2.4 s


def test_logs_reach_cloudwatch(client, make_function, invoke):
    name = make_function(COUNTER)
    payload, _ = invoke(name, {"hello": "logs"})
    logs = client("logs")
    group = f"/aws/lambda/{name}"
    deadline = time.monotonic() + 5
    while True:
        events = logs.filter_log_events(logGroupName=group)["events"]
        messages = [e["message"] for e in events]
        if any(
            m.startswith("REPORT RequestId: " + payload["request_id"]) for m in messages
        ) and any("called with {'hello': 'logs'}" in m for m in messages):
            break
        assert time.monotonic() < deadline, messages
        time.sleep(0.05)
    assert f"START RequestId: {payload['request_id']} Version: $LATEST" in messages
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert all("[$LATEST]" in s["logStreamName"] for s in streams)


def test_log_tail_returned_on_request(client, make_function):
    import base64

    name = make_function(COUNTER)
    response = client("lambda").invoke(FunctionName=name, Payload=b'{"x": 1}', LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode()
    assert (
        tail.startswith("START RequestId")
        and "called with {'x': 1}" in tail
        and "REPORT RequestId" in tail
    )


def test_configuration_change_gives_fresh_workers(client, make_function, invoke):
    name = make_function(COUNTER, env={"MY_SETTING": "first"})
    assert invoke(name, {})[0]["env"]["MY_SETTING"] == "first"
    client("lambda").update_function_configuration(
        FunctionName=name, Environment={"Variables": {"MY_SETTING": "second"}}
    )
    assert invoke(name, {})[0]["env"]["MY_SETTING"] == "second"


def test_hot_reload_contract_with_shared_package(client, role_arn, invoke, tmp_path):
    """The deployer's tag: handler folder first (cwd), then the folder that holds `shared/`."""
    from harness.emulator import CODE_PATHS_TAG

    root = tmp_path / "lambdas"
    (root / "classify").mkdir(parents=True)
    (root / "shared").mkdir()
    (root / "shared" / "__init__.py").write_text("")
    (root / "shared" / "event.py").write_text("LABEL = 'bicycle'\n")
    (root / "classify" / "handler.py").write_text(
        "import os\nfrom shared.event import LABEL\n\n"
        "def handler(event, context):\n    return {'label': LABEL, 'cwd': os.getcwd()}\n"
    )
    name = f"hot-{uuid.uuid4().hex[:8]}"
    client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role_arn,
        Handler="handler.handler",
        Code={
            "ZipFile": b"PK\x05\x06" + b"\x00" * 18
        },  # an empty zip: the tag says where the code is
        Tags={CODE_PATHS_TAG: f"{root / 'classify'}{os.pathsep}{root}"},
    )
    assert invoke(name, {}) == ({"label": "bicycle", "cwd": str(root / "classify")}, None)
    (root / "shared" / "event.py").write_text("LABEL = 'motorcycle'  # edited\n")
    deadline = time.monotonic() + 5
    while (result := invoke(name, {})[0])["label"] == "bicycle" and time.monotonic() < deadline:
        pass
    assert result["label"] == "motorcycle"
    assert not list(root.rglob("__pycache__"))  # the source folders stay clean


def test_create_function_starts_warm_workers(aws, make_function, invoke):
    name = make_function(COUNTER)
    deadline = time.monotonic() + 10
    while aws.manager.workers(name) < 1:
        assert time.monotonic() < deadline, "no warm worker started after CreateFunction"
        time.sleep(0.02)
    assert invoke(name, {})[0]["inits"] == 1


def test_missing_code_folder_is_reported(client, role_arn, invoke, tmp_path):
    from harness.emulator import CODE_PATHS_TAG

    name = f"gone-{uuid.uuid4().hex[:8]}"
    client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role_arn,
        Handler="handler.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
        Tags={CODE_PATHS_TAG: str(tmp_path / "no-such-folder")},
    )
    payload, error = invoke(name, {})
    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    assert "no-such-folder" in payload["errorMessage"]


def test_delete_function_ends_its_workers(aws, client, make_function, invoke):
    name = make_function(COUNTER)
    pid = invoke(name, {})[0]["pid"]
    client("lambda").delete_function(FunctionName=name)
    assert aws.manager.workers(name) == 0
    deadline = time.monotonic() + 5
    while alive(pid):
        assert time.monotonic() < deadline, "the deleted function's worker still runs"
        time.sleep(0.02)


def test_pool_owns_worker_states(aws, client, make_function, invoke):
    """The pool moves every worker's state: free again once it answered, gone once replaced."""
    from harness.emulator.workers import WorkerState

    name = make_function(COUNTER)
    first = invoke(name, {})[0]["pid"]
    states = aws.manager.states(name)
    assert states and set(states) <= {WorkerState.STARTING, WorkerState.IDLE}, states
    client("lambda").update_function_configuration(
        FunctionName=name, Environment={"Variables": {"MY_SETTING": "new generation"}}
    )
    assert invoke(name, {})[0]["env"]["MY_SETTING"] == "new generation"
    deadline = time.monotonic() + 5
    while alive(first):  # the old generation's idle worker was killed, and forgotten
        assert time.monotonic() < deadline, "the old generation's worker still runs"
        time.sleep(0.02)
    while WorkerState.RETIRED in (states := aws.manager.states(name)):
        assert time.monotonic() < deadline, states
        time.sleep(0.02)
    assert len(states) >= 1


def test_idle_workers_beyond_the_minimum_end(aws, make_function, invoke, monkeypatch):
    """After a burst the pool shrinks back to its minimum, as Lambda reclaims idle
    environments; the function still answers afterwards."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(aws.manager, "_options", replace(aws.manager._options, min_workers=1))
    name = make_function(
        "import time\ndef handler(event, context):\n    time.sleep(0.5)\n    return 1\n"
    )
    with ThreadPoolExecutor(3) as pool:
        assert list(pool.map(lambda _: invoke(name, {})[0], range(3))) == [1, 1, 1]
    assert aws.manager.workers(name) >= 2  # it grew (the idle limit is still 60 s here)
    (function_pool,) = [p for key, p in aws.manager._pools.items() if key[2] == name]
    monkeypatch.setattr(function_pool, "_idle_seconds", 0.3)
    deadline = time.monotonic() + 10
    while aws.manager.workers(name) > 1:
        assert time.monotonic() < deadline, "idle workers beyond the minimum still run"
        time.sleep(0.05)
    time.sleep(1.5)  # and the minimum stays
    assert aws.manager.workers(name) == 1
    assert invoke(name, {})[0] == 1
