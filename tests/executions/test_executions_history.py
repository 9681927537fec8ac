"""Table view rows from AWS-shaped GetExecutionHistory fixtures (Task states, retries, Catch)."""

from __future__ import annotations

import json

from harness.executions.history import (
    CAUGHT,
    FAILED,
    SUCCEEDED,
    as_datetime,
    elide_images,
    state_outcomes,
    state_rows,
    summarize,
)
from tests.executions.executions_support import load_fixture


def _between(events, first_id, last_id, kinds):
    return [ev for ev in events if first_id <= ev["id"] <= last_id and ev["type"] in kinds]


def test_retried_task_then_uncaught_failure_matches_the_events():
    # GIVEN the real workflow's history: Serialize throttled twice, Filter raises
    events = load_fixture("history_retry_then_failure.json")["events"]
    # WHEN
    rows = state_rows(events)
    # THEN one row per StateEntered event, in order, with its name and timestamp
    entered = [ev for ev in events if ev["type"].endswith("StateEntered")]
    assert [r.name for r in rows] == [ev["stateEnteredEventDetails"]["name"] for ev in entered]
    assert [r.start for r in rows] == [as_datetime(ev["timestamp"]) for ev in entered]
    assert [r.type for r in rows] == ["Task", "Task", "Task"]
    assert [r.status for r in rows] == [SUCCEEDED, SUCCEEDED, FAILED]
    # retries = TaskScheduled events of the entry minus one
    for row in rows:
        scheduled = _between(events, row.event_ids[0], row.event_ids[-1], {"TaskScheduled"})
        assert row.attempts == len(scheduled)
        assert row.retries == len(scheduled) - 1
    assert [r.retries for r in rows] == [2, 0, 0]
    # the failed state carries the TaskFailed error and cause; the others none
    failed = next(ev for ev in reversed(events) if ev["type"] == "TaskFailed")
    assert rows[2].error == failed["taskFailedEventDetails"]["error"] == "ThresholdConfidenceNotMet"
    assert rows[2].cause == failed["taskFailedEventDetails"]["cause"]
    assert rows[0].error is None and rows[1].error is None
    # durations: entered -> exited (or -> ExecutionFailed for the failed state)
    exited = next(ev for ev in events if ev["type"] == "TaskStateExited")
    assert rows[0].duration_s == (as_datetime(exited["timestamp"]) - rows[0].start).total_seconds()
    assert rows[0].duration_s > 2  # two 1 s retry intervals
    assert rows[2].duration_s is not None and rows[2].output is None


def events_by_id(events, event_id):
    return next(ev for ev in events if ev["id"] == event_id)


def test_image_data_is_elided_from_inputs_and_outputs():
    events = load_fixture("history_retry_then_failure.json")["events"]
    rows = state_rows(events)
    classify_input = json.loads(rows[1].input)
    assert classify_input["s3_key"] == "test/motorcycle_s_001413.png"
    image = json.loads(
        events_by_id(events, rows[1].event_ids[0])["stateEnteredEventDetails"]["input"]
    )["image_data"]
    assert classify_input["image_data"] == f"<base64, {len(image)} chars>"
    assert summarize(rows[1].input) == rows[1].input  # summarizing twice changes nothing
    assert len(rows[1].input) < 300
    assert json.loads(rows[1].output)["inferences"] == [0.41, 0.59]


def test_caught_error_with_legacy_lambda_resource():
    # GIVEN a Retry then a Catch on LambdaFunction* events, epoch timestamps, execution SUCCEEDED
    events = load_fixture("history_caught.json")["events"]
    rows = state_rows(events)
    assert [(r.name, r.type, r.status) for r in rows] == [
        ("Filter", "Task", CAUGHT),
        ("Record low confidence", "Pass", SUCCEEDED),
    ]
    scheduled = [ev for ev in events if ev["type"] == "LambdaFunctionScheduled"]
    assert rows[0].attempts == len(scheduled) == 2 and rows[0].retries == 1
    last_failure = [ev for ev in events if ev["type"] == "LambdaFunctionFailed"][-1]
    assert rows[0].error == last_failure["lambdaFunctionFailedEventDetails"]["error"]
    assert json.loads(rows[0].output)["error"]["Error"] == "ThresholdConfidenceNotMet"
    assert rows[1].error is None and rows[1].retries == 0
    outcomes = state_outcomes(rows)
    assert outcomes["Filter"].status == CAUGHT and outcomes["Filter"].retries == 1
    assert "Done" not in outcomes  # never entered: the graph greys it out


def test_a_retry_that_succeeds_is_not_an_error():
    events = load_fixture("history_retry_then_failure.json")["events"]
    row = state_rows(events)[0]
    assert row.status == SUCCEEDED and row.error is None and row.retries == 2


def test_running_execution_leaves_the_open_state_running():
    events = load_fixture("history_retry_then_failure.json")["events"]
    cut = [ev["id"] for ev in events if ev["type"] == "TaskStarted"][-1]  # Filter is running
    rows = state_rows([ev for ev in events if ev["id"] <= cut])
    assert rows[-1].status == "running" and rows[-1].duration_s is None
    assert all(r.status == SUCCEEDED for r in rows[:-1])


def test_summaries_elide_long_base64_anywhere_and_cut_to_a_limit():
    blob = "QUJD" * 300
    assert elide_images({"a": [{"b": blob}]}) == {"a": [{"b": "<base64, 1200 chars>"}]}
    assert elide_images({"image_data": ""}) == {"image_data": ""}
    text = summarize(json.dumps({"s3_key": "k" * 200}), limit=40)
    assert len(text) == 40 and text.endswith("…")
    assert summarize("not json") == "not json" and summarize(None) is None
