"""JSONata and variables in moto's Step Functions engine (moto 5.2.5), evaluated by jsonata-python.

moto's interpreter (a port of LocalStack's) parses JSONata but never evaluates it: LocalStack
hands the expressions to jsonata-java through a JVM bridge, moto leaves the evaluator unset
(`asl/jsonata/jsonata.py`: `_eval_jsonata = None`), so every `{% ... %}` and every variable
read (`$name` after `Assign`, in both query languages) dies with a TypeError. docs/contracts.md
section 5; what AWS does: section 7 and docs/stepfunctions-fidelity.md.

What `install()` patches (`uninstall()` puts back exactly what was there):

- `jsonata._eval_jsonata`: the evaluator moto's `eval_jsonata_expression(text)` calls, now
  jsonata-python (a port of the same jsonata-java) with AWS's added functions registered.
  This is the one-line upstream fix; it evaluates the text moto composes,
  `( $states := {...}; $var := ...; <expression> )`.
- `encode_jsonata_variable_declarations` (in `jsonata`, `eval.states`, `eval.variable_store`,
  which import it by name) and `VariableStore.get_assigned_variables`: moto writes string
  values as `f'"{value}"'`, so a string holding `"` or `\\` breaks the expression (and the
  history's assignedVariables). They now write every value as JSON, which JSONata reads as is.
- `StringJSONata._eval_body` and `StringVariableSample._eval_body` (every `{% %}` field, and
  `$var` in JSONPath fields): instead of composing and re-parsing a text that embeds the
  state's whole input as a literal (~1 ms per expression for a 5 KB image), we parse each
  expression once and pass `$states` and the variables it names as bindings. Same results;
  a failing expression fails the state with `States.QueryEvaluationError` (an
  `EvaluationFailed` history event, catchable by Retry/Catch), as on AWS, instead of a
  Python exception.

- `Preprocessor.visitAssign_template_value_terminal_string_literal`: a literal string in
  `Assign` kept its JSON escapes (`"a \\"b\\""` was stored with the backslashes).
- `CustomErrorName` in the Parallel and Map iteration modules: a branch that failed with a
  States.* error could not be re-raised under that name (ValueError, the run failed with
  States.Runtime and no Catch matched).
- `ConditionStringJSONata._eval_body` and `SecondsJSONata._get_wait_seconds`: a Choice
  `Condition` that is not a boolean, or a Wait `Seconds` that is not a non-negative integer,
  failed with States.Runtime (a Python RuntimeError / ValueError); now
  States.QueryEvaluationError with the cause moto already gives for a Map `Items` of the
  wrong type.
- `Preprocessor.__init__`: moto keeps the stack of QueryLanguage scopes in a class attribute,
  shared by every parse in the process; a refused definition left scopes on it and spoilt the
  parses after it. Each Preprocessor now gets its own.

AWS's functions: `$partition`, `$range`, `$hash`, `$random([seed])`, `$uuid`, `$parse`; `$eval`
is not available on AWS, so it fails here too. moto declares some of them as JSONata lambdas
(`asl/component/intrinsic/jsonata.py`, with `$hash` and `$uuid` as stubs) and prepends them
to the text it composes, where they win over ours; the bindings path does not use them, so
upstreaming the evaluator alone would also need those two stubs replaced.

`problems()` names any moto or jsonata-python symbol this module relies on that moved;
moto_hooks.check_hooks() includes it.
"""

from __future__ import annotations

import importlib
import inspect
import json
import threading
from typing import Any

from harness.emulator import sfn_jsonata_eval as jsonata_eval

_PARSER = "moto.stepfunctions.parser"
_JSONATA = f"{_PARSER}.asl.jsonata.jsonata"
_STATES = f"{_PARSER}.asl.eval.states"
_VARIABLE_STORE = f"{_PARSER}.asl.eval.variable_store"
_STRING_EXPRESSION = f"{_PARSER}.asl.component.common.string.string_expression"
_PREPROCESSOR = f"{_PARSER}.asl.parse.preprocessor"
_ASSIGN_LITERAL = "visitAssign_template_value_terminal_string_literal"
_COMPARISON = f"{_PARSER}.asl.component.state.choice.comparison.comparison"
_SECONDS = f"{_PARSER}.asl.component.state.wait.wait_function.seconds"
_BRANCH_HOLDERS = (  # modules re-raising a branch's or an iteration's error by name
    f"{_PARSER}.asl.component.state.exec.state_parallel.branches_decl",
    f"{_PARSER}.asl.component.state.exec.state_map.iteration.iteration_worker",
)
_ENCODE_HOLDERS = (_JSONATA, _STATES, _VARIABLE_STORE)  # modules holding the encoder by name

