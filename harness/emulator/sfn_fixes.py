r"""Small fixes to moto 5.2.5's Step Functions where it answers differently from AWS's
documentation (found by tests/conformance/, listed in docs/stepfunctions-fidelity.md).

Each fix is shaped so it could go upstream as it is, and `problems()` fails loudly when moto
changes under it (the point moved, or moto now does it itself: then drop the fix).

1. DescribeExecution of an execution whose output is a JSON string: AWS answers the JSON text
   (`"done"`, with quotes); moto's `StepFunctionResponse.describe_execution` passes a str
   output through as it is (right for its old non-executing backend, which stores JSON text;
   wrong for the interpreter's executions, which store the value), so boto3 callers got
   `done`, which is not JSON. Upstream shape: JSON-encode when the execution is the parser's.
2. JSONPath results: AWS (Jayway JsonPath) returns the value for a definite path
   (`$[0].n`, `$.items[1].name`) and a list for an indefinite one (`[*]`, slices, filters,
   `..`, unions), however many nodes match. moto's `json_path.extract_json` decides by the
   matches instead: every path through an array index (`$[0].n`) came back as a list, and a
   wildcard with one match as the value. Upstream shape: decide by the parsed path.
3. Context object times: AWS's `$$.Execution.StartTime` and `$$.State.EnteredTime` are
   strings like `2019-03-26T20:14:13.192Z` (UTC, milliseconds). moto put the execution's start
   as a datetime object (so an output holding it made DescribeExecution answer 500) and the
   state's entry as `...T20:14:13.192345+00:00`. Upstream shape: format both where the
   context object is built (`ExecutionData(...)` in execution_worker.py, `StateData(...)` in
   state.py), which is where the fix wraps them.
4. A Choice with no matching rule and no Default: AWS fails with `States.NoChoiceMatched`;
   moto raised a bare RuntimeError (so `States.Runtime`). Upstream shape: raise the failure
   event with that error where moto raised (`StateChoice._eval_state`).
5. A Choice rule on a field that is not in the input (other than `IsPresent`): AWS fails
   with States.Runtime, "Invalid path '$.x': The choice state's condition path references an
   invalid value."; moto compared a placeholder and went on (to the Default). Upstream
   shape: check in `ComparisonVariable._eval_body`.
6. Timestamps in Choice rules: AWS reads RFC 3339 (`2016-08-18T17:33:00Z`, fractions of a
   second, `+01:00` offsets) and compares instants; moto read only `%Y-%m-%dT%H:%M:%SZ`.
   Upstream shape: `IsTimestamp.string_to_timestamp`, which every Timestamp operator calls.
7. `StringMatches`: AWS's only wildcard is `*`, and `\*` / `\\` are a literal star and
   backslash; moto used fnmatch (where `?` and `[...]` are patterns too and `\*` is not an
   escape). Upstream shape: `StringMatches._compare`.
8. An intrinsic function that fails (`States.StringToJson` on text that is not JSON, an index
   out of range, an unknown hash algorithm): AWS fails with `States.IntrinsicFailure`; moto
   let the Python error become States.Runtime. Upstream shape: `StringIntrinsicFunction.
   _eval_body` (a path that matches nothing stays States.Runtime, as in any other field).
9. Distributed Map tolerance: AWS fails the Map Run with `States.ExceedToleratedFailureThreshold`
   when more items fail than `ToleratedFailureCount` / `ToleratedFailurePercentage` allow
   (by default none); moto parsed both, ignored them, and let every failure pass. Upstream
   shape: check the run's failed-item counter after `DistributedIterationComponent._map_run`
   (a field left out, or 0 as moto stores it, does not tolerate; neither given: no failure).
10. `States.ALL` does not match the terminal errors `States.Runtime` and
    `States.DataLimitExceeded` (AWS's error names table); moto's matched everything, so a
    `States.ALL` retrier retried a States.Runtime and a catcher caught it. Upstream shape:
    `ErrorEqualsDecl._eval_body`.
"""

from __future__ import annotations

import datetime
import importlib
import inspect
import json
import re
import threading
from pathlib import Path
from typing import Any

_installed: dict[str, tuple[Any, str, Any]] = {}
_lock = threading.Lock()

