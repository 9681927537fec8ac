"""Data Capture's spool (issue 15 point 2): records wait on disk until S3 has them, so a server
that dies loses none; its successor uploads them. (The real `kill -9` of a supervised server is
in tests/stack/test_stack_heal.py; here a "death" drops the memory and keeps the files, which is
what the kernel does to a killed process.)
"""

from __future__ import annotations

import base64
import json
import logging

import pytest

from harness.model_server.capture import CaptureConfig, DataCapture
from harness.model_server.capture_spool import LOCK_NAME, CaptureSpool, SpoolBusy
from harness.stack.readiness import wait_until
from tests.model_server.ms_helpers import local_settings
from tests.support.images import png


def read_capture(s3, bucket: str) -> tuple[list[str], list[dict]]:
    """Every capture file's key, and every record in them."""
    keys, records = [], []
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        keys.append(obj["Key"])
        text = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
        records.extend(json.loads(line) for line in text.splitlines())
    return keys, records


def capture_config(moto_s3: str, bucket: str, spool, flush_seconds: float = 3600) -> CaptureConfig:
    settings = local_settings(
        capture_enabled=True,
        capture_s3_uri=f"s3://{bucket}/data_capture",
        capture_s3_endpoint_url=moto_s3,
        capture_flush_seconds=flush_seconds,
        capture_spool_dir=str(spool),
    )
    return CaptureConfig.from_settings(settings)


def record_some(capture: DataCapture, count: int) -> list[bytes]:
    bodies = [png((i, 3, 200 - i)) for i in range(count)]
    for i, body in enumerate(bodies):
        capture.record(body, "image/png", f"[{i}, 0.5]".encode(), "application/json", f"id-{i}")
    return bodies


def die(capture: DataCapture) -> None:
    """What SIGKILL does: the memory (pending records) is gone, open files are closed, and the
    flush never happens."""
    with capture._lock:
        capture._waiting.clear()
        capture._current.items.clear()
    capture._spool._segment.close()
    capture._spool._lock.close()  # the kernel releases the flock with the process
    capture._stopped.set()
    capture._wake.set()
    capture._thread.join(5)


def segments(spool) -> list:
    return sorted(p for p in spool.iterdir() if p.name != LOCK_NAME)


def test_a_dead_servers_records_are_uploaded_by_its_successor(
    moto_s3, s3, capture_bucket, tmp_path
):
    spool = tmp_path / "spool"
    config = capture_config(moto_s3, capture_bucket, spool)
    first = DataCapture(config, s3).start()
    bodies = record_some(first, 25)
    die(first)  # long before its hour-long flush interval
    assert read_capture(s3, capture_bucket)[1] == []
    # WHEN a new server starts on the same spool THEN it uploads them at once, exactly once
    successor = DataCapture(config, s3).start()
    assert successor.records_recovered == 25
    wait_until(lambda: successor.records_written == 25, "the recovered upload", timeout=10)
    _, records = read_capture(s3, capture_bucket)
    inputs = [r["captureData"]["endpointInput"]["data"] for r in records]
    assert sorted(inputs) == sorted(base64.b64encode(b).decode() for b in bodies)
    ids = sorted(r["eventMetadata"]["inferenceId"] for r in records)
    assert ids == sorted(f"id-{i}" for i in range(25))
    # AND the spool holds only the successor's own (empty) segment
    (left,) = segments(spool)
    assert left.stat().st_size == 0
    successor.stop()
    assert segments(spool) == []  # a clean stop with everything delivered leaves nothing


def test_a_flushed_record_leaves_no_file_behind(moto_s3, s3, capture_bucket, tmp_path):
    spool = tmp_path / "spool"
    capture = DataCapture(capture_config(moto_s3, capture_bucket, spool), s3).start()
    record_some(capture, 3)
    assert sum(p.stat().st_size for p in segments(spool)) > 0  # on disk before any flush
    assert capture.flush() == 3
    assert [p.stat().st_size for p in segments(spool)] == [0]  # only the new, empty segment
    die(capture)
    successor = DataCapture(capture_config(moto_s3, capture_bucket, spool), s3).start()
    assert successor.records_recovered == 0  # nothing uploaded twice
    successor.stop()
    assert len(read_capture(s3, capture_bucket)[1]) == 3


def test_records_s3_never_took_stay_on_disk_across_a_stop(moto_s3, s3, tmp_path, caplog):
    spool, bucket = tmp_path / "spool", "capture-bucket-made-later"
    config = capture_config(moto_s3, bucket, spool)
    capture = DataCapture(config, s3).start()
    record_some(capture, 4)
    with caplog.at_level(logging.ERROR, logger="harness.model_server.capture"):
        capture.stop()  # the bucket does not exist: three attempts fail
    assert capture.pending == 4
    assert any(f"they stay in {spool}" in r.getMessage() for r in caplog.records)
    assert segments(spool)
    s3.create_bucket(Bucket=bucket)
    successor = DataCapture(config, s3).start()
    assert successor.records_recovered == 4
    successor.stop()
    assert len(read_capture(s3, bucket)[1]) == 4
    assert segments(spool) == []


