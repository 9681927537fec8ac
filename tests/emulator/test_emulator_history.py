"""GetExecutionHistory's paging and order (sfn_history.py): what AWS's API reference says of
reverseOrder, maxResults and nextToken, which moto 5.2.5 ignored."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from harness.emulator import sfn_history
from harness.executions import api
from harness.stack.readiness import wait_until


@pytest.fixture(scope="module")
def sfn(client):
    return client("stepfunctions")


def ended(sfn, role_arn: str, states: int, fail: bool = False) -> str:
    """An ended execution of `states` Pass states (and a Fail state after them)."""
    names = [f"P{i}" for i in range(states)] + (["F"] if fail else [])
    definition = {"StartAt": names[0], "States": {}}
    for name, following in zip(names, [*names[1:], None], strict=True):
        state = {"Type": "Pass"} if name != "F" else {"Type": "Fail", "Error": "E", "Cause": "c"}
        if name != "F":
            state.update({"Next": following} if following else {"End": True})
        definition["States"][name] = state
    machine = sfn.create_state_machine(
        name=f"history-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=role_arn
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    wait_until(
        lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING",
        "the execution to end",
        timeout=30,
    )
    return arn


def ids(answer: dict) -> list[int]:
    return [event["id"] for event in answer["events"]]


def test_reverse_order_and_one_result_give_the_last_event(aws, sfn, role_arn):
    arn = ended(sfn, role_arn, states=2, fail=True)
    everything = sfn.get_execution_history(executionArn=arn)
    last = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=1)
    assert last["events"] == everything["events"][-1:]
    assert last["events"][0]["type"] == "ExecutionFailed"
    assert "nextToken" in last
    newest_first = sfn.get_execution_history(executionArn=arn, reverseOrder=True)
    assert ids(newest_first) == sorted(ids(everything), reverse=True)


def test_pages_follow_their_tokens_to_the_end(aws, sfn, role_arn):
    arn = ended(sfn, role_arn, states=60)  # 2 events a Pass state
    everything = [
        event
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        for event in page["events"]
    ]
    first = sfn.get_execution_history(executionArn=arn)
    assert len(first["events"]) == sfn_history.DEFAULT_PAGE and "nextToken" in first
    pages = []
    for reverse in (False, True):
        collected, token = [], None
        while True:
            kwargs = {"nextToken": token} if token else {}
            answer = sfn.get_execution_history(
                executionArn=arn, maxResults=7, reverseOrder=reverse, **kwargs
            )
            assert len(answer["events"]) <= 7
            collected += answer["events"]
            token = answer.get("nextToken")
            if token is None:
                break
        pages.append(collected)
    assert len(everything) == 60 * 2 + 2  # and ExecutionStarted, ExecutionSucceeded
    assert pages[0] == everything
    assert pages[1] == everything[::-1]


def test_a_token_is_good_for_its_own_call_only(aws, sfn, role_arn):
    arn = ended(sfn, role_arn, states=3)
    other = ended(sfn, role_arn, states=3)
    token = sfn.get_execution_history(executionArn=arn, maxResults=2)["nextToken"]
    for kwargs in (
        {"executionArn": other, "nextToken": token},  # another execution
        {"executionArn": arn, "nextToken": token, "reverseOrder": True},  # the other order
        {"executionArn": arn, "nextToken": "not-a-token"},
    ):
        with pytest.raises(ClientError) as caught:
            sfn.get_execution_history(maxResults=2, **kwargs)
        assert caught.value.response["Error"]["Code"] == "InvalidToken"


def test_more_than_a_thousand_a_page_is_refused(aws, sfn, role_arn):
    arn = ended(sfn, role_arn, states=1)
    with pytest.raises(ClientError) as caught:
        sfn.get_execution_history(executionArn=arn, maxResults=1001)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "less than or equal to 1000" in caught.value.response["Error"]["Message"]


def test_the_harness_reads_a_failure_from_the_last_event(aws, sfn, role_arn):
    # the fallback for APIs that leave error and cause out of DescribeExecution
    arn = ended(sfn, role_arn, states=1, fail=True)
    assert api._last_error(sfn, arn) == ("E", "c")


def test_without_execution_data_events_keep_no_input_or_output(aws, sfn, role_arn):
    arn = ended(sfn, role_arn, states=2)

    def data(**kwargs) -> set[str]:
        found = set()
        for event in sfn.get_execution_history(executionArn=arn, **kwargs)["events"]:
            for key, details in event.items():
                if key.endswith("EventDetails"):
                    found |= {field for field in ("input", "output") if field in details}
        return found

    assert data() == data(includeExecutionData=True) == {"input", "output"}
    assert data(includeExecutionData=False) == set()