_JSON_PATH = "moto.stepfunctions.parser.asl.utils.json_path"
# the modules that bind `extract_json` by name (checked against moto's sources by problems())
_EXTRACT_HOLDERS = (
    "moto.stepfunctions.parser.asl.component.common.string.string_expression",
    "moto.stepfunctions.parser.asl.component.intrinsic.argument.argument",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.timestamp_operators",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.boolean_equals",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.numeric",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.string_operators",
    "moto.stepfunctions.parser.asl.eval.states",
)
# what moto's extract_json does that fix 2 replaces (if it is gone, moto changed it)
_EXTRACT_MARK = "isinstance(matches[0].context.path, Index)"
_DESCRIBE_MARK = "isinstance(execution.output, str)"
_BINDS = re.compile(r"from [\w.]+\.json_path import \(?[^)]*?\bextract_json\b")


# --- 1. DescribeExecution's output ----------------------------------------------------------


def _describe_execution_fixed(original):
    def describe_execution(self):
        result = original(self)
        try:
            execution = self.stepfunction_backend.describe_execution(
                self._get_param("executionArn")
            )
        except Exception:  # noqa: BLE001 - the original already answered (or raised)
            return result
        body = getattr(result, "result", None)
        if (
            isinstance(body, dict)
            and isinstance(execution.output, str)
            and "output" in body
            and type(execution).__module__.startswith("moto.stepfunctions.parser.")
        ):
            body["output"] = json.dumps(execution.output)
        return result

    return describe_execution


# --- 2. definite and indefinite JSONPath ------------------------------------------------------


def is_definite(expression: Any) -> bool:
    """True when a parsed jsonpath_ng path can select at most one node (Jayway's rule)."""
    from jsonpath_ng import jsonpath

    if isinstance(expression, jsonpath.Child):
        return is_definite(expression.left) and is_definite(expression.right)
    if isinstance(expression, jsonpath.Fields):
        return len(expression.fields) == 1 and expression.fields[0] != "*"
    if isinstance(expression, jsonpath.Index):
        return len(getattr(expression, "indices", (0,))) == 1
    return isinstance(expression, jsonpath.Root | jsonpath.This)


def extract_json(path: str, data: Any) -> Any:
    json_path = importlib.import_module(_JSON_PATH)
    expression = json_path.parse(path)  # the speed-ups' cache, when installed
    matches = expression.find(data)
    if is_definite(expression):
        if not matches:
            raise json_path.NoSuchJsonPathError(json_path=path, data=data)
        return matches[0].value
    return [match.value for match in matches]


# --- 3. context object times ----------------------------------------------------------------

_EXECUTION_WORKER = "moto.stepfunctions.parser.backend.execution_worker"
_STATE = "moto.stepfunctions.parser.asl.component.state.state"
_STATES = "moto.stepfunctions.parser.asl.eval.states"