def test_one_spool_one_server(tmp_path, moto_s3, s3, capture_bucket, caplog):
    spool = tmp_path / "spool"
    holder = CaptureSpool(spool)
    with pytest.raises(SpoolBusy, match="in use by another model server"):
        CaptureSpool(spool)
    # a server that meets a busy spool still captures, in memory, and says so
    with caplog.at_level(logging.WARNING, logger="harness.model_server.capture"):
        capture = DataCapture(capture_config(moto_s3, capture_bucket, spool), s3).start()
    assert any("no spool" in r.getMessage() for r in caplog.records)
    record_some(capture, 2)
    capture.stop()
    assert len(read_capture(s3, capture_bucket)[1]) == 2
    holder.recover()
    holder.close(delivered=True)


def test_a_line_cut_short_by_the_kill_is_skipped(tmp_path, caplog):
    spool = tmp_path / "spool"
    spool.mkdir()
    capture = CaptureSpool(spool)
    capture.recover()
    from harness.model_server.capture import CapturedInvocation

    item = CapturedInvocation(1.5, b"in", "image/png", b"[1]", "application/json", None, "a=b")
    capture.append(item)
    capture._segment.write(b'[2.0, "aW4=", "image/p')  # the process died mid-write
    capture._segment.close()
    capture._lock.close()
    with caplog.at_level(logging.WARNING, logger="harness.model_server.capture"):
        recovered = CaptureSpool(spool).recover()
    assert [records for _, records in recovered] == [[tuple(item)]]
    assert any("skipped unreadable line" in r.getMessage() for r in caplog.records)


def test_a_segment_uploaded_again_lands_once(moto_s3, s3, capture_bucket, tmp_path, monkeypatch):
    spool = tmp_path / "spool"
    config = capture_config(moto_s3, capture_bucket, spool)
    first = DataCapture(config, s3).start()
    record_some(first, 5)
    # the server is killed after its upload, before it deletes the segment's file
    monkeypatch.setattr(CaptureSpool, "remove", lambda self, name: None)
    assert first.flush() == 5
    die(first)
    monkeypatch.undo()
    keys_before, _ = read_capture(s3, capture_bucket)
    successor = DataCapture(config, s3).start()
    assert successor.records_recovered == 5  # the file was still there
    wait_until(lambda: successor.records_written == 5, "the recovered upload", timeout=10)
    keys_after, records = read_capture(s3, capture_bucket)
    assert keys_after == keys_before  # the same object, written over
    assert sorted(r["eventMetadata"]["inferenceId"] for r in records) == [
        f"id-{i}" for i in range(5)
    ]
    successor.stop()


class AnswerLost:
    """An S3 client whose first put_object lands but whose answer never comes back."""

    def __init__(self, s3):
        self.s3, self.lost = s3, 0

    def put_object(self, **kwargs):
        answer = self.s3.put_object(**kwargs)
        if not self.lost:
            self.lost += 1
            raise ConnectionResetError("the answer was lost")
        return answer


def test_a_put_retried_after_a_lost_answer_lands_once(moto_s3, s3, capture_bucket, tmp_path):
    capture = DataCapture(
        capture_config(moto_s3, capture_bucket, tmp_path / "spool"), AnswerLost(s3)
    )
    capture.start()
    record_some(capture, 4)
    assert capture.flush() == 0  # the client saw a failure: kept for the next flush
    assert capture.flush() == 4
    keys, records = read_capture(s3, capture_bucket)
    assert len(keys) == 1 and len(records) == 4
    capture.stop()


def test_past_the_bound_the_oldest_batches_go_with_their_files(
    moto_s3, s3, tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr("harness.model_server.capture.MAX_PENDING_RECORDS", 5)
    spool = tmp_path / "spool"
    capture = DataCapture(capture_config(moto_s3, "no-such-bucket", spool), s3).start()
    record_some(capture, 3)
    capture.flush()  # fails: kept
    assert len(segments(spool)) == 2  # the kept batch's segment and the current one
    record_some(capture, 3)
    with caplog.at_level(logging.ERROR, logger="harness.model_server.capture"):
        capture.flush()  # fails again: 6 pending, over the bound of 5
    assert capture.records_dropped == 3 and capture.pending == 3
    assert any("dropped the 3 oldest record(s)" in r.getMessage() for r in caplog.records)
    assert len(segments(spool)) == 2  # the dropped batch's file went with it
    die(capture)
    successor = DataCapture(capture_config(moto_s3, "no-such-bucket", spool), s3).start()
    assert successor.records_recovered == 3
    die(successor)
