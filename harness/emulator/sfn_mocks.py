"""Mocked test cases for whole executions: the Step Functions Local mock file in moto's engine.

AWS's Step Functions Local reads a mock configuration file (`SFN_MOCK_CONFIG`, format in
docs/contracts.md section 7) and, when StartExecution names `<stateMachineArn>#<TestCase>`,
answers the Task states listed in that test case from the file instead of calling the service
(`Return` a result, or `Throw` an Error and Cause), the n-th attempt of a state from key `"n"`
or a range `"n-m"`. LocalStack reads the same file. moto 5.2.5's engine is a port of
LocalStack's and still holds the mocking code (`parser/mocking/mock_config.py`, the
interpreter's `is_mocked_mode()` paths), but it is switched off in three places:

1. `mock_config.load_mock_test_case_for` hard-codes `raw_mock_config = None`, and moto has no
   reader for the file (LocalStack's `mock_config_file.py` uses pydantic, which moto does not
   depend on);
2. `StepFunctionsParserBackend.start_execution` looks the ARN up as it is, so `...#Case` is an
   unknown state machine, and never loads a test case (LocalStack's provider does both);
3. `Execution` never hands a test case to its `ExecutionWorker`, whose `mock_test_case`
   argument (and the Environment's) is already there.

This module turns them on with the smallest patch that could go upstream as it is:
`load_mock_test_case_for` reads the file (`read_mock_config` below: plain JSON into the shapes
moto's own `_mock_test_case_from_raw` walks; cached per path and mtime, so an edited file is
read again at the next mocked execution, as LocalStack does); `start_execution` splits off
`#TestCase`, starts the execution on the state machine itself and an unknown test case or a
broken file answers `InvalidName` with the reason (LocalStack's error, with its reason in the
message rather than only in a log); the execution's worker gets the test case. Only an ARN with
`#` reaches the engine's patched points: every other execution runs moto's code untouched.

The interpreter is imported lazily (it pulls in moto.batch and moto.ec2, seconds; moto_speedups
imports it in the background), so `install()` patches one light point,
`StepFunctionResponse.start_execution`, and the engine's points are patched at the first
StartExecution whose ARN has `#`. `uninstall()` puts every point back exactly;
`problems()` names what a moto upgrade moved.

Where the file is: `install(config)` with a path, else `Settings.from_env().sfn_mock_config`
(SFN_MOCK_CONFIG; default the workflow's own statemachine/mocks/workflow.mocks.json), looked up
at each mocked StartExecution.
"""

from __future__ import annotations

import contextvars
import inspect
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

_installed: dict[str, Any] = {}
_lock = threading.Lock()
_config_path: list[Path | None] = [None]  # install(config); None: the settings' path
# the test case of the StartExecution running in this thread, read when it builds its worker
_pending: contextvars.ContextVar = contextvars.ContextVar(
    "harness_sfn_mock_test_case", default=None
)


class MockConfigError(ValueError):
    """The mock file is missing, not JSON, or not in the mock configuration format."""


# --- reading the file: plain JSON into the shapes moto's mock_config walks -------------------


class _Return:
    def __init__(self, value: Any):
        self._value = value

    def model_dump(self) -> Any:  # the name moto's code calls (pydantic's, in LocalStack)
        return self._value


class _Throw:
    def __init__(self, error: str, cause: str):
        self.Error, self.Cause = error, cause


class _Response:
    def __init__(self, returned: _Return | None, thrown: _Throw | None):
        self.Return, self.Throw = returned, thrown


class _TestCase:
    def __init__(self, root: dict[str, str]):
        self.root = root


class _StateMachine:
    def __init__(self, test_cases: dict[str, _TestCase]):
        self.TestCases = test_cases


class RawMockConfig:
    """`StateMachines` and `MockedResponses` of a mock file, as moto's mock_config reads them."""

    def __init__(self, state_machines: dict[str, _StateMachine], responses: dict[str, dict]):
        self.StateMachines, self.MockedResponses = state_machines, responses


