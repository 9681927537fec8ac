"""Fixes 4-10 of sfn_fixes.py (whose docstring says what each one does and why): Choice rules,
intrinsic functions, Distributed Map's tolerated failures and States.ALL, where moto 5.2.5's
engine answers differently from AWS's documentation. sfn_fixes.py installs them with the
others and keeps what moto had; this module only builds the replacements and checks moto.
"""

from __future__ import annotations

import datetime
import importlib
import inspect
import re
from collections.abc import Callable
from typing import Any


def _parameters(function: Any) -> list[str] | None:
    try:
        return list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return None


# --- 4-8. Choice rules and intrinsic functions ----------------------------------------------

_CHOICE = "moto.stepfunctions.parser.asl.component.state.choice.state_choice"
_COMPARISON = "moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_variable"
_VARIABLE = "moto.stepfunctions.parser.asl.component.state.choice.comparison.variable"
_OPERATORS = "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator"
_IS = _OPERATORS + ".implementations.is_operator"
_STRINGS = _OPERATORS + ".implementations.string_operators"
_STRING_EXPRESSION = "moto.stepfunctions.parser.asl.component.common.string.string_expression"
_NO_DEFAULT_MARK = "No branching option reached"
_JSON_PATH = "moto.stepfunctions.parser.asl.utils.json_path"
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


def points(original: Callable[[Any, str], Any]) -> dict[str, tuple[Any, str, Any]]:
    """name -> (owner, attribute, replacement) of fixes 4-10; `original(owner, attribute)` is
    what moto had there (sfn_fixes keeps it while installed)."""
    wrapped = (  # (module, class, attribute, the fix given moto's original)
        (_CHOICE, "StateChoice", "_eval_state", _choice_eval_state_fixed),
        (_STRING_EXPRESSION, "StringIntrinsicFunction", "_eval_body", _intrinsic_eval_body_fixed),
        (_DISTRIBUTED, "DistributedIterationComponent", "_map_run", _map_run_fixed),
        (_ERROR_EQUALS, "ErrorEqualsDecl", "_eval_body", _error_equals_fixed),
    )
    replaced = (  # (module, class, attribute, what takes its place)
        (_COMPARISON, "ComparisonVariable", "_eval_body", _comparison_eval_body),
        (_IS, "IsTimestamp", "string_to_timestamp", staticmethod(string_to_timestamp)),
        (_STRINGS, "StringMatches", "_compare", staticmethod(string_matches)),
    )
    points = {}
    for module, name, attribute, fixed in wrapped:
        owner = getattr(importlib.import_module(module), name)
        points[f"{name}.{attribute}"] = (owner, attribute, fixed(original(owner, attribute)))
    for module, name, attribute, value in replaced:
        owner = getattr(importlib.import_module(module), name)
        points[f"{name}.{attribute}"] = (owner, attribute, value)
    return points


def problems(original: Callable[[Any, str], Any]) -> list[str]:
    """What moto moved under fixes 4-10, or fixed itself (empty: nothing)."""
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
    if _NO_DEFAULT_MARK not in source(original(choice, "_eval_state")):
        found.append("StateChoice._eval_state no longer raises on no match: check fix 4")
    if "variable.eval(env)" not in source(original(comparison, "_eval_body")) or not hasattr(
        variable, "NoSuchVariable"
    ):
        found.append("ComparisonVariable._eval_body or NoSuchVariable changed: check fix 5")
    if "TIMESTAMP_FORMAT" not in source(original(is_timestamp, "string_to_timestamp")):
        found.append("IsTimestamp.string_to_timestamp changed: check fix 6")
    if "fnmatch" not in source(original(matches, "_compare")):
        found.append("StringMatches._compare no longer uses fnmatch: check fix 7")
    if source(original(intrinsic, "_eval_body")).strip().splitlines()[-1].strip() != (
        "self.function.eval(env=env)"
    ):
        found.append("StringIntrinsicFunction._eval_body changed: check fix 8")
    try:
        distributed = importlib.import_module(_DISTRIBUTED)
    except ImportError as exc:
        return [*found, f"moto's Step Functions engine moved: {exc}"]
    if _parameters(original(distributed.DistributedIterationComponent, "_map_run")) != [
        *("self", "env", "eval_input"),
    ]:
        found.append("DistributedIterationComponent._map_run(self, env, eval_input) changed")
    try:
        error_equals = importlib.import_module(_ERROR_EQUALS).ErrorEqualsDecl
    except ImportError as exc:
        return [*found, f"moto's Step Functions engine moved: {exc}"]
    if "_STATE_ALL_ERROR in self.error_names" not in inspect.getsource(
        original(error_equals, "_eval_body")
    ):
        found.append("ErrorEqualsDecl._eval_body changed: check fix 10")
    init = _parameters(distributed.DistributedIterationComponentEvalInput.__init__) or []
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
