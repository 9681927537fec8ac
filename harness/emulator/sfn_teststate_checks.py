"""A TestState request checked as AWS checks it, into sfn_teststate_run.Request.

What AWS refuses, and how (docs "Testing state machines with TestState API", the API
reference, LocalStack's AWS-validated snapshots for the exact messages where they exist):
InvalidDefinition for a definition that does not parse, or a Map / Parallel without a mock;
ValidationException for a mock on a state that takes none, both `result` and `errorOutput`,
a mocked result that is not JSON or not the Map's / Parallel's shape, `context` without a
mock, a Task without `roleArn` nor mock, an unknown `stateName`; InvalidExecutionInput for an
input that is not JSON. The mocked result of a service Task is checked against the botocore
output shape of its API (sfn_teststate_shapes.py).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from moto.core.exceptions import AWSError

_LEVELS = ("INFO", "DEBUG", "TRACE")
_MODES = ("STRICT", "PRESENT", "NONE")
_NO_MOCK_TYPES = ("Pass", "Fail", "Succeed", "Choice", "Wait")
_CONTEXT_KEYS = ("Execution", "State", "StateMachine", "Task")
_MAP_OR_PARALLEL = (
    "TestState API does not support Map or Parallel states. Supported state types include: "
    "[Task, Wait, Pass, Succeed, Fail, Choice]"
)


class TestStateError(AWSError):
    """An error answer in AWS's shape (`__type` and `message`, HTTP 400)."""

    __test__ = False  # not a pytest class

    def __init__(self, kind: str, message: str):
        super().__init__(message, exception_type=kind)


def _invalid(message: str) -> TestStateError:
    return TestStateError("ValidationException", message)


def _bad_definition(reason: str) -> TestStateError:
    return TestStateError("InvalidDefinition", f"Invalid State Machine Definition: '{reason}'")


def _json(text: Any, what: str, default: Any = None) -> Any:
    if text is None:
        return default
    if not isinstance(text, str):
        raise _invalid(f"{what} must be a string holding JSON")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if what == "input":
            raise TestStateError(
                "InvalidExecutionInput", f"Invalid State Machine Execution Input: '{exc}'"
            ) from None
        raise _invalid(f"{what} is not valid JSON: {exc}") from None


def _children(state: dict) -> list[tuple[dict, str]]:
    """The machines nested in a Map (ItemProcessor / Iterator) or a Parallel (Branches)."""
    nested = [state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])]
    return [(m, state.get("Type", "")) for m in nested if isinstance(m, dict)]


def find_state(machine: dict, name: str, language: str = "JSONPath") -> tuple[dict, bool] | None:
    """(the state with its QueryLanguage made explicit, whether it sits in a Map), or None."""
    language = machine.get("QueryLanguage", language)
    states = machine.get("States")
    if not isinstance(states, dict):
        return None
    if isinstance(states.get(name), dict):
        state = copy.deepcopy(states[name])
        state.setdefault("QueryLanguage", language)
        return state, False
    for state in states.values():
        if not isinstance(state, dict):
            continue
        for child, parent_type in _children(state):
            found = find_state(child, name, state.get("QueryLanguage", language))
            if found is not None:
                return found[0], found[1] or parent_type == "Map"
    return None


def _state_of(params: dict) -> tuple[dict, str, bool]:
    """(the state's definition, its name, whether it sits in a Map)."""
    text = params.get("definition")
    if not isinstance(text, str) or not text:
        raise _invalid(
            "1 validation error detected: Value null at 'definition' failed to satisfy "
            "constraint: Member must not be null"
        )
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad_definition(f"INVALID_JSON_DESCRIPTION: {exc}") from None
    if not isinstance(definition, dict):
        raise _bad_definition("SCHEMA_VALIDATION_FAILED: the definition must be a JSON object")
    name = params.get("stateName")
    if name is None:
        if "States" in definition:
            raise _invalid("stateName is required when the definition is a whole state machine")
        return definition, "TestState", False
    _check_machine(text)
    found = find_state(definition, name)
    if found is None:
        raise _invalid("State not found in definition")
    return found[0], name, found[1]