def _object(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise MockConfigError(f"{where} must be a JSON object, not {type(value).__name__}")
    return value


def parse_mock_config(document: Any) -> RawMockConfig:
    """Check a decoded mock file against the format (AWS's field reference) and convert it."""
    top = _object(document, "the mock configuration")
    for field in ("StateMachines", "MockedResponses"):
        if field not in top:
            raise MockConfigError(f"the mock configuration has no {field!r} object")
    machines = {}
    for name, machine in _object(top["StateMachines"], "StateMachines").items():
        machine = _object(machine, f"StateMachines.{name}")
        cases = _object(machine.get("TestCases"), f"StateMachines.{name}.TestCases")
        parsed = {}
        for case, states in cases.items():
            states = _object(states, f"StateMachines.{name}.TestCases.{case}")
            for state, response in states.items():
                if not isinstance(response, str):
                    raise MockConfigError(
                        f"StateMachines.{name}.TestCases.{case}.{state} must name a mocked "
                        "response (a string)"
                    )
            parsed[case] = _TestCase(dict(states))
        machines[name] = _StateMachine(parsed)
    responses: dict[str, dict] = {}
    for name, attempts in _object(top["MockedResponses"], "MockedResponses").items():
        parsed_attempts = {}
        for key, response in _object(attempts, f"MockedResponses.{name}").items():
            where = f"MockedResponses.{name}.{key}"
            response = _object(response, where)
            if ("Return" in response) == ("Throw" in response):
                raise MockConfigError(f"{where} must have exactly one of 'Return' or 'Throw'")
            if "Return" in response:
                parsed_attempts[key] = _Response(_Return(response["Return"]), None)
                continue
            thrown = _object(response["Throw"], f"{where}.Throw")
            for field in ("Error", "Cause"):
                if not isinstance(thrown.get(field), str):
                    raise MockConfigError(f"{where}.Throw.{field} must be a string")
            parsed_attempts[key] = _Response(None, _Throw(thrown["Error"], thrown["Cause"]))
        responses[name] = parsed_attempts
    return RawMockConfig(machines, responses)


_cache: dict[str, Any] = {}


def read_mock_config(path: Path) -> RawMockConfig:
    """The mock file at `path`, read again only when its mtime or size changed."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise MockConfigError(f"cannot read the mock configuration file {path}: {exc}") from exc
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _lock:
        if _cache.get("key") == key:
            return _cache["config"]
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise MockConfigError(f"cannot read the mock configuration file {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise MockConfigError(f"the mock configuration file {path} is not JSON: {exc}") from exc
    config = parse_mock_config(document)
    with _lock:
        _cache.update(key=key, config=config)
    return config


def config_path() -> Path | None:
    """Where the mock file is: install()'s argument, else the settings (SFN_MOCK_CONFIG)."""
    if _config_path[0] is not None:
        return _config_path[0]
    from harness.config import Settings

    configured = Settings.from_env().sfn_mock_config
    return Path(configured) if str(configured) else None


# --- the patch ---------------------------------------------------------------------------------


def load_mock_test_case_for(state_machine_name: str, test_case_name: str):
    """moto's `mock_config.load_mock_test_case_for`, reading the file (None: no file set).
    A broken file raises MockConfigError; an unknown state machine, test case or mocked
    response, or numbering with a gap, raises moto's RuntimeError."""
    from moto.stepfunctions.parser.mocking import mock_config

    path = config_path()
    if path is None:
        return None
    return mock_config._mock_test_case_from_raw(
        state_machine_name=state_machine_name,
        test_case_name=test_case_name,
        raw_mock_config=read_mock_config(path),
    )


def _light_points() -> dict[str, tuple[Any, str]]:
    from moto.stepfunctions.responses import StepFunctionResponse

    return {"StepFunctionResponse.start_execution": (StepFunctionResponse, "start_execution")}


def _engine_points() -> dict[str, tuple[Any, str]]:
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.parser.mocking import mock_config
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    return {
        "StepFunctionsParserBackend.start_execution": (
            StepFunctionsParserBackend,
            "start_execution",
        ),
        "Execution._get_start_execution_worker": (Execution, "_get_start_execution_worker"),
        "mock_config.load_mock_test_case_for": (mock_config, "load_mock_test_case_for"),
    }


def _original(points: dict[str, tuple[Any, str]], name: str) -> Any:
    owner, attribute = points[name]
    return _installed.get(name, (None, None, getattr(owner, attribute, None)))[2]


def _params(function: Any) -> list[str] | None:
    return None if function is None else list(inspect.signature(function).parameters)


def _source(owner: Any, name: str) -> str:
    try:
        return inspect.getsource(getattr(owner, name))
    except (AttributeError, OSError, TypeError):
        return ""


def problems() -> list[str]:
    """What moto moved under the mocks (empty: nothing). Imports moto's interpreter."""
    found = []
    light = _light_points()
    if _params(_original(light, "StepFunctionResponse.start_execution")) != ["self"]:
        found.append("moto.stepfunctions.responses.StepFunctionResponse.start_execution changed")
    try:
        from moto.stepfunctions.exceptions import InvalidName  # noqa: F401
        from moto.stepfunctions.parser.asl.eval.environment import Environment
        from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
        from moto.stepfunctions.parser.mocking import mock_config

        engine = _engine_points()
    except ImportError as exc:
        return [*found, f"moto's Step Functions engine moved: {exc}"]
    expected = {
        "StepFunctionsParserBackend.start_execution": [
            *("self", "state_machine_arn", "name", "execution_input", "trace_header"),
        ],
        "Execution._get_start_execution_worker": ["self"],
        "mock_config.load_mock_test_case_for": ["state_machine_name", "test_case_name"],
    }
    for name, params in expected.items():
        if _params(_original(engine, name)) != params:
            found.append(f"{name}({', '.join(params)}) changed")
    if _params(getattr(mock_config, "_mock_test_case_from_raw", None)) != [
        *("state_machine_name", "test_case_name", "raw_mock_config"),
    ]:
        found.append("mock_config._mock_test_case_from_raw(...) changed")
    if "mock_test_case" not in (_params(ExecutionWorker.__init__) or []):
        found.append("ExecutionWorker(..., mock_test_case) changed")
    elif "self._mock_test_case" not in _source(ExecutionWorker, "_get_evaluation_environment"):
        found.append("ExecutionWorker._get_evaluation_environment no longer reads _mock_test_case")
    if "mock_test_case" not in (_params(Environment.__init__) or []):
        found.append("Environment(..., mock_test_case) changed")
    for method in ("is_mocked_mode", "get_current_mocked_response"):
        if not callable(getattr(Environment, method, None)):
            found.append(f"Environment.{method} is gone")
    return found


def _patch(points: dict[str, tuple[Any, str]], name: str, replacement: Callable) -> None:
    owner, attribute = points[name]
    if name not in _installed:
        # (owner, attribute, original, whether the owner's own __dict__ held it)
        _installed[name] = (owner, attribute, getattr(owner, attribute), attribute in vars(owner))
    setattr(owner, attribute, replacement)


def install(config: str | Path | None = None) -> None:
    """Patch the light point now; the engine's at the first mocked StartExecution."""
    from harness.emulator.moto_hooks import raise_if

    light = _light_points()
    if _params(_original(light, "StepFunctionResponse.start_execution")) != ["self"]:
        raise_if(["moto.stepfunctions.responses.StepFunctionResponse.start_execution changed"])
    with _lock:
        _config_path[0] = Path(config) if config else None
        original = _original(light, "StepFunctionResponse.start_execution")

        def start_execution(self):
            if "#" in str(self._get_param("stateMachineArn") or ""):
                _install_engine()
            return original(self)

        _patch(light, "StepFunctionResponse.start_execution", start_execution)


def _install_engine() -> None:
    from harness.emulator.moto_hooks import raise_if

    with _lock:
        if "StepFunctionsParserBackend.start_execution" in _installed:
            return
        found = problems()
        if found:
            raise_if(found)
        from moto.stepfunctions.exceptions import InvalidName
        from moto.stepfunctions.parser.mocking import mock_config

        engine = _engine_points()
        original_start = _original(engine, "StepFunctionsParserBackend.start_execution")
        original_worker = _original(engine, "Execution._get_start_execution_worker")

        def start_execution(
            self, state_machine_arn, name=None, execution_input=None, trace_header=None
        ):
            base_arn, hash_sign, test_case_name = str(state_machine_arn).partition("#")
            if not hash_sign:
                return original_start(self, state_machine_arn, name, execution_input, trace_header)
            state_machine = self.describe_state_machine(base_arn)
            reason = ""
            try:
                test_case = mock_config.load_mock_test_case_for(
                    state_machine_name=state_machine.name, test_case_name=test_case_name
                )
            except (MockConfigError, RuntimeError, ValueError) as exc:
                test_case, reason = None, f" {exc}"
            if test_case is None:
                raise InvalidName(
                    f"Invalid mock test case name '{test_case_name}' for state machine "
                    f"'{state_machine.name}'."
                    + (reason or " No mock configuration file is set (SFN_MOCK_CONFIG).")
                )
            token = _pending.set(test_case)
            try:
                return original_start(self, base_arn, name, execution_input, trace_header)
            finally:
                _pending.reset(token)

        def _get_start_execution_worker(self):
            worker = original_worker(self)
            test_case = _pending.get()
            if test_case is not None:
                worker._mock_test_case = test_case  # ExecutionWorker(mock_test_case=...)
            return worker

        _patch(engine, "StepFunctionsParserBackend.start_execution", start_execution)
        _patch(engine, "Execution._get_start_execution_worker", _get_start_execution_worker)
        _patch(engine, "mock_config.load_mock_test_case_for", load_mock_test_case_for)


def uninstall() -> None:
    """Put every patched point back as it was (also the engine's, if they were patched)."""
    with _lock:
        for name in list(_installed):
            owner, attribute, original, own = _installed.pop(name)
            if own:
                setattr(owner, attribute, original)
            else:  # it was inherited: take ours away rather than pin the parent's on the child
                delattr(owner, attribute)
        _config_path[0] = None
        _cache.clear()
