"""The Step Functions TestState API (`sfn.test_state`) in the embedded AWS.

moto 5.2.5 has no TestState action (its StepFunctionResponse answers "not implemented"), but
its engine holds LocalStack's first TestState code, which sfn_teststate_run.py builds on; the
request is checked as AWS checks it in sfn_teststate_checks.py (and sfn_teststate_shapes.py for
mocked results). What AWS does: docs/contracts.md section 7; what we do and do not:
docs/stepfunctions-fidelity.md.

`install()` adds one method, `StepFunctionResponse.test_state` (moto dispatches the
`AWSStepFunctions.TestState` target to it by name); the engine modules load at the first
TestState request. It also lets a mocked error be a States.* name: moto's mocked mode
(`mock_eval_utils`) builds its error with `CustomErrorName`, which refuses the prefix, so
`States.TaskFailed` became States.Runtime; it now gets sfn_jsonata's `branch_error_name` (the
same fix as for Parallel and Map; mock files' `Throw` gains it too). `uninstall()` puts both
back; `problems()` names what a moto upgrade moved (moto_hooks.check_hooks() calls it).

boto3 sends TestState to `sync-<host>` (the operation's hostPrefix): against the embedded AWS
build the client with `Config(inject_host_prefix=False)`.
"""

from __future__ import annotations

import importlib
import inspect
import json
import threading
from typing import Any

_installed: dict[str, Any] = {}
_lock = threading.Lock()
_ACTION = "test_state"
_RUN = "harness.emulator.sfn_teststate_run"
_MOCK_EVAL = "moto.stepfunctions.parser.asl.component.state.exec.state_task.mock_eval_utils"
_ERROR_NAME = "CustomErrorName"


def _params(function: Any) -> list[str] | None:
    return None if function is None else list(inspect.signature(function).parameters)


def _engine_problems() -> list[str]:
    """The moto internals sfn_teststate_run.py and sfn_teststate_shapes.py use."""
    found: list[str] = []
    try:
        run = importlib.import_module(_RUN)
    except (ImportError, AttributeError) as exc:
        return [f"moto's Step Functions TestState pieces moved ({exc})"]
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.variable_store import VariableStore

    state = run.ExecutionState
    for name, params in (
        ("_handle_retry", ["self", "env", "failure_event"]),
        ("_handle_catch", ["self", "env", "failure_event"]),
        ("_eval_execution", ["self", "env"]),
    ):
        if _params(getattr(state, name, None)) != params:
            found.append(f"ExecutionState.{name}({', '.join(params)}) changed")
    if _params(getattr(state, "_construct_error_output_value", None)) != ["failure_event"]:
        found.append("ExecutionState._construct_error_output_value(failure_event) changed")
    if _params(run.TestStatePreprocessor.visitState_decl_body) != ["self", "ctx"]:
        found.append("TestStatePreprocessor.visitState_decl_body(self, ctx) changed")
    for name in ("visitArguments_string_jsonata", "visitArguments_jsonata_template_value_object"):
        if _params(getattr(run.TestStatePreprocessor, name, None)) != ["self", "ctx"]:
            found.append(f"Preprocessor.{name}(self, ctx) changed")
    if _params(run._decorated_updates_inspection_data) != ["method", "inspection_data_key"]:
        found.append("test_state.preprocessor._decorated_updates_inspection_data moved")
    if not callable(getattr(run.TestStateEnvironment, "set_choice_selected", None)):
        found.append("TestStateEnvironment.set_choice_selected is gone")
    if "inspection_data" not in getattr(run.TestStateEnvironment, "__annotations__", {}):
        found.append("TestStateEnvironment.inspection_data moved")
    mock = importlib.import_module("harness.emulator.sfn_teststate_mock")
    if _params(mock.MockedResponseThrow.__init__) != [
        *("self", "range_start", "range_end", "error", "cause"),
    ] or _params(mock.StateMockedResponses.__init__) != [
        *("self", "state_name", "mocked_response_name", "mocked_responses"),
    ]:
        found.append("mocking.mock_config's MockedResponseThrow / StateMockedResponses changed")
    if not callable(getattr(Environment, "is_mocked_mode", None)):
        found.append("Environment.is_mocked_mode is gone")
    store = VariableStore()
    if not all(hasattr(store, name) for name in ("_inner_scope", "_outer_scope")):
        found.append("VariableStore._inner_scope / _outer_scope moved")
    retrier = RetrierDecl.__init__
    if _params(retrier)[:5] != [
        *("self", "error_equals", "interval_seconds", "max_attempts", "backoff_rate"),
    ]:
        found.append("RetrierDecl(error_equals, interval_seconds, max_attempts, ...) changed")
    for name in ("_get_boto_service_name", "_get_boto_service_action", "_to_sfn_cased"):
        if not callable(getattr(StateTaskService, name, None)):
            found.append(f"StateTaskService.{name} is gone")
    map_fields = _source(run.StateMap, "from_state_props")
    for name in ("items_path", "items", "item_reader", "max_concurrency_decl"):
        if f"self.{name} =" not in map_fields:
            found.append(f"StateMap.{name} moved")
    return found


