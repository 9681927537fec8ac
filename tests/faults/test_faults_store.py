"""The fault store: rates, expiry, clear, and the per-request reader's cache; the CLI's checks."""

from __future__ import annotations

import json
import random
import time

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.errors import HarnessError
from harness.faults.commands import _error_params
from harness.faults.store import (
    ENDPOINT,
    LAMBDA,
    FaultFile,
    FaultStore,
    faults_path,
    new_fault,
    parse_duration,
)
from harness.faults.view import faults_table, time_left
from harness.stack.readiness import free_port


def test_add_list_and_clear_by_id_or_all(tmp_path):
    store = FaultStore(tmp_path)
    one = store.add(new_fault(ENDPOINT, "ep", "ModelError", params={"status": 502}))
    two = store.add(new_fault(LAMBDA, "fn", "crash", rate=0.5))
    assert [f.id for f in store.active()] == [one.id, two.id] and one.id != two.id
    assert store.active()[0].params == {"status": 502} and store.active()[1].rate == 0.5
    assert [f.id for f in store.clear(one.id)] == [one.id]
    assert [f.id for f in store.active()] == [two.id]
    with pytest.raises(HarnessError) as caught:
        store.clear("nope")
    assert two.id in caught.value.hint  # names what can be cleared
    assert [f.id for f in store.clear()] == [two.id]
    assert store.active() == [] and json.loads(faults_path(tmp_path).read_text()) == {"faults": []}


def test_a_timed_fault_expires_by_itself_and_prune_drops_it(tmp_path):
    store = FaultStore(tmp_path)
    now = time.time()
    timed = store.add(new_fault(ENDPOINT, "ep", "slow", params={"delay": 1}, duration=5, now=now))
    forever = store.add(new_fault(ENDPOINT, "ep", "ServiceUnavailable"))
    assert not timed.expired(now + 4.9) and timed.expired(now + 5)
    assert time_left(timed, now + 3.2) == "2 s" and time_left(forever) == "until cleared"
    reader = FaultFile(faults_path(tmp_path))
    assert [f.id for f in reader.active(ENDPOINT, "ep", now=now + 1)] == [timed.id, forever.id]
    assert [f.id for f in reader.active(ENDPOINT, "ep", now=now + 6)] == [forever.id]
    assert reader.active(ENDPOINT, "other") == [] and reader.active(LAMBDA, "ep") == []
    # one that ended a while ago is in the file until the CLI writes it next
    ended = store.add(new_fault(LAMBDA, "fn", "crash", duration=5, now=now - 10))
    assert ended.id in faults_path(tmp_path).read_text()
    assert [f.id for f in store.active()] == [timed.id, forever.id]
    assert [f.id for f in store.prune()] == [timed.id, forever.id]
    assert ended.id not in faults_path(tmp_path).read_text()


def test_rates_are_probabilities_rolled_per_request(tmp_path):
    roll = random.Random(7).random
    sometimes = new_fault(LAMBDA, "fn", "crash", rate=0.3)
    always = new_fault(LAMBDA, "fn", "crash", rate=1.0)
    hits = sum(sometimes.hits(roll) for _ in range(5000))
    assert 0.27 * 5000 < hits < 0.33 * 5000
    assert all(always.hits(roll) for _ in range(1000))
    for bad in (0.0, 1.5, -1):
        with pytest.raises(HarnessError):
            new_fault(LAMBDA, "fn", "crash", rate=bad)


