"""Running one state for TestState on moto's own Step Functions engine (moto 5.2.5).

moto ships LocalStack's first TestState code (`asl/parse/test_state`, `asl/eval/test_state`):
a preprocessor that parses one state and records `input`, `afterInputPath`,
`afterParameters`, `result`, `afterResultSelector` and `afterResultPath` as the state's
components evaluate, and an environment that ends a Choice with the chosen next state. It
predates AWS's November 2025 additions, and moto never routes the API to it. We build on it
(subclasses and per-state wrappers, nothing patched class-wide) and add:

- the state's real name when a whole machine and `stateName` are given (`$$.State.Name`);
- `afterArguments` (JSONata) and `variables`, the variables after the state;
- `variables` and `context` from the request seeded into the environment;
- `mock` (sfn_teststate_mock.py): a Task's result or error through the engine's own mocked
  mode (the path Step Functions Local mock files take, sfn_mocks.py), Map / Parallel /
  Activity answered from the mock without running their iterations, branches or workers;
- Retry / Catch outcomes without waiting: an error a Retrier would retry (given
  `retrierRetryCount` attempts so far) ends the test as RETRIABLE with `retryIndex` and the
  backoff it would wait; one a Catcher takes ends as CAUGHT_ERROR with `catchIndex`;
- `mapIterationFailureCount` against the Map's tolerated failure threshold;
- the stages of undeclared InputPath / ResultPath (AWS shows them for every JSONPath state).

`run_state(...)` returns the TestState answer (a dict in the API's shape).
"""

from __future__ import annotations