_installed: dict[str, Any] = {}
_lock = threading.Lock()


# --- what moto and jsonata-python must have -------------------------------------------------


def _params(function: Any) -> list[str] | None:
    return None if function is None else list(inspect.signature(function).parameters)


def _original(owner: Any, name: str) -> Any:
    saved = _installed.get(f"{owner.__name__}.{name}")
    if saved is None:
        return getattr(owner, name, None)
    return getattr(owner.__mro__[1], name, None) if saved[2] is _ABSENT else saved[2]


def _preprocessor() -> Any:
    """moto's ASL Preprocessor class. Its module imports the interpreter, which imports
    moto.batch.utils; the package's __init__ would load Batch and EC2 whole (~2 s), so the
    utils module is loaded alone first (moto_batch.py)."""
    from harness.emulator import moto_batch

    moto_batch.import_utils_alone()
    return importlib.import_module(_PREPROCESSOR).Preprocessor


def problems() -> list[str]:
    """What moved under this module in moto or jsonata-python (empty: nothing)."""
    found: list[str] = []
    try:
        import jsonata
        from jsonata.utils import Utils
    except ImportError:
        return ["jsonata-python is not installed (pyproject.toml's harness extra pins it)"]
    if not all(hasattr(jsonata.Jsonata, name) for name in ("evaluate", "set_output_convert_nulls")):
        found.append("jsonata.Jsonata lost evaluate or set_output_convert_nulls")
    if not hasattr(Utils, "NULL_VALUE"):
        found.append("jsonata.utils.Utils.NULL_VALUE moved")

    modules = {}
    for name in (_JSONATA, _STATES, _VARIABLE_STORE, _STRING_EXPRESSION):
        try:
            modules[name] = importlib.import_module(name)
        except ImportError:
            found.append(f"{name} is gone")
    if len(modules) < 4:
        return found
    moto_jsonata = modules[_JSONATA]
    if not hasattr(moto_jsonata, "_eval_jsonata"):
        found.append("asl.jsonata.jsonata._eval_jsonata is gone")
    if _params(getattr(moto_jsonata, "eval_jsonata_expression", None)) != ["jsonata_expression"]:
        found.append("asl.jsonata.jsonata.eval_jsonata_expression(jsonata_expression) changed")
    for holder in _ENCODE_HOLDERS:
        encoder = _original(modules[holder], "encode_jsonata_variable_declarations")
        if _params(encoder) != ["bindings"]:
            found.append(f"{holder}.encode_jsonata_variable_declarations(bindings) moved")
    store = modules[_VARIABLE_STORE]
    for name in ("VariableStore", "NoSuchVariable"):
        if not hasattr(store, name):
            found.append(f"asl.eval.variable_store.{name} is gone")
    if hasattr(store, "VariableStore"):
        if _params(_original(store.VariableStore, "get_assigned_variables")) != ["self"]:
            found.append("VariableStore.get_assigned_variables(self) changed")
        if _params(getattr(store.VariableStore, "get", None)) != ["self", "variable_identifier"]:
            found.append("VariableStore.get(self, variable_identifier) changed")
    if "_states_data" not in getattr(
        getattr(modules[_STATES], "States", None), "__annotations__", {}
    ):
        found.append("asl.eval.states.States._states_data moved")
    strings = modules[_STRING_EXPRESSION]
    for owner, params in (
        ("StringJSONata", ["self", "expression"]),
        ("StringVariableSample", ["self", "query_language_mode", "expression"]),
    ):
        cls = getattr(strings, owner, None)
        if cls is None or _params(_original(cls, "_eval_body")) != ["self", "env"]:
            found.append(f"string_expression.{owner}._eval_body(self, env) moved")
        elif _params(cls.__init__) != params:
            found.append(f"string_expression.{owner}({', '.join(params[1:])}) changed")
    for module, owner, name in (
        (_COMPARISON, "ConditionStringJSONata", "_eval_body"),
        (_SECONDS, "SecondsJSONata", "_get_wait_seconds"),
    ):
        try:
            cls = getattr(importlib.import_module(module), owner)
        except (ImportError, AttributeError):
            found.append(f"{module}.{owner} is gone")
            continue
        if _params(_original(cls, name)) != ["self", "env"] or _params(cls.__init__) != [
            "self",
            "string_jsonata",
        ]:
            found.append(f"{owner}.{name}(self, env) or {owner}(string_jsonata) changed")
    for holder in _BRANCH_HOLDERS:
        try:
            error_name_class = _original(importlib.import_module(holder), "CustomErrorName")
        except ImportError:
            error_name_class = None
        if _params(error_name_class) != ["error_name"]:
            found.append(f"{holder}.CustomErrorName(error_name) moved")
    try:
        preprocessor = _preprocessor()
        from moto.stepfunctions.parser.asl.antlt4utils.antlr4utils import from_string_literal
        from moto.stepfunctions.parser.asl.component.common.assign.assign_template_value_terminal import (
            AssignTemplateValueTerminalLit,
        )
    except (ImportError, AttributeError) as exc:
        found.append(f"moto's ASL preprocessor or Assign literals moved ({exc})")
    else:
        del from_string_literal, AssignTemplateValueTerminalLit
        if _params(_original(preprocessor, _ASSIGN_LITERAL)) != ["self", "ctx"]:
            found.append(f"Preprocessor.{_ASSIGN_LITERAL}(self, ctx) changed")
        if not isinstance(preprocessor.__dict__.get("_query_language_per_scope"), list):
            found.append("Preprocessor._query_language_per_scope (a class-level list) moved")
    try:
        from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType
        from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
            FailureEvent,
            FailureEventException,
        )
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
            StatesErrorName,
        )
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
            StatesErrorNameType,
        )
        from moto.stepfunctions.parser.asl.component.common.query_language import (
            QueryLanguageMode,
        )
    except ImportError as exc:
        found.append(f"moto's Step Functions error events moved ({exc})")
    else:
        del EvaluationFailedEventDetails, FailureEvent, FailureEventException, StatesErrorName
        if not hasattr(HistoryEventType, "EvaluationFailed"):
            found.append("HistoryEventType.EvaluationFailed is gone")
        if not hasattr(StatesErrorNameType, "StatesQueryEvaluationError"):
            found.append("StatesErrorNameType.StatesQueryEvaluationError is gone")
        if not hasattr(QueryLanguageMode, "JSONata"):
            found.append("QueryLanguageMode.JSONata is gone")
    return found