def test_the_reader_parses_only_when_the_file_changes(tmp_path, monkeypatch):
    store, reader = FaultStore(tmp_path), FaultFile(faults_path(tmp_path))
    assert reader.active(ENDPOINT, "ep") == []  # no file: nothing, no error
    first = store.add(new_fault(ENDPOINT, "ep", "ModelNotReadyException"))
    reads = []
    original = reader._read
    monkeypatch.setattr(reader, "_read", lambda: reads.append(1) or original())
    for _ in range(50):
        assert [f.id for f in reader.active(ENDPOINT, "ep")] == [first.id]
    assert len(reads) == 1
    store.clear()
    assert reader.active(ENDPOINT, "ep") == [] and len(reads) == 2
    faults_path(tmp_path).write_text("{not json")  # a broken file stops nothing
    assert reader.active(ENDPOINT, "ep") == []
    with pytest.raises(HarnessError) as caught:
        store.active()
    assert "harness fault clear" in caught.value.hint
    store.clear()  # and clear mends it
    assert store.active() == []


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("2s", 2), ("2", 2), ("1.5m", 90), ("1h", 3600)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0s", "soon", "-1s", "2d"])
def test_bad_durations_say_how_to_write_one(text):
    with pytest.raises(HarnessError) as caught:
        parse_duration(text)
    assert "30s" in caught.value.hint


def test_service_errors_and_function_errors_are_told_apart():
    assert _error_params("ServiceException") == {
        "error": "ServiceException",
        "service": True,
        "status": 500,
    }
    assert _error_params("Lambda.TooManyRequestsException")["status"] == 429
    assert _error_params("Lambda.AWSLambdaException")["service"] is True
    assert _error_params("KeyError") == {"error": "KeyError", "service": False}
    with pytest.raises(HarnessError):
        _error_params("Lambda.NoSuchThing")
    with pytest.raises(HarnessError):
        _error_params("not a name!")


def test_the_table_shows_what_and_how_long(tmp_path):
    from rich.console import Console

    fault = new_fault(
        LAMBDA,
        "fn",
        "error",
        0.3,
        {"error": "ServiceException", "service": True, "status": 500},
        90,
    )
    console = Console(record=True, width=200)
    console.print(faults_table([fault]))
    text = console.export_text()
    assert "lambda fn" in text and "error ServiceException (service error, HTTP 500)" in text
    assert "0.3" in text and "1 min 30 s" in text


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("HARNESS_AWS_PORT", str(free_port()))  # nothing answers there
    monkeypatch.setenv("MODEL_SERVER_PORT", str(free_port()))
    monkeypatch.setenv("HARNESS_MODE", "auto")
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(cli, list(args), standalone_mode=False, catch_exceptions=True)


def test_cli_adds_lists_and_clears(cli_env):
    added = run("fault", "endpoint", "--error", "modelerror", "--status", "502", "--for", "1m")
    assert added.exception is None, added.output
    assert (
        "ModelError (OriginalStatusCode 502)" in added.output and "no local stack" in added.output
    )
    [fault] = FaultStore(cli_env).active()
    assert fault.kind == "ModelError" and 55 < fault.seconds_left() <= 60
    listed = run("fault", "list")
    assert fault.id in listed.output
    assert "1 min 00 s" in listed.output or "59 s" in listed.output
    assert f"cleared {fault.id}" in run("fault", "clear").output
    assert "no fault is active" in run("fault", "list").output


def test_cli_refuses_what_it_cannot_do(cli_env):
    unknown = run("fault", "lambda", "classify", "--crash")
    assert isinstance(unknown.exception, HarnessError)
    assert "classify_image" in unknown.exception.hint  # names the functions there are
    slow = run("fault", "endpoint", "--error", "slow", "--delay", "61s")
    assert isinstance(slow.exception, HarnessError) and "60" in slow.exception.message
    both = run("fault", "lambda", "classify_image", "--crash", "--timeout")
    assert both.exception is not None and "exactly one" in str(both.exception)
    aws = run("fault", "endpoint", "--error", "slow", "--target", "aws")
    assert isinstance(aws.exception, HarnessError) and "local stack only" in aws.exception.message
    (cli_env / "stack.json").write_text(json.dumps({"mode": "docker"}))
    docker = run("fault", "lambda", "classify_image", "--timeout")
    assert isinstance(docker.exception, HarnessError) and "embedded" in docker.exception.message
    assert FaultStore(cli_env).active() == []
