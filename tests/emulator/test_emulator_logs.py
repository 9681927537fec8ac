"""CloudWatch Logs retention in the embedded emulator (harness/emulator/logs.py): each log group
keeps its newest HARNESS_LOG_EVENTS_KEPT events, and a dropped event is really freed (moto's
tracker keeps none: moto_trackers.py)."""

from __future__ import annotations

import gc
import time
import weakref

import pytest
from moto.logs.models import LogEvent, LogsBackend

from harness.emulator import logs, moto_trackers
from harness.emulator.logs import Retention


def backend_with(streams: int) -> LogsBackend:
    backend = LogsBackend("us-east-1", "123456789012")
    backend.ensure_log_group("/aws/lambda/f")
    for i in range(streams):
        backend.create_log_stream("/aws/lambda/f", f"s{i}")
    return backend


def write(backend: LogsBackend, retention: Retention, stream: str, stamp: int) -> None:
    message = f"event at {stamp}"
    backend.put_log_events("/aws/lambda/f", stream, [{"timestamp": stamp, "message": message}])
    retention.wrote(backend, "/aws/lambda/f")


def kept(backend: LogsBackend) -> dict[str, list[int]]:
    streams = backend.groups["/aws/lambda/f"].streams
    return {name: [event.timestamp for event in s.events] for name, s in streams.items()}


def test_a_group_keeps_its_newest_events_across_its_streams():
    backend, retention = backend_with(3), Retention(max_events=50)
    base = int(time.time() * 1000)
    for i in range(400):  # three workers' streams, written in turn
        write(backend, retention, f"s{i % 3}", base + i)
    streams = kept(backend)
    everything = sorted(stamp for stamps in streams.values() for stamp in stamps)
    assert 45 <= len(everything) <= 55  # checked every tenth of the bound, trimmed to 9/10
    assert everything == list(range(base + 400 - len(everything), base + 400))  # the newest
    for name, stamps in streams.items():
        assert stamps == sorted(stamps)
        stream = backend.groups["/aws/lambda/f"].streams[name]
        assert stream.stored_bytes == sum(len(e.message) for e in stream.events)


def test_zero_keeps_everything():
    backend, retention = backend_with(1), Retention(max_events=0)
    base = int(time.time() * 1000)
    for i in range(300):
        write(backend, retention, "s0", base + i)
    assert len(kept(backend)["s0"]) == 300


@pytest.fixture
def installed():
    logs.install(10)
    moto_trackers.install()
    yield logs.retention
    moto_trackers.uninstall()
    logs.uninstall()


def test_a_dropped_event_is_freed(installed):
    backend = backend_with(1)
    base = int(time.time() * 1000)
    write(backend, installed, "s0", base)
    first = weakref.ref(backend.groups["/aws/lambda/f"].streams["s0"].events[0])
    for i in range(1, 30):
        write(backend, installed, "s0", base + i)
    gc.collect()
    assert first() is None  # moto's model tracker no longer holds every LogEvent


def test_uninstall_gives_moto_its_tracker_back(installed):
    moto_trackers.uninstall()
    logs.uninstall()
    event = LogEvent(0, {"timestamp": 0, "message": "m"})
    assert LogEvent.instances_tracked[-1] is event
    assert logs.retention.max_events == 0
    logs.install(10)  # for the fixture's uninstall
    moto_trackers.install()


def test_the_emulator_applies_the_setting_to_a_functions_log_group(
    aws, client, make_function, invoke, monkeypatch
):
    from tests.emulator.test_emulator_lambda import COUNTER

    assert logs.retention.max_events == aws.settings.log_events_kept  # HARNESS_LOG_EVENTS_KEPT
    monkeypatch.setattr(logs.retention, "max_events", 20)
    name = make_function(COUNTER)
    request_ids = [invoke(name, {"n": i})[0]["request_id"] for i in range(15)]
    group, cw = f"/aws/lambda/{name}", client("logs")
    deadline = time.monotonic() + 5
    while True:  # the function's own lines reach the log a moment after its answer
        messages = [e["message"] for e in cw.filter_log_events(logGroupName=group)["events"]]
        if any(m.startswith(f"REPORT RequestId: {request_ids[-1]}") for m in messages):
            break
        assert time.monotonic() < deadline, messages
        time.sleep(0.05)
    assert len(messages) <= 20 + 2  # the bound, plus what arrives between two checks
    assert not any(request_ids[0] in m for m in messages)  # the first invocations' lines went