_REQUEST_FIELDS = ("self.current_account", "self.region", "self.body")


def _source(owner: Any, name: str) -> str:
    try:
        return inspect.getsource(getattr(owner, name))
    except (OSError, TypeError, AttributeError):
        return ""


def problems() -> list[str]:
    """What moved under TestState in moto (empty: nothing). Imports moto's interpreter."""
    from moto.stepfunctions.responses import StepFunctionResponse

    found = []
    mock_eval = importlib.import_module(_MOCK_EVAL)
    original = _installed.get(_ERROR_NAME, getattr(mock_eval, _ERROR_NAME, None))
    if _params(original) != ["error_name"]:
        found.append(f"{_MOCK_EVAL}.{_ERROR_NAME}(error_name) moved")
    if _ACTION in vars(StepFunctionResponse) and _ACTION not in _installed:
        found.append("moto's StepFunctionResponse now has test_state: compare it with ours")
    # set per request by BaseResponse.setup_class (instance attributes, not on the class)
    if not all(n in _source(StepFunctionResponse, "setup_class") for n in _REQUEST_FIELDS):
        found.append("BaseResponse.setup_class no longer sets current_account, region and body")
    return found + _engine_problems()


def test_state(self: Any) -> str:
    """StepFunctionResponse.test_state: the request as AWS checks it, the state run once."""
    from harness.emulator.sfn_teststate_checks import TestStateError, build_request

    try:
        params = json.loads(self.body or "{}")
    except (TypeError, ValueError):
        raise TestStateError("SerializationException", "the request body is not JSON") from None
    if not isinstance(params, dict):
        raise TestStateError("SerializationException", "the request body is not a JSON object")
    request = build_request(params, self.current_account, self.region)
    answer = importlib.import_module(_RUN).run_state(request)
    return json.dumps(answer)


test_state.__test__ = False  # not a pytest function, should a test import it


def install() -> None:
    """Add StepFunctionResponse.test_state, let mocked errors be States.* (idempotent)."""
    from moto.stepfunctions.responses import StepFunctionResponse

    from harness.emulator.sfn_jsonata import branch_error_name

    mock_eval = importlib.import_module(_MOCK_EVAL)
    with _lock:
        if _ACTION in _installed:
            return
        if _ACTION in vars(StepFunctionResponse):
            from harness.emulator.moto_hooks import raise_if

            raise_if(["moto's StepFunctionResponse now has test_state: compare it with ours"])
        _installed[_ACTION] = StepFunctionResponse
        _installed[_ERROR_NAME] = getattr(mock_eval, _ERROR_NAME)
        StepFunctionResponse.test_state = test_state
        setattr(mock_eval, _ERROR_NAME, branch_error_name)


def uninstall() -> None:
    with _lock:
        owner = _installed.pop(_ACTION, None)
        if owner is not None and _ACTION in vars(owner):
            delattr(owner, _ACTION)
        if _ERROR_NAME in _installed:
            setattr(importlib.import_module(_MOCK_EVAL), _ERROR_NAME, _installed.pop(_ERROR_NAME))


def installed() -> bool:
    with _lock:
        return _ACTION in _installed