import copy
import datetime
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from antlr4 import CommonTokenStream, InputStream
from moto.stepfunctions.parser.api import StateMachineType
from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
from moto.stepfunctions.parser.asl.component.common.catch.catch_outcome import CatchOutcome
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
)
from moto.stepfunctions.parser.asl.component.common.query_language import QueryLanguageMode
from moto.stepfunctions.parser.asl.component.common.retry.retry_outcome import RetryOutcome
from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.state_parallel import (
    StateParallel,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_activitiy import (
    StateTaskActivity,
)
from moto.stepfunctions.parser.asl.eval.evaluation_details import AWSExecutionDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext
from moto.stepfunctions.parser.asl.eval.program_state import (
    ProgramEnded,
    ProgramError,
    ProgramTimedOut,
)
from moto.stepfunctions.parser.asl.eval.states import ContextObjectData
from moto.stepfunctions.parser.asl.eval.test_state.environment import TestStateEnvironment
from moto.stepfunctions.parser.asl.eval.test_state.program_state import ProgramChoiceSelected
from moto.stepfunctions.parser.asl.parse.asl_parser import ASLParserException, SyntaxErrorListener
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.parse.test_state.preprocessor import (
    TestStatePreprocessor,
    _decorated_updates_inspection_data,
)
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

from harness.emulator.sfn_teststate_mock import mock_execution, mock_test_case


@dataclass
class Request:
    """A checked TestState request (sfn_teststate_checks.py built it)."""

    state: dict  # the state's own definition, QueryLanguage made explicit
    name: str  # its name in the machine, else "TestState" (moto's)
    input: Any
    input_text: str  # as the request gave it: inspectionData.input echoes it
    role_arn: str
    account: str
    region: str
    level: str = "INFO"
    variables: dict = field(default_factory=dict)
    context: dict = field(default_factory=dict)
    mock_result: Any = None
    mock_error: dict | None = None  # {"error", "cause"}
    config: dict = field(default_factory=dict)  # stateConfiguration
    mocked: bool = False  # a mock was given (its result may be JSON null)
    program: Any = None  # the parsed state, if the checks parsed it already


class _Key:  # what moto's decorator reads of its InspectionDataKey
    def __init__(self, value: str):
        self.value = value


class _Preprocessor(TestStatePreprocessor):
    """moto's TestState preprocessor, naming the state and recording `afterArguments`."""

    def __init__(self, state_name: str):
        super().__init__()
        self.STATE_NAME = state_name
        self._outermost = True

    def visitState_decl_body(self, ctx: Any) -> Any:
        # only the tested state is the program: the states a Map or a Parallel holds are
        # parsed as in a machine (moto's made every one a TestStateProgram)
        if not self._outermost:
            return Preprocessor.visitState_decl_body(self, ctx)
        self._outermost = False
        return super().visitState_decl_body(ctx)

    def _after_arguments(self, arguments: Any) -> Any:
        arguments._eval_body = _decorated_updates_inspection_data(
            method=arguments._eval_body,
            inspection_data_key=_Key("afterArguments"),
        )
        return arguments

    def visitArguments_string_jsonata(self, ctx: Any) -> Any:
        return self._after_arguments(super().visitArguments_string_jsonata(ctx))

    def visitArguments_jsonata_template_value_object(self, ctx: Any) -> Any:
        return self._after_arguments(super().visitArguments_jsonata_template_value_object(ctx))


def parse_state(state: dict, name: str) -> Any:
    """moto's TestStateProgram for one state's definition; ASLParserException on a syntax
    error, other exceptions (ValueError, RuntimeError...) for a definition moto refuses."""
    listener = SyntaxErrorListener()
    parser = ASLParser(CommonTokenStream(ASLLexer(InputStream(json.dumps(state)))))
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    tree = parser.state_decl_body()
    if listener.errors:
        raise ASLParserException(errors=listener.errors)
    return _Preprocessor(name).visit(tree)


class _Environment(TestStateEnvironment):
    """Frames keep `$$.Map` (moto's frames copy Execution, StateMachine, Task and State only)."""

    def as_frame_of(self, env: Any, event_history_frame_cache: Any = None) -> Any:
        frame = super().as_frame_of(env=env, event_history_frame_cache=event_history_frame_cache)
        return _with_map_context(env, frame)

    def as_inner_frame_of(
        self, env: Any, variable_store: Any, event_history_frame_cache: Any = None
    ) -> Any:
        frame = super().as_inner_frame_of(
            env=env,
            variable_store=variable_store,
            event_history_frame_cache=event_history_frame_cache,
        )
        return _with_map_context(env, frame)


def _with_map_context(env: Any, frame: Any) -> Any:
    source = env.states.context_object.context_object_data
    if "Map" in source:
        frame.states.context_object.context_object_data["Map"] = copy.deepcopy(source["Map"])
    return frame


class _Outcome:
    """What the wrappers saw: an error a Retrier would retry, one a Catcher took."""

    def __init__(self) -> None:
        self.retriable: tuple[str, str] | None = None
        self.caught: tuple[str, str] | None = None


def _context(request: Request, now: str) -> ContextObjectData:
    given = request.context
    execution_name = str(uuid.uuid4())
    machine_arn = f"arn:aws:states:{request.region}:{request.account}:stateMachine:TestState"
    context = ContextObjectData(
        Execution={
            "Id": f"{machine_arn.replace(':stateMachine:', ':execution:')}:{execution_name}",
            "Input": copy.deepcopy(request.input),
            "Name": execution_name,
            "RoleArn": request.role_arn,
            "StartTime": now,
            **given.get("Execution", {}),
        },
        StateMachine={"Id": machine_arn, "Name": "TestState", **given.get("StateMachine", {})},
    )
    for key in ("Task", "Map"):
        if key in given:
            context[key] = copy.deepcopy(given[key])
    return context


def _matches(env: Any, error_equals: Any, error_name: Any) -> bool:
    env.stack.append(error_name)
    error_equals.eval(env)
    return bool(env.stack.pop())


def _error_and_cause(failure_event: FailureEvent) -> tuple[str, str]:
    spec = ExecutionState._construct_error_output_value(failure_event)
    return spec.get("Error", ""), spec.get("Cause", "")


def _wrap_retry_and_catch(state: Any, request: Request, outcome: _Outcome) -> None:
    retry_count = int(request.config.get("retrierRetryCount", 0))
    original_catch = state._handle_catch

    def handle_retry(env: Any, failure_event: FailureEvent) -> RetryOutcome:
        for index, retrier in enumerate(state.retry.retriers):
            if not _matches(env, retrier.error_equals, failure_event.error_name):
                continue
            if retry_count >= retrier.max_attempts.attempts:
                return RetryOutcome.CannotRetry
            backoff = retrier.interval_seconds.seconds * retrier.backoff_rate.rate**retry_count
            backoff = min(backoff, retrier.max_delay_seconds.max_delays_seconds)
            env.inspection_data["errorDetails"] = {
                "retryIndex": index,
                "retryBackoffIntervalSeconds": int(backoff),
            }
            # the test ends here: stopping the program ends the state's retry loop, so nothing
            # waits and nothing runs again
            outcome.retriable = error, cause = _error_and_cause(failure_event)
            env.set_stop(stop_date=datetime.datetime.now(tz=datetime.UTC), cause=cause, error=error)
            return RetryOutcome.CanRetry
        return RetryOutcome.NoRetrier

    def handle_catch(env: Any, failure_event: FailureEvent) -> None:
        index = next(
            (
                i
                for i, catcher in enumerate(state.catch.catchers)
                if _matches(env, catcher.error_equals, failure_event.error_name)
            ),
            None,
        )
        original_catch(env, failure_event)
        if index is not None and env.stack[-1] == CatchOutcome.Caught:
            env.inspection_data.setdefault("errorDetails", {})["catchIndex"] = index
            outcome.caught = _error_and_cause(failure_event)

    if state.retry:
        state._handle_retry = handle_retry
    if state.catch:
        state._handle_catch = handle_catch


def _wrap_input_context(state: Any, request: Request) -> None:
    """The request's `context.State` wins over the fields moto sets on entering the state."""
    given = request.context.get("State")
    if not given:
        return
    original = state._eval_state_input

    def eval_state_input(env: Any) -> None:
        env.states.context_object.context_object_data["State"].update(copy.deepcopy(given))
        original(env)

    state._eval_state_input = eval_state_input


def _record_default_paths(state: Any) -> None:
    """moto records InputPath and ResultPath only where the definition declares them; AWS
    shows the stages of a JSONPath state whether or not they are declared ("$")."""
    if state.query_language.query_language_mode != QueryLanguageMode.JSONPath:
        return
    for attribute, key in (("input_path", "afterInputPath"), ("result_path", "afterResultPath")):
        component = getattr(state, attribute, None)
        if component is not None:
            component._eval_body = _decorated_updates_inspection_data(
                method=component._eval_body, inspection_data_key=_Key(key)
            )


def _fill_undeclared_stages(data: dict) -> None:
    """A stage the state does not declare passes its input on (Parameters, ResultSelector)."""
    if "result" not in data:
        return
    if "afterInputPath" in data:
        data.setdefault("afterParameters", data["afterInputPath"])
    if "afterResultPath" in data:
        data.setdefault("afterResultSelector", data["result"])


def run_state(request: Request) -> dict:
    """Evaluate the state once and answer as TestState does."""
    program = request.program or parse_state(request.state, request.name)
    state = program.test_state
    outcome = _Outcome()
    if isinstance(state, ExecutionState):
        _wrap_retry_and_catch(state, request, outcome)
        if request.mocked and isinstance(state, StateMap | StateParallel | StateTaskActivity):
            mock_execution(state, request)
    _wrap_input_context(state, request)
    _record_default_paths(state)

    now = datetime.datetime.now(tz=datetime.UTC).isoformat()
    env = _Environment(
        aws_execution_details=AWSExecutionDetails(
            account=request.account, region=request.region, role_arn=request.role_arn
        ),
        execution_type=StateMachineType.STANDARD,
        context=_context(request, now),
        event_history_context=EventHistoryContext.of_program_start(),
        activity_store={},
    )
    if request.mocked:
        env.mock_test_case = mock_test_case(request)
    for name, value in request.variables.items():
        env.variable_store.set(name, copy.deepcopy(value))
    env.states.reset(copy.deepcopy(request.input))

    program.eval(env)  # in a worker thread, with AWS's five-minute limit
    return _answer(request, env, outcome)


def _answer(request: Request, env: Any, outcome: _Outcome) -> dict:
    program_state = env.program_state()
    answer: dict[str, Any] = {}
    status = "SUCCEEDED"
    if outcome.retriable is not None:
        status = "RETRIABLE"
        answer["error"], answer["cause"] = outcome.retriable
    elif isinstance(program_state, ProgramError):
        status = "FAILED"
        answer.update(error=program_state.error["error"], cause=program_state.error["cause"])
    elif isinstance(program_state, ProgramTimedOut):
        status = "FAILED"
        answer.update(error="States.Timeout", cause="TestState ran for more than five minutes")
    else:
        answer["output"] = _compact(env.states.get_input())
        if isinstance(program_state, ProgramChoiceSelected):
            answer["nextState"] = program_state.next_state_name
        elif not isinstance(program_state, ProgramEnded) and env.next_state_name:
            answer["nextState"] = env.next_state_name
        if outcome.caught is not None:
            status = "CAUGHT_ERROR"
            answer["error"], answer["cause"] = outcome.caught
    answer["status"] = status
    if request.level in ("DEBUG", "TRACE"):
        data = {
            key: _compact(json.loads(value)) if isinstance(value, str) else value
            for key, value in env.inspection_data.items()
        }
        data["input"] = request.input_text
        _fill_undeclared_stages(data)
        data["variables"] = _compact(_all_variables(env))
        answer["inspectionData"] = data
    return answer


def _compact(value: Any) -> str:
    """JSON as AWS writes the stages (no spaces)."""
    return to_json_str(value, separators=(",", ":"))


def _all_variables(env: Any) -> dict:
    store = env.variable_store
    return {**store._outer_scope, **store._inner_scope}