def aws_time(value: Any) -> Any:
    """A datetime or ISO 8601 string as AWS writes times in the context object."""
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value)  # 3.11 reads a trailing Z
        except ValueError:
            return value
    if not isinstance(value, datetime.datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    value = value.astimezone(datetime.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _with_aws_time(typed_dict: Any, field: str):
    def build(**fields):
        if field in fields:
            fields[field] = aws_time(fields[field])
        return typed_dict(**fields)

    build.__name__ = build.__qualname__ = typed_dict.__name__
    return build


# --- 4-8. Choice rules and intrinsic functions ----------------------------------------------

_CHOICE = "moto.stepfunctions.parser.asl.component.state.choice.state_choice"
_COMPARISON = "moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_variable"
_VARIABLE = "moto.stepfunctions.parser.asl.component.state.choice.comparison.variable"
_OPERATORS = "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator"
_IS = _OPERATORS + ".implementations.is_operator"
_STRINGS = _OPERATORS + ".implementations.string_operators"
_STRING_EXPRESSION = "moto.stepfunctions.parser.asl.component.common.string.string_expression"
_NO_DEFAULT_MARK = "No branching option reached"
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)")


def failure(env: Any, error: str, cause: str) -> Exception:
    """The exception that fails a state with a States.* error (moto's own kind)."""
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name import (
        failure_event,
        states_error_name,
        states_error_name_type,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    typ = states_error_name_type.StatesErrorNameType[error]
    return failure_event.FailureEventException(
        failure_event=failure_event.FailureEvent(
            env=env,
            error_name=states_error_name.StatesErrorName(typ=typ),
            event_type=HistoryEventType.ExecutionFailed,
            event_details=EventDetails(
                executionFailedEventDetails=ExecutionFailedEventDetails(
                    error=typ.to_name(), cause=cause
                )
            ),
        )
    )


def _choice_eval_state_fixed(original):
    def _eval_state(self, env):
        try:
            return original(self, env)
        except RuntimeError as exc:
            if self.default_state is not None or _NO_DEFAULT_MARK not in str(exc.args[:1]):
                raise
            raise failure(
                env,
                "StatesNoChoiceMatched",
                f"No Choice Rule matched in the Choice state '{self.name}', and it has no Default.",
            ) from None

    return _eval_state


def _comparison_eval_body(self, env):
    no_such = importlib.import_module(_VARIABLE).NoSuchVariable
    operator = getattr(self.comparison_function, "operator_type", None)
    self.variable.eval(env)
    if isinstance(env.stack[-1], no_such) and getattr(operator, "name", "") != "IsPresent":
        path = self.variable.string_sampler.literal_value
        raise failure(
            env,
            "StatesRuntime",
            f"Invalid path '{path}': The choice state's condition path references an invalid value.",
        )
    self.comparison_function.eval(env)


def string_to_timestamp(string: str) -> datetime.datetime | None:
    """RFC 3339 with an uppercase T and Z (or an offset), as AWS reads Choice timestamps."""
    match = _RFC3339.fullmatch(string) if isinstance(string, str) else None
    if match is None:
        return None
    date, clock, fraction, zone = match.groups()
    try:
        value = datetime.datetime.fromisoformat(
            f"{date}T{clock}{(fraction or '')[:7]}{'+00:00' if zone == 'Z' else zone}"
        )
    except ValueError:
        return None
    return value.astimezone(datetime.UTC)


def string_matches(variable: Any, pattern: Any) -> bool:
    """`*` matches any run of characters; a backslash makes the next character literal."""
    if not isinstance(variable, str) or not isinstance(pattern, str):
        return False
    regex, escaped = [], False
    for char in pattern:
        if escaped:
            regex.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "*":
            regex.append(".*")
        else:
            regex.append(re.escape(char))
    return re.fullmatch("".join(regex), variable, flags=re.DOTALL) is not None


def _intrinsic_eval_body_fixed(original):
    def _eval_body(self, env):
        from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
            FailureEventException,
        )

        json_path = importlib.import_module(_JSON_PATH)
        try:
            original(self, env)
        except (FailureEventException, json_path.NoSuchJsonPathError):
            raise
        except Exception as exc:  # noqa: BLE001 - what AWS reports as an intrinsic failure
            raise failure(
                env,
                "StatesIntrinsicFailure",
                f"The evaluation of the intrinsic function '{self.intrinsic_function_derivation}' "
                f"failed: {exc}",
            ) from None

    return _eval_body


# --- 9. Distributed Map tolerance ------------------------------------------------------------

_DISTRIBUTED = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration."
    "distributed_iteration_component"
)


def exceeds_tolerance(failed: int, total: int, count: float, percentage: float) -> bool:
    if failed == 0:
        return False
    if not count and not percentage:
        return True
    return (bool(count) and failed > count) or (
        bool(percentage) and failed * 100 > percentage * max(total, 1)
    )


def _map_run_fixed(original):
    def _map_run(self, env, eval_input):
        original(self, env, eval_input)
        items = eval_input.map_run_record.item_counter
        failed, total = items.failed.get(), items.total.get()
        if exceeds_tolerance(
            failed,
            total,
            eval_input.tolerated_failure_count or 0,
            eval_input.tolerated_failure_percentage or 0,
        ):
            raise failure(
                env,
                "StatesExceedToleratedFailureThreshold",
                f"The specified tolerated failure threshold was exceeded: {failed} of {total} "
                "items failed.",
            )

    return _map_run


# --- 10. States.ALL and the terminal errors -------------------------------------------------

_ERROR_EQUALS = "moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl"
TERMINAL = ("States.Runtime", "States.DataLimitExceeded")


def _error_equals_fixed(original):
    def _eval_body(self, env):
        name = getattr(env.stack[-1], "error_name", None) if env.stack else None
        if name in TERMINAL and [n.error_name for n in self.error_names] == ["States.ALL"]:
            env.stack.pop()
            env.stack.append(False)
            return
        original(self, env)

    return _eval_body


# --- install, uninstall, problems -------------------------------------------------------------