def _eval_composed(text: str) -> Any:
    """moto's `_eval_jsonata`: the whole text moto composed; errors as moto's JSONataException."""
    from moto.stepfunctions.parser.asl.jsonata.jsonata import JSONataException

    try:
        return jsonata_eval.from_jsonata(jsonata_eval.evaluate(text, {}))
    except jsonata_eval.QueryError as exc:
        raise JSONataException("States.QueryEvaluationError", str(exc)) from None


# --- the fields' evaluation -----------------------------------------------------------------


def _bindings(env: Any, names: frozenset[str], with_states: bool) -> dict[str, Any]:
    from moto.stepfunctions.parser.asl.eval.variable_store import NoSuchVariable

    bindings: dict[str, Any] = {}
    for name in names:
        if name == "states":
            if with_states:
                data = env.states._states_data
                bindings["states"] = {
                    key: jsonata_eval.to_jsonata(data[key])
                    for key in ("input", "context", "result", "errorOutput")
                    if key in data
                }
            continue
        try:
            bindings[name] = jsonata_eval.to_jsonata(env.variable_store.get(name))
        except NoSuchVariable:
            pass  # a JSONata local, a function, or undefined: the expression decides
    return bindings


def _query_failure(env: Any, cause: str, location: str | None = None) -> Exception:
    """States.QueryEvaluationError for the state being evaluated, as moto's own validations
    raise it (asl/jsonata/validations.py): an EvaluationFailed event, then the failure."""
    from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    error_name = StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError)
    details = EvaluationFailedEventDetails(error=error_name.error_name, cause=cause)
    if location:
        details["location"] = location
    failure = FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=error_name,
            event_type=HistoryEventType.EvaluationFailed,
            event_details=EventDetails(evaluationFailedEventDetails=details),
        )
    )
    env.event_manager.add_event(
        context=env.event_history_context,
        event_type=HistoryEventType.EvaluationFailed,
        event_details=EventDetails(
            evaluationFailedEventDetails=failure.get_evaluation_failed_event_details()
        ),
    )
    return failure


