"""The on-disk layout (harness/emulator/persistence_store.py): safe names, atomic files, round
trips, and files it cannot read named instead of crashing."""

from __future__ import annotations

import datetime

import pytest

from harness.emulator.persistence_store import (
    Store,
    StoredObject,
    Unreadable,
    atomic_write,
    file_name,
)

WHEN = datetime.datetime(2026, 12, 2, 19, 0, 1, 250000, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    "name",
    ["a/b/c.png", ".hidden", "..", "%2F", "data_capture/AllTraffic/2026/12/02/19/x.jsonl", "é ü"],
)
def test_a_name_becomes_one_safe_file_name(name):
    encoded = file_name(name)
    assert "/" not in encoded and not encoded.startswith(".")
    assert encoded == file_name(name)  # deterministic


def test_names_differing_in_case_or_only_by_encoding_stay_apart():
    names = ["Test.png", "test.png", "TEST.png", "a/b", "a%2Fb", "a b", "a+b"]
    encoded = [file_name(n) for n in names]
    assert len({e.lower() for e in encoded}) == len(names)  # apart on a case-insensitive disk


def test_a_name_too_long_for_a_file_becomes_its_hash():
    long_key = "k/" * 600
    assert len(file_name(long_key)) < 100 and file_name(long_key) != file_name(long_key + "x")


def test_an_atomic_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "deep" / "file"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["file"]


def test_an_object_round_trips_with_its_headers(tmp_path):
    store = Store(tmp_path / "data")
    body = b"\x89PNG\n\r\n binary \n with newlines"
    obj = StoredObject(
        "bkt", "test/Bike 1.png", body, "image/png", {"x-amz-meta-a": "b"}, "e1", WHEN
    )
    path = store.write_object(obj)
    assert path.parent == store.bucket_dir("bkt")
    assert store.read_object(path) == obj
    store.delete_object("bkt", "test/Bike 1.png")
    assert not path.exists()


def test_an_execution_round_trips_with_dates_in_its_history(tmp_path):
    store = Store(tmp_path / "data")
    summary = {
        "arn": "arn:aws:states:us-east-1:1:execution:m:Run-1",
        "state_machine_arn": "arn:aws:states:us-east-1:1:stateMachine:m",
        "name": "Run-1",
        "status": "FAILED",
        "start": WHEN,
        "stop": WHEN + datetime.timedelta(seconds=1),
        "error": "ImageNotFound",
    }
    events = [{"id": 1, "type": "ExecutionStarted", "timestamp": WHEN, "details": {"x": [1]}}]
    path = store.write_execution(summary, events)
    read = store.read_execution_summary(path)
    assert {k: read[k] for k in summary} == summary
    assert store.read_execution_events(path) == events
    assert store.execution_files() == [path]


def test_a_truncated_object_is_named_not_restored(tmp_path):
    store = Store(tmp_path / "data")
    path = store.write_object(StoredObject("bkt", "k", b"0123456789"))
    path.write_bytes(path.read_bytes()[:-3])  # as a copy cut short would leave it
    with pytest.raises(Unreadable) as caught:
        store.read_object(path)
    assert str(path) in str(caught.value) and "7 bytes" in str(caught.value)


@pytest.mark.parametrize("content", [b"", b"not json\n", b'{"v": 1}\n', b"\xff\xfe\n"])
def test_a_broken_execution_file_is_named(tmp_path, content):
    path = tmp_path / "exec.json"
    path.write_bytes(content)
    with pytest.raises(Unreadable) as caught:
        Store.read_execution_summary(path)
    assert str(path) in str(caught.value)


def test_a_bucket_without_its_header_is_listed_as_unreadable(tmp_path):
    store = Store(tmp_path / "data")
    store.write_bucket("good", "us-east-1", {"k": "v"})
    store.bucket_dir("bad").mkdir(parents=True)
    found = dict(store.buckets())
    assert found[store.bucket_dir("good")]["tags"] == {"k": "v"}
    assert isinstance(found[store.bucket_dir("bad")], Unreadable)


def test_wipe_removes_the_folder(tmp_path):
    store = Store(tmp_path / "data")
    store.write_bucket("b", "us-east-1", {})
    assert store.wipe() and not store.root.exists()
    assert not store.wipe()  # nothing left to wipe


def test_a_temporary_file_left_by_a_kill_is_not_read_and_is_removed(tmp_path):
    store = Store(tmp_path / "data")
    path = store.write_object(StoredObject("bkt", "k", b"whole"))
    summary = {"arn": "a", "state_machine_arn": "m", "name": "n", "status": "SUCCEEDED"}
    done = store.write_execution({**summary, "start": WHEN}, [])
    # what a kill -9 between write and rename leaves beside each file
    (path.parent / f".tmp-99-{path.name}").write_bytes(b"half")
    (done.parent / f".tmp-99-{done.name}").write_bytes(b"half")
    assert store.object_files(path.parent) == [path]
    assert store.execution_files() == [done]
    assert store.remove_temporary() == 2
    assert store.remove_temporary() == 0
