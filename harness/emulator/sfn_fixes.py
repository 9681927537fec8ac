r"""Small fixes to moto 5.2.5's Step Functions where it answers differently from AWS's
documentation (found by tests/conformance/, listed in docs/stepfunctions-fidelity.md).

Each fix is shaped so it could go upstream as it is, and `problems()` fails loudly when moto
changes under it (the point moved, or moto now does it itself: then drop the fix). Fixes 1-3
are here; 4-10 (Choice rules, intrinsics, Map tolerance, States.ALL) are in sfn_fixes_rules.py,
installed and checked from here.

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

from harness.emulator import sfn_fixes_rules

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
    points.update(sfn_fixes_rules.points(_original))
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
    found.extend(sfn_fixes_rules.problems(_original))
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