def _evaluate_field(env: Any, expression: str, *, with_states: bool, defined: bool) -> Any:
    try:
        _, names = jsonata_eval.compile_expression(expression)
    except Exception:  # noqa: BLE001 - jsonata_eval.evaluate() reports the syntax error
        names = frozenset()
    try:
        result = jsonata_eval.evaluate(expression, _bindings(env, names, with_states))
        if result is None and defined:
            raise jsonata_eval.QueryError(
                f"The JSONata expression '{expression}' returned nothing (undefined)."
            )
        return jsonata_eval.from_jsonata(result)
    except jsonata_eval.QueryError as exc:
        cause = str(exc)
        if not cause.startswith("The JSONata expression"):
            cause = f"The JSONata expression '{expression}' {cause}"
        raise _query_failure(env, cause) from None


def _string_jsonata_eval_body(self: Any, env: Any) -> None:
    """StringJSONata: a `{% ... %}` field."""
    env.stack.append(_evaluate_field(env, self.expression, with_states=True, defined=True))


def _string_variable_sample_eval_body(self: Any, env: Any) -> None:
    """StringVariableSample: `$var...` read from a JSONata or a JSONPath field."""
    from moto.stepfunctions.parser.asl.component.common.query_language import QueryLanguageMode

    with_states = self.query_language_mode == QueryLanguageMode.JSONata
    env.stack.append(_evaluate_field(env, self.expression, with_states=with_states, defined=False))


def _unexpected_type(expression: str, field: str, expected: str, value: Any) -> str:
    """The cause moto gives for Map `Items` (state_map/items/items.py), for another field."""
    kinds = {bool: "boolean", str: "string", int: "number", float: "number", list: "array"}
    kind = "null" if value is None else kinds.get(type(value), "object")
    return (
        f"The JSONata expression '{expression}' specified for the field '{field}' returned an "
        f"unexpected result type. Expected '{expected}', but was '{kind}' for value: "
        f"{json.dumps(value)}"
    )


def _condition_eval_body(self: Any, env: Any) -> None:
    """ConditionStringJSONata: a Choice rule's `Condition` that is not a boolean fails with
    States.QueryEvaluationError (moto raised a RuntimeError: States.Runtime)."""
    self.string_jsonata.eval(env=env)
    result = env.stack[-1]
    if not isinstance(result, bool):
        cause = _unexpected_type(self.string_jsonata.expression, "Condition", "boolean", result)
        raise _query_failure(env, cause, "Condition")


def _seconds_get_wait_seconds(self: Any, env: Any) -> int:
    """SecondsJSONata: Wait `Seconds` must be a non-negative integer, else
    States.QueryEvaluationError (moto called int() on it: a ValueError, States.Runtime)."""
    self.string_jsonata.eval(env=env)
    value = env.stack.pop()
    if not jsonata_eval.is_integer(value) or value < 0:
        cause = _unexpected_type(self.string_jsonata.expression, "Seconds", "integer", value)
        raise _query_failure(env, cause, "Seconds")
    return int(value)


# --- the escaping fix (upstream-shaped) -------------------------------------------------------


def encode_jsonata_variable_declarations(bindings: dict[str, Any]) -> str:
    """moto's encoder with every value, strings included, written as JSON (a JSON string is a
    JSONata string literal; `f'"{value}"'` broke on a quote or a backslash)."""
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    return "".join(
        f"{reference}:={to_json_str(value, separators=(',', ':'))};"
        for reference, value in bindings.items()
    )


def get_assigned_variables(self: Any) -> dict[str, str]:
    """VariableStore.get_assigned_variables with strings JSON-encoded too (the history's
    assignedVariables holds each value as JSON text)."""
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    return {
        name: to_json_str(self.get(name), separators=(",", ":"))
        for name in self._declaration_tracing
    }


