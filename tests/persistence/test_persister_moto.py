"""The snapshot and restore logic (harness/emulator/persistence.py) on moto's in-process
backends: only what changed is written, deletions reach the disk, objects and executions come
back, the cap keeps the newest executions, and a broken file is named and skipped."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from harness.emulator.persistence import Persister
from harness.emulator.persistence_store import Store

ROLE = "arn:aws:iam::123456789012:role/states"
DEFINITION = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


@pytest.fixture
def persister(tmp_path):
    made = []

    def make(**kwargs) -> Persister:
        made.append(Persister(tmp_path / "data", **kwargs))
        return made[-1]

    yield make
    for p in made:
        p.uninstall()


def s3_client():
    return boto3.client("s3", region_name="us-east-1")


def sfn_client():
    return boto3.client("stepfunctions", region_name="us-east-1")


def test_a_snapshot_writes_only_what_changed_and_deletes_what_went(persister):
    with mock_aws():
        s3 = s3_client()
        s3.create_bucket(Bucket="bkt")
        for i in range(3):
            s3.put_object(Bucket="bkt", Key=f"k{i}", Body=b"x" * i)
        p = persister()
        assert p.snapshot() == {"objects": 3, "deleted": 0, "executions": 0}
        assert p.snapshot() == {"objects": 0, "deleted": 0, "executions": 0}
        s3.put_object(Bucket="bkt", Key="k0", Body=b"new")  # same key, new bytes
        s3.put_object(Bucket="bkt", Key="k3", Body=b"more")
        s3.delete_object(Bucket="bkt", Key="k1")
        assert p.snapshot() == {"objects": 2, "deleted": 1, "executions": 0}
        keys = sorted(
            Store.read_object(f).key for f in p.store.object_files(p.store.bucket_dir("bkt"))
        )
        assert keys == ["k0", "k2", "k3"]


def test_objects_come_back_with_their_headers(persister):
    with mock_aws():
        s3 = s3_client()
        s3.create_bucket(Bucket="bkt")
        s3.put_bucket_tagging(Bucket="bkt", Tagging={"TagSet": [{"Key": "t", "Value": "v"}]})
        s3.put_object(
            Bucket="bkt",
            Key="a/b c.json",
            Body=b"{}",
            ContentType="application/json",
            Metadata={"who": "me"},
            ContentEncoding="identity",
        )
        before = s3.head_object(Bucket="bkt", Key="a/b c.json")
        persister().snapshot()
    with mock_aws():  # a fresh moto: nothing in it
        p = persister()
        restored = p.restore()
        assert p.snapshot()["objects"] == 0  # what was restored is not written again
        s3 = s3_client()
        after = s3.head_object(Bucket="bkt", Key="a/b c.json")
        assert restored["objects"] == 1 and restored["skipped"] == []
        for field in ("ContentType", "Metadata", "ETag", "LastModified", "ContentEncoding"):
            assert after.get(field) == before.get(field), field
        assert s3.get_object(Bucket="bkt", Key="a/b c.json")["Body"].read() == b"{}"
        assert s3.get_bucket_tagging(Bucket="bkt")["TagSet"] == [{"Key": "t", "Value": "v"}]


def run_and_stop(sfn, machine: str, name: str) -> str:
    arn = sfn.start_execution(stateMachineArn=machine, name=name, input='{"n": 1}')["executionArn"]
    sfn.stop_execution(executionArn=arn, error="Stopped", cause="by the test")
    return arn


def test_ended_executions_come_back_with_their_machine_and_the_newest_are_kept(persister):
    with mock_aws():
        sfn = sfn_client()
        machine = sfn.create_state_machine(name="m", definition=DEFINITION, roleArn=ROLE)
        arns = [run_and_stop(sfn, machine["stateMachineArn"], f"run-{i}") for i in range(5)]
        described = sfn.describe_execution(executionArn=arns[-1])
        p = persister(max_executions=3)
        assert p.snapshot()["executions"] == 5
        assert len(p.store.execution_files()) == 3  # the cap, on disk
        assert p.snapshot()["executions"] == 0  # each once
    with mock_aws():
        p = persister(max_executions=3)
        assert p.restore()["executions"] == 3
        sfn = sfn_client()
        # not visible until the deploy creates the machine again (same name, same ARN)
        machine = sfn.create_state_machine(name="m", definition=DEFINITION, roleArn=ROLE)
        listed = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
        assert sorted(e["executionArn"] for e in listed) == sorted(arns[2:])
        again = sfn.describe_execution(executionArn=arns[-1])
        for field in ("status", "startDate", "stopDate", "input", "name", "stateMachineArn"):
            assert again[field] == described[field], field
        history = sfn.get_execution_history(executionArn=arns[-1])["events"]
        assert history and history[0]["type"] == "ExecutionStarted"
        assert p.snapshot()["executions"] == 0  # restored ones are not written again


def test_a_broken_file_is_named_and_skipped(persister, capsys):
    with mock_aws():
        s3 = s3_client()
        s3.create_bucket(Bucket="bkt")
        s3.put_object(Bucket="bkt", Key="good", Body=b"fine")
        s3.put_object(Bucket="bkt", Key="bad", Body=b"cut short")
        p = persister()
        p.snapshot()
        bad = p.store.object_path("bkt", "bad")
        bad.write_bytes(bad.read_bytes()[:-4])
        junk = p.store.executions / "junk.json"
        junk.parent.mkdir(parents=True)
        junk.write_text("{not json")
    with mock_aws():
        restored = persister().restore()
        assert restored["objects"] == 1
        assert len(restored["skipped"]) == 2
        assert any(str(bad) in line for line in restored["skipped"])
        assert any(str(junk) in line for line in restored["skipped"])
        assert f"skipped {bad}" in capsys.readouterr().err
        assert s3_client().get_object(Bucket="bkt", Key="good")["Body"].read() == b"fine"
        assert bad.exists()  # left for the user to look at, not deleted
