"""TestState's mock for the states whose work it replaces (moto 5.2.5's engine).

A Task's mock goes through the engine's own mocked mode (`Environment.mock_test_case`, the path
Step Functions Local mock files take, sfn_mocks.py): `mock_test_case` builds it. Map, Parallel
and Activity states are answered from the mock without running their iterations, branches or
workers (AWS: "you are testing the Map state's input and output processing without executing
the iterations"): `mock_execution` replaces the state's `_eval_execution`, after reading the
Map's items and checking `mapIterationFailureCount` against its tolerated failure threshold.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.query_language import QueryLanguageMode
from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.mocking.mock_config import (
    MockedResponseReturn,
    MockedResponseThrow,
    MockTestCase,
    StateMockedResponses,
)


def _raise_mocked_error(env: Any, error: str, cause: str) -> None:
    from harness.emulator.sfn_jsonata import branch_error_name  # accepts States.* names

    details = TaskFailedEventDetails(error=error, cause=cause)
    raise FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=branch_error_name(error),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(taskFailedEventDetails=details),
        )
    )


def _inspect(env: Any, key: str, value: Any) -> None:
    env.inspection_data[key] = to_json_str(value)


def _map_items(state: Any, env: Any, request: Any) -> list:
    """The items as the Map would read them: from ItemReader (mapItemReaderData, as AWS's
    source holds them, JSON only here), or ItemsPath / Items."""
    reader_data = request.config.get("mapItemReaderData")
    if state.item_reader is not None and reader_data is not None:
        env.stack.pop()
        return json.loads(reader_data)
    if state.items_path:
        state.items_path.eval(env=env)
        items = env.stack.pop()
        if state.query_language.query_language_mode == QueryLanguageMode.JSONPath:
            _inspect(env, "afterItemsPath", items)
        return items
    if state.items:
        state.items.eval(env=env)
        return env.stack.pop()
    return env.stack.pop()


_THRESHOLDS = {"ToleratedFailureCount", "ToleratedFailurePercentage"}


def _check_failure_threshold(state: Any, env: Any, request: Any, items: Any) -> None:
    state.max_concurrency_decl.eval(env=env)
    env.inspection_data["maxConcurrency"] = int(env.stack.pop())
    state.tolerated_failure_count_decl.eval(env=env)
    count = env.stack.pop()
    state.tolerated_failure_percentage_decl.eval(env=env)
    percentage = env.stack.pop()
    env.inspection_data["toleratedFailureCount"] = int(count)
    env.inspection_data["toleratedFailurePercentage"] = float(percentage)
    failures = request.config.get("mapIterationFailureCount")
    if failures is None:
        return
    total = len(items) if isinstance(items, list) else 0
    # a threshold counts only where declared; with none, one failure fails the Map
    declared = {name for name in _THRESHOLDS if any(k.startswith(name) for k in request.state)}
    over_count = "ToleratedFailureCount" in declared and failures > count
    over_percentage = (
        "ToleratedFailurePercentage" in declared and total and failures * 100.0 / total > percentage
    )
    if over_count or over_percentage or (failures and not declared):
        _raise_mocked_error(
            env,
            "States.ExceedToleratedFailureThreshold",
            "The specified tolerated failure threshold was exceeded",
        )


def mock_execution(state: Any, request: Any) -> None:
    """Map, Parallel and Activity: the mock is the state's result, nothing else runs."""

    def eval_execution(env: Any) -> None:
        if isinstance(state, StateMap):
            items = _map_items(state, env, request)
            _check_failure_threshold(state, env, request, items)
        else:
            env.stack.pop()  # the state's input (Parallel: after Parameters/Arguments)
        if request.mock_error is not None:
            _raise_mocked_error(
                env, request.mock_error["error"], request.mock_error.get("cause", "")
            )
        result = copy.deepcopy(request.mock_result)
        _inspect(env, "result", result)
        env.stack.append(result)

    state._eval_execution = eval_execution


def mock_test_case(request: Any) -> MockTestCase:
    """The engine's own mocked mode (mock files use it too) with this one answer."""
    if request.mock_error is not None:
        error = request.mock_error
        response = MockedResponseThrow(0, 0, error["error"], error.get("cause", ""))
    else:
        response = MockedResponseReturn(0, 0, copy.deepcopy(request.mock_result))
    return MockTestCase(
        state_machine_name="TestState",
        test_case_name="TestState",
        state_mocked_responses_list=[
            StateMockedResponses(request.name, "TestStateMock", [response])
        ],
    )
