"""The local stack's data outlives it (issue 15 point 4), through boto3 against real embedded
stacks on free ports with state folders of their own: objects, Data Capture and executions with
their histories survive `down` / `up`; `down --reset` wipes them; a kill -9 of the emulator loses
at most the last snapshot interval; only the newest executions are kept; a broken file is named
by `up` and skipped.

Data Capture flushes only every 60 s here: the records reach S3 only as the model server stops,
just before the emulator's final snapshot.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid

import pytest
from rich.console import Console

from harness import clients
from harness.dataset import listed_images
from harness.e2e.runner import run_execution
from harness.emulator.contract import HEALTH_PATH
from harness.emulator.persistence_store import Store
from harness.emulator.persistence_store import data_dir as saved_data
from harness.executions.api import state_machine_arn
from harness.stack import embedded, stack
from harness.stack.processes import StackState
from harness.stack.readiness import free_port, wait_until
from tests.support.pids import alive

pytestmark = pytest.mark.slow
MISSING_KEY = "test/no-such-image.png"  # fails at once with ImageNotFound


def own_stack(settings, state_dir, data_dir_, **changes):
    return settings.replace(
        mode="embedded",
        target="local",
        aws_port=free_port(),
        model_server_port=free_port(),
        state_dir=state_dir,
        data_dir=data_dir_,
        **changes,
    )


def up(settings) -> str:
    console = Console(record=True, width=300)
    stack.up(settings, console)
    return console.export_text()


def down(settings, reset: bool = False) -> None:
    stack.down(settings, Console(record=True), reset=reset)


@pytest.fixture
def local(settings, data_dir, tmp_path):
    local = own_stack(settings, tmp_path / "state", data_dir, capture_flush_seconds=60.0)
    yield local
    down(local)


def machine(settings) -> str:
    return state_machine_arn(clients.client(settings, "stepfunctions"), settings.state_machine_name)


def execute(settings, key: str, name: str):
    sfn = clients.client(settings, "stepfunctions")
    return run_execution(sfn, machine(settings), settings.bucket, key, name=name)


def execution_view(settings, arn: str) -> tuple[dict, list]:
    sfn = clients.client(settings, "stepfunctions")
    described = sfn.describe_execution(executionArn=arn)
    described.pop("ResponseMetadata")
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return described, events


def object_view(settings, key: str) -> dict:
    got = clients.client(settings, "s3").get_object(Bucket=settings.bucket, Key=key)
    fields = ("ContentType", "Metadata", "ETag", "LastModified", "ContentLength")
    return {"Body": got["Body"].read(), **{f: got[f] for f in fields}}


def captured_ids(settings, marker: str) -> list[str]:
    s3 = clients.client(settings, "s3")
    prefix = settings.capture_destination.removeprefix(f"s3://{settings.bucket}/")
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=settings.bucket, Key=obj["Key"])["Body"].read()
            for line in body.decode().splitlines():
                inference_id = json.loads(line)["eventMetadata"].get("inferenceId", "")
                if inference_id.startswith(marker):
                    found.append(inference_id)
    return sorted(found)


def persistence_health(settings) -> dict:
    import urllib.request

    with urllib.request.urlopen(f"{settings.aws_endpoint_url}{HEALTH_PATH}", timeout=2) as r:
        return json.loads(r.read())["persistence"]


def test_objects_data_capture_and_executions_survive_down_and_up_and_reset_wipes_them(local):
    up(local)
    s3 = clients.client(local, "s3")
    marker = uuid.uuid4().hex[:8]
    key = f"uploads/{marker}/My Bike.png"
    s3.put_object(
        Bucket=local.bucket,
        Key=key,
        Body=b"\x89PNG fake",
        ContentType="image/png",
        Metadata={"source": "test"},
    )
    runtime = clients.client(local, "sagemaker-runtime")
    image = listed_images(local.data_dir)[0]
    ids = [f"{marker}-{i}" for i in range(3)]
    for inference_id in ids:
        runtime.invoke_endpoint(
            EndpointName=local.endpoint_name,
            ContentType="image/png",
            Body=image.path.read_bytes(),
            InferenceId=inference_id,
        )
    ok = execute(local, image.key, f"kept-{marker}")
    failed = execute(local, MISSING_KEY, f"kept-failed-{marker}")
    assert failed.status == "FAILED" and failed.error == "ImageNotFound"
    before = {arn: execution_view(local, arn) for arn in (ok.arn, failed.arn)}
    obj_before = object_view(local, key)

    down(local)  # the model server flushes its Data Capture, then the emulator snapshots
    assert not list(Store(saved_data(local.state_dir)).s3.rglob(".tmp-*"))
    out = up(local)

    assert "restored" in out and "executions" in out, out
    assert object_view(local, key) == obj_before
    assert captured_ids(local, marker) == ids  # every record, exactly once
    for arn, (described, events) in before.items():
        assert execution_view(local, arn) == (described, events)
    listed = clients.client(local, "stepfunctions").list_executions(stateMachineArn=machine(local))
    assert {ok.arn, failed.arn} <= {e["executionArn"] for e in listed["executions"]}
    assert execute(local, image.key, f"after-{marker}").status == ok.status  # it still runs

    down(local, reset=True)
    assert not saved_data(local.state_dir).exists()
    up(local)
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=local.bucket, Key=key)
    assert captured_ids(local, marker) == []
    listed = clients.client(local, "stepfunctions").list_executions(stateMachineArn=machine(local))
    assert listed["executions"] == []


def test_a_kill_9_of_the_emulator_loses_nothing_the_snapshot_had(local):
    up(local)
    image = listed_images(local.data_dir)[0]
    marker = uuid.uuid4().hex[:8]
    clients.client(local, "s3").put_object(Bucket=local.bucket, Key=f"k/{marker}", Body=b"v")
    result = execute(local, image.key, f"before-kill-{marker}")
    written_by = time.time()
    # wait for a snapshot that began after both writes were acknowledged
    wait_until(
        lambda: persistence_health(local)["persisted_through"] > written_by,
        "a snapshot holding the writes",
        timeout=4 * local.persist_interval + 5,
    )
    emulator = StackState.load(local).processes[embedded.EMULATOR]
    os.kill(emulator, signal.SIGKILL)
    wait_until(lambda: not alive(emulator), "the emulator to end", timeout=5)

    out = up(local)  # heals: a new emulator restores, the deploy reattaches the executions

    assert f"healed: emulator (pid {emulator})" in out or f"emulator exited (pid {emulator})" in out
    assert "restored" in out
    got = clients.client(local, "s3").get_object(Bucket=local.bucket, Key=f"k/{marker}")
    assert got["Body"].read() == b"v"
    described, events = execution_view(local, result.arn)
    assert described["status"] == result.status
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"].startswith("Execution")


def test_only_the_newest_executions_are_kept_and_a_broken_file_is_named(
    settings, data_dir, tmp_path
):
    local = own_stack(settings, tmp_path / "state", data_dir, persist_max_executions=3)
    try:
        up(local)
        arns = [execute(local, MISSING_KEY, f"capped-{i}").arn for i in range(5)]
        down(local)
        store = Store(saved_data(local.state_dir))
        assert len(store.execution_files()) == 3
        broken = store.execution_path(arns[-1])
        broken.write_text('{"v": 1, "arn": "cut sho')  # as a copy cut short would leave it
        out = up(local)
        assert f"skipped unreadable {broken}" in " ".join(out.split()), out
        assert "2 executions" in out
        listed = clients.client(local, "stepfunctions").list_executions(
            stateMachineArn=machine(local)
        )
        assert sorted(e["executionArn"] for e in listed["executions"]) == sorted(arns[2:4])
    finally:
        down(local)


def test_a_saved_execution_answers_the_same_once_its_engine_is_released(local):
    """Once saved, an ended execution's engine (about 70 KB each in moto) is swapped for a light
    record read from disk, so memory stays flat; what the APIs answer must not change."""
    up(local)
    image = listed_images(local.data_dir)[0]
    result = execute(local, image.key, f"released-{uuid.uuid4().hex[:8]}")
    live = execution_view(local, result.arn)
    written_by = time.time()
    wait_until(
        lambda: persistence_health(local)["persisted_through"] > written_by,
        "a snapshot holding the execution",
        timeout=4 * local.persist_interval + 5,
    )
    assert execution_view(local, result.arn) == live
    sfn = clients.client(local, "stepfunctions")
    listed = sfn.list_executions(stateMachineArn=machine(local))["executions"]
    assert [e["status"] for e in listed if e["executionArn"] == result.arn] == [result.status]