def visit_assign_string_literal(self: Any, ctx: Any) -> Any:
    """Preprocessor.visitAssign_template_value_terminal_string_literal: moto keeps a literal
    string of `Assign` as its raw JSON text (`"a \\"b\\""` stays escaped); decode it as JSON,
    as every other literal of the definition is."""
    from moto.stepfunctions.parser.asl.antlt4utils.antlr4utils import from_string_literal
    from moto.stepfunctions.parser.asl.component.common.assign.assign_template_value_terminal import (
        AssignTemplateValueTerminalLit,
    )

    literal = ctx.string_literal()
    try:
        value = json.loads(literal.getText())
    except ValueError:
        value = from_string_literal(parser_rule_context=literal)
    return AssignTemplateValueTerminalLit(value=value)


def _preprocessor_init(self: Any, *args: Any, **kwargs: Any) -> None:
    """Preprocessor.__init__: moto declares `_query_language_per_scope: list = []` on the class,
    so every parse in the process (and every thread) shares one stack of QueryLanguage scopes. A
    definition refused midway (e.g. a JSONPath state under a JSONata top level) leaves its
    scopes on it, and later definitions are then read in the wrong query language
    ("Unsupported declaration in QueryLanguage=JSONPath block"). One stack per parse."""
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    super(Preprocessor, self).__init__(*args, **kwargs)
    self._query_language_per_scope = []


def branch_error_name(error_name: str | None) -> Any:
    """For `CustomErrorName` in the Parallel and Map modules: a branch or an iteration that
    failed with a States.* error (States.QueryEvaluationError, States.Runtime...) is re-raised
    under that name, where moto's CustomErrorName refuses the prefix with a ValueError (the run
    then failed with States.Runtime, and a Catch on the real name never matched)."""
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )

    if isinstance(error_name, str) and error_name.startswith("States."):
        try:
            return StatesErrorName.from_name(error_name)
        except ValueError:
            named = CustomErrorName(error_name=None)
            named.error_name = error_name
            return named
    return CustomErrorName(error_name=error_name)


# --- install / uninstall --------------------------------------------------------------------


_ABSENT = object()  # the name was inherited, not the owner's own: uninstall deletes it


def _patch(owner: Any, name: str, value: Any) -> None:
    key = f"{owner.__name__}.{name}"
    if key not in _installed:
        _installed[key] = (owner, name, owner.__dict__.get(name, _ABSENT))
    setattr(owner, name, value)


def install() -> None:
    """Patch moto's Step Functions engine (idempotent)."""
    from harness.emulator.moto_hooks import raise_if

    raise_if(problems())
    jsonata_module = importlib.import_module(_JSONATA)
    strings = importlib.import_module(_STRING_EXPRESSION)
    store = importlib.import_module(_VARIABLE_STORE)
    with _lock:
        _patch(jsonata_module, "_eval_jsonata", _eval_composed)
        for holder in _ENCODE_HOLDERS:
            _patch(
                importlib.import_module(holder),
                "encode_jsonata_variable_declarations",
                encode_jsonata_variable_declarations,
            )
        _patch(store.VariableStore, "get_assigned_variables", get_assigned_variables)
        _patch(strings.StringJSONata, "_eval_body", _string_jsonata_eval_body)
        _patch(strings.StringVariableSample, "_eval_body", _string_variable_sample_eval_body)
        for holder in _BRANCH_HOLDERS:
            _patch(importlib.import_module(holder), "CustomErrorName", branch_error_name)
        _patch(
            importlib.import_module(_COMPARISON).ConditionStringJSONata,
            "_eval_body",
            _condition_eval_body,
        )
        _patch(
            importlib.import_module(_SECONDS).SecondsJSONata,
            "_get_wait_seconds",
            _seconds_get_wait_seconds,
        )
        preprocessor = _preprocessor()
        _patch(preprocessor, _ASSIGN_LITERAL, visit_assign_string_literal)
        _patch(preprocessor, "__init__", _preprocessor_init)


def uninstall() -> None:
    with _lock:
        for owner, name, value in reversed(list(_installed.values())):
            if value is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, value)
        _installed.clear()


def installed() -> dict[str, Any]:
    """{"Owner.name": what was there before install()} (for the restore test)."""
    with _lock:
        return {key: value for key, (_, _, value) in _installed.items()}