def _points() -> dict[str, tuple[Any, str, Any]]:
    """name -> (owner, attribute, replacement)."""
    from moto.stepfunctions.responses import StepFunctionResponse

    points = {
        "StepFunctionResponse.describe_execution": (
            StepFunctionResponse,
            "describe_execution",
            _describe_execution_fixed(_original(StepFunctionResponse, "describe_execution")),
        )
    }
    choice = importlib.import_module(_CHOICE).StateChoice
    points["StateChoice._eval_state"] = (
        choice,
        "_eval_state",
        _choice_eval_state_fixed(_original(choice, "_eval_state")),
    )
    comparison = importlib.import_module(_COMPARISON).ComparisonVariable
    points["ComparisonVariable._eval_body"] = (comparison, "_eval_body", _comparison_eval_body)
    is_timestamp = importlib.import_module(_IS).IsTimestamp
    points["IsTimestamp.string_to_timestamp"] = (
        is_timestamp,
        "string_to_timestamp",
        staticmethod(string_to_timestamp),
    )
    matches = importlib.import_module(_STRINGS).StringMatches
    points["StringMatches._compare"] = (matches, "_compare", staticmethod(string_matches))
    intrinsic = importlib.import_module(_STRING_EXPRESSION).StringIntrinsicFunction
    points["StringIntrinsicFunction._eval_body"] = (
        intrinsic,
        "_eval_body",
        _intrinsic_eval_body_fixed(_original(intrinsic, "_eval_body")),
    )
    distributed = importlib.import_module(_DISTRIBUTED).DistributedIterationComponent
    points["DistributedIterationComponent._map_run"] = (
        distributed,
        "_map_run",
        _map_run_fixed(_original(distributed, "_map_run")),
    )
    error_equals = importlib.import_module(_ERROR_EQUALS).ErrorEqualsDecl
    points["ErrorEqualsDecl._eval_body"] = (
        error_equals,
        "_eval_body",
        _error_equals_fixed(_original(error_equals, "_eval_body")),
    )
    states = importlib.import_module(_STATES)
    points[f"{_EXECUTION_WORKER}.ExecutionData"] = (
        importlib.import_module(_EXECUTION_WORKER),
        "ExecutionData",
        _with_aws_time(states.ExecutionData, "StartTime"),
    )
    points[f"{_STATE}.StateData"] = (
        importlib.import_module(_STATE),
        "StateData",
        _with_aws_time(states.StateData, "EnteredTime"),
    )
    for holder in (_JSON_PATH, *_EXTRACT_HOLDERS):
        points[f"{holder}.extract_json"] = (
            importlib.import_module(holder),
            "extract_json",
            extract_json,
        )
    return points


def _original(owner: Any, attribute: str) -> Any:
    for saved_owner, saved_attribute, value in _installed.values():
        if saved_owner is owner and saved_attribute == attribute:
            return value
    return getattr(owner, attribute)


def _params(function: Any) -> list[str] | None:
    try:
        return list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return None


def problems() -> list[str]:
    """What moto moved under these fixes, or fixed itself (empty: nothing)."""
    from moto.stepfunctions.responses import StepFunctionResponse

    found = []
    describe = _original(StepFunctionResponse, "describe_execution")
    if _params(describe) != ["self"]:
        found.append("StepFunctionResponse.describe_execution(self) changed")
    elif _DESCRIBE_MARK not in inspect.getsource(describe):
        found.append(
            "StepFunctionResponse.describe_execution no longer passes a str output through: "
            "drop sfn_fixes fix 1 if moto now JSON-encodes it"
        )
    try:
        json_path = importlib.import_module(_JSON_PATH)
        holders = [importlib.import_module(name) for name in _EXTRACT_HOLDERS]
    except ImportError as exc:
        return [*found, f"moto's Step Functions engine moved: {exc}"]
    original = _original(json_path, "extract_json")
    if _params(original) != ["path", "data"]:
        found.append(f"{_JSON_PATH}.extract_json(path, data) changed")
    elif _EXTRACT_MARK not in inspect.getsource(original):
        found.append(
            f"{_JSON_PATH}.extract_json no longer decides by its matches: "
            "drop sfn_fixes fix 2 if moto now follows definite/indefinite paths"
        )
    for module in holders:
        if _original(module, "extract_json") is not original:
            found.append(f"{module.__name__} no longer imports json_path.extract_json by name")
    if not all(hasattr(json_path, name) for name in ("parse", "NoSuchJsonPathError")):
        found.append(f"{_JSON_PATH}.parse or NoSuchJsonPathError is gone")
    try:
        states = importlib.import_module(_STATES)
        worker = importlib.import_module(_EXECUTION_WORKER)
        state = importlib.import_module(_STATE)
    except ImportError as exc:
        return [*found, f"moto's Step Functions engine moved: {exc}"]
    for module, name, field in (
        (worker, "ExecutionData", "StartTime"),
        (state, "StateData", "EnteredTime"),
    ):
        if _original(module, name) is not getattr(states, name, None):
            found.append(f"{module.__name__} no longer builds the context with states.{name}")
        elif field not in getattr(states, name).__annotations__:
            found.append(f"states.{name} has no {field}")
        elif f"{name}(" not in inspect.getsource(module):
            found.append(f"{module.__name__} no longer calls {name}(...)")
    found.extend(_choice_problems())
    # a module that binds extract_json and is not patched would keep moto's answers
    root = Path(json_path.__file__).resolve().parents[2]  # moto/stepfunctions/parser
    binding = {
        "moto.stepfunctions." + str(p.relative_to(root.parent).with_suffix("")).replace("/", ".")
        for p in root.rglob("*.py")
        if _BINDS.search(p.read_text(encoding="utf-8", errors="replace"))
    }
    unknown = sorted(binding - set(_EXTRACT_HOLDERS))
    if unknown:
        found.append(f"more modules bind extract_json by name: {', '.join(unknown)}")
    return found