def _check_machine(text: str) -> None:
    """A whole machine must be valid as CreateStateMachine would take it."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import (
        AmazonStateLanguageParser,
        ASLParserException,
    )

    try:
        AmazonStateLanguageParser.parse(text)
    except ASLParserException as exc:
        raise _bad_definition(f"SCHEMA_VALIDATION_FAILED: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - moto refuses a definition with any exception
        raise _bad_definition(f"SCHEMA_VALIDATION_FAILED: {exc}") from None


def _resource_needs_mock(state: dict) -> str | None:
    resource = state.get("Resource")
    if state.get("Type") != "Task" or not isinstance(resource, str):
        return None
    if ":activity:" in resource:
        return "Activity tasks"
    for suffix in (".sync", ".sync:2", ".waitForTaskToken"):
        if resource.endswith(suffix):
            return f"{suffix} service integration patterns"
    return None


def _check_mock(params: dict, state: dict, mock: Any) -> tuple[Any, dict | None, str]:
    """(mocked result, mocked error, field validation mode)."""
    kind = state.get("Type")
    if mock is None:
        if kind in ("Map", "Parallel"):
            raise TestStateError("InvalidDefinition", _MAP_OR_PARALLEL)
        needs = _resource_needs_mock(state)
        if needs:
            raise _invalid(f"TestState only supports {needs} when a mock is specified")
        return None, None, "NONE"
    if not isinstance(mock, dict):
        raise _invalid("mock must be an object")
    if kind in _NO_MOCK_TYPES:
        raise _invalid(f"State type '{kind}' is not supported when a mock is specified")
    if params.get("revealSecrets"):
        raise _invalid("TestState does not support RevealSecrets when a mock is specified.")
    if "result" in mock and "errorOutput" in mock:
        raise _invalid(
            "A test mock should have only one of the following fields: [result, errorOutput]."
        )
    mode = mock.get("fieldValidationMode", "STRICT")
    if mode not in _MODES:
        raise _invalid(f"fieldValidationMode must be one of {', '.join(_MODES)}")
    if "errorOutput" in mock:
        error = mock["errorOutput"]
        if not isinstance(error, dict) or not isinstance(error.get("error"), str):
            raise _invalid("mock.errorOutput.error is required when mock.errorOutput is specified")
        return None, {"error": error["error"], "cause": str(error.get("cause", ""))}, mode
    if "result" not in mock:
        raise _invalid(
            "A test mock should have one of the following fields: [result, errorOutput]."
        )
    try:
        result = json.loads(mock["result"])
    except (TypeError, json.JSONDecodeError):
        raise _invalid("Mocked result must be valid JSON") from None
    if kind == "Map":
        if "ResultWriter" in state and not isinstance(result, dict):
            raise _invalid("Mocked result must be a JSON object.")
        if "ResultWriter" not in state and not isinstance(result, list):
            raise _invalid("Mocked result must be an array.")
    if kind == "Parallel":
        branches = len(state.get("Branches", []))
        if not isinstance(result, list) or len(result) != branches:
            raise _invalid(
                f"Mocked result must be an array with one element per branch ({branches})."
            )
    return result, None, mode


def _check_configuration(config: Any, state: dict, mock_error: dict | None) -> dict:
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise _invalid("stateConfiguration must be an object")
    kind = state.get("Type")
    for key in ("retrierRetryCount", "mapIterationFailureCount"):
        value = config.get(key)
        if value is not None and (not isinstance(value, int) or value < 0):
            raise _invalid(f"stateConfiguration.{key} must be a non-negative integer")
    if "mapIterationFailureCount" in config and kind != "Map":
        raise _invalid("mapIterationFailureCount can only be specified when testing a Map state")
    if "mapItemReaderData" in config:
        if kind != "Map" or "ItemReader" not in state:
            raise _invalid(
                "mapItemReaderData can only be specified for a Map state with an ItemReader"
            )
        items = _json(config["mapItemReaderData"], "stateConfiguration.mapItemReaderData")
        if not isinstance(items, list):  # CSV and other sources: not read here
            raise _invalid("stateConfiguration.mapItemReaderData must be a JSON array here")
    caused_by = config.get("errorCausedByState")
    if caused_by is not None:
        if kind not in ("Map", "Parallel") or mock_error is None:
            raise _invalid(
                "errorCausedByState can only be specified when an error is mocked for a Map or "
                "Parallel state"
            )
        if all(find_state(child, caused_by) is None for child, _ in _children(state)):
            raise _invalid(f"errorCausedByState '{caused_by}' is not a state of the tested state")
    return dict(config)


def _check_context(context: Any, mocked: bool) -> dict:
    if context is None:
        return {}
    if not mocked:
        raise _invalid("context can only be specified when a mock is specified")
    if not isinstance(context, dict):
        raise _invalid("Invalid Context object provided: the context must be a JSON object")
    for key, value in context.items():
        if key == "Map":
            raise _invalid(
                "Invalid Context object provided: 'Map' field is not supported when mocking a "
                "Context object"
            )
        if key not in _CONTEXT_KEYS:
            raise _invalid(f"Invalid Context object provided: Field '{key}' is not allowed")
        if not isinstance(value, dict):
            raise _invalid(f"Invalid Context object provided: {key} must be a object")
    return context


def build_request(params: dict, account: str, region: str) -> Any:
    """The checked request, or TestStateError in AWS's shape."""
    from harness.emulator.sfn_teststate_run import Request, parse_state
    from harness.emulator.sfn_teststate_shapes import check_mocked_result

    level = params.get("inspectionLevel") or "INFO"
    if level not in _LEVELS:
        raise _invalid(
            f"1 validation error detected: Value '{level}' at 'inspectionLevel' failed to "
            f"satisfy constraint: Member must satisfy enum value set: [{', '.join(_LEVELS)}]"
        )
    state, name, in_map = _state_of(params)
    try:
        program = parse_state(state, name)
    except Exception as exc:  # noqa: BLE001 - ASLParserException and what moto's visitors raise
        raise _bad_definition(f"SCHEMA_VALIDATION_FAILED: {exc}") from None
    result, error, mode = _check_mock(params, state, params.get("mock"))
    mocked = params.get("mock") is not None
    role_arn = params.get("roleArn")
    if not role_arn:
        if state.get("Type") == "Task" and not mocked:
            raise _invalid("RoleArn must be specified when testing a Task state")
        role_arn = f"arn:aws:iam::{account}:role/TestStateRole"
    if result is not None and mode != "NONE":
        problem = check_mocked_result(program.test_state, result, mode)
        if problem:
            raise _invalid(f"Mock result schema validation error: {problem}")
    payload = _json(params.get("input"), "input", {})
    variables = _json(params.get("variables"), "variables", {})
    if not isinstance(variables, dict):
        raise _invalid("variables must be a JSON object (variable name -> value)")
    context = _check_context(_json(params.get("context"), "context"), mocked)
    if in_map and "Map" not in context:  # AWS fills the first iteration in
        context = {**context, "Map": {"Item": {"Index": 0, "Value": copy.deepcopy(payload)}}}
    return Request(
        state=state,
        name=name,
        input=payload,
        input_text=params.get("input") or "{}",
        role_arn=role_arn,
        account=account,
        region=region,
        level=level,
        variables=variables,
        context=context,
        mock_result=result,
        mock_error=error,
        config=_check_configuration(params.get("stateConfiguration"), state, error),
        mocked=mocked,
        program=program,
    )