def _choice_problems() -> list[str]:
    found = []
    try:
        choice = importlib.import_module(_CHOICE).StateChoice
        comparison = importlib.import_module(_COMPARISON).ComparisonVariable
        variable = importlib.import_module(_VARIABLE)
        is_timestamp = importlib.import_module(_IS).IsTimestamp
        matches = importlib.import_module(_STRINGS).StringMatches
        intrinsic = importlib.import_module(_STRING_EXPRESSION).StringIntrinsicFunction
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
            StatesErrorNameType,
        )
    except ImportError as exc:
        return [f"moto's Step Functions engine moved: {exc}"]
    source = inspect.getsource
    if _NO_DEFAULT_MARK not in source(_original(choice, "_eval_state")):
        found.append("StateChoice._eval_state no longer raises on no match: check fix 4")
    if "variable.eval(env)" not in source(_original(comparison, "_eval_body")) or not hasattr(
        variable, "NoSuchVariable"
    ):
        found.append("ComparisonVariable._eval_body or NoSuchVariable changed: check fix 5")
    if "TIMESTAMP_FORMAT" not in source(_original(is_timestamp, "string_to_timestamp")):
        found.append("IsTimestamp.string_to_timestamp changed: check fix 6")
    if "fnmatch" not in source(_original(matches, "_compare")):
        found.append("StringMatches._compare no longer uses fnmatch: check fix 7")
    if source(_original(intrinsic, "_eval_body")).strip().splitlines()[-1].strip() != (
        "self.function.eval(env=env)"
    ):
        found.append("StringIntrinsicFunction._eval_body changed: check fix 8")
    try:
        distributed = importlib.import_module(_DISTRIBUTED)
    except ImportError as exc:
        return [*found, f"moto's Step Functions engine moved: {exc}"]
    if _params(_original(distributed.DistributedIterationComponent, "_map_run")) != [
        *("self", "env", "eval_input"),
    ]:
        found.append("DistributedIterationComponent._map_run(self, env, eval_input) changed")
    try:
        error_equals = importlib.import_module(_ERROR_EQUALS).ErrorEqualsDecl
    except ImportError as exc:
        return [*found, f"moto's Step Functions engine moved: {exc}"]
    if "_STATE_ALL_ERROR in self.error_names" not in inspect.getsource(
        _original(error_equals, "_eval_body")
    ):
        found.append("ErrorEqualsDecl._eval_body changed: check fix 10")
    init = _params(distributed.DistributedIterationComponentEvalInput.__init__) or []
    if not {"tolerated_failure_count", "tolerated_failure_percentage", "map_run_record"} <= set(
        init
    ):
        found.append("DistributedIterationComponentEvalInput lost its tolerated failure fields")
    names = (
        *("StatesNoChoiceMatched", "StatesRuntime", "StatesIntrinsicFailure"),
        "StatesExceedToleratedFailureThreshold",
    )
    for name in names:
        if name not in StatesErrorNameType.__members__:
            found.append(f"StatesErrorNameType.{name} is gone")
    return found


def install() -> None:
    """Apply the fixes (idempotent). Imports moto's interpreter."""
    from harness.emulator.moto_hooks import raise_if

    raise_if(problems())
    with _lock:
        for name, (owner, attribute, replacement) in _points().items():
            if name not in _installed:
                _installed[name] = (owner, attribute, getattr(owner, attribute))
            setattr(owner, attribute, replacement)


def uninstall() -> None:
    with _lock:
        for owner, attribute, value in reversed(list(_installed.values())):
            setattr(owner, attribute, value)
        _installed.clear()


def installed() -> dict[str, Any]:
    """{"Owner.name": what was there before install()} (for the restore test)."""
    with _lock:
        return {name: value for name, (_, _, value) in _installed.items()}
