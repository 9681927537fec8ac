"""A mocked Task result checked against its service API's output shape (`fieldValidationMode`).

AWS: STRICT (the default) "enforces field naming, size, shape, and data type constraints from
AWS API models. All required fields must be present with correct types"; PRESENT checks only
the fields present; NONE nothing. "Validation is performed only on fields defined in the AWS
service API model. Any fields not specified in the API model are ignored during validation,
regardless of the validation mode", and there is none for HTTP Task, API Gateway and EKS.

The shape is botocore's (the installed version: the same models AWS's SDKs are generated
from), found as moto's engine finds the API it would call (`_get_boto_service_name`,
`_get_boto_service_action`); keys are matched in Step Functions' casing (`_to_sfn_cased`:
aws-sdk results are PascalCase). A `.sync` Task's result is its polling API's answer on AWS;
we do not know which one, so it is not checked. Neither is a Lambda ARN as `Resource`, whose
result is the function's own payload.
"""

from __future__ import annotations

import functools
from typing import Any

_UNCHECKED_SERVICES = ("http", "apigateway", "eks")


@functools.lru_cache(maxsize=256)
def _output_shape(service: str, action: str) -> Any:
    import botocore.session
    from botocore import xform_name
    from botocore.exceptions import UnknownServiceError

    try:
        model = botocore.session.get_session().get_service_model(service)
    except UnknownServiceError:
        return None
    wanted = xform_name(action)
    for operation in model.operation_names:
        if xform_name(operation) == wanted:
            return model.operation_model(operation).output_shape
    return None


def output_shape_for(state: Any) -> Any:
    """The botocore output shape of the API a service Task calls, None when unknown."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    if not isinstance(state, StateTaskService):
        return None
    resource = state.resource
    if resource.api_name in _UNCHECKED_SERVICES or getattr(resource, "condition", None):
        return None
    return _output_shape(state._get_boto_service_name(), state._get_boto_service_action())


def check_mocked_result(state: Any, result: Any, mode: str) -> str | None:
    """None if `result` fits, else what is wrong (AWS's wording where known)."""
    shape = output_shape_for(state)
    if shape is None:
        return None
    return _check(result, shape, None, strict=mode == "STRICT")


def _kind_error(field: str | None, expected: str) -> str:
    return f"Field '{field}' must be {expected}" if field else f"The result must be {expected}"


def _check(value: Any, shape: Any, field: str | None, strict: bool) -> str | None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    kind = shape.type_name
    if kind == "document":
        return None
    if kind == "structure":
        if not isinstance(value, dict):
            return _kind_error(field, "an object")
        members = {StateTaskService._to_sfn_cased(k): v for k, v in shape.members.items()}
        if strict:
            for required in shape.required_members:
                key = StateTaskService._to_sfn_cased(required)
                if key not in value:
                    return f"Required field '{key}' is missing"
        for key, item in value.items():
            member = members.get(key)
            if member is not None:  # unknown fields are ignored (AWS)
                problem = _check(item, member, key, strict)
                if problem:
                    return problem
        return None
    if kind == "list":
        if not isinstance(value, list):
            return _kind_error(field, "an array")
        return next((p for p in (_check(i, shape.member, field, strict) for i in value) if p), None)
    if kind == "map":
        if not isinstance(value, dict):
            return _kind_error(field, "an object")
        return next(
            (p for p in (_check(i, shape.value, field, strict) for i in value.values()) if p),
            None,
        )
    return _check_scalar(value, shape, field)


def _check_scalar(value: Any, shape: Any, field: str | None) -> str | None:
    kind = shape.type_name
    if kind in ("string", "timestamp"):
        if kind == "timestamp" and isinstance(value, int | float) and not isinstance(value, bool):
            return None  # epoch seconds
        if not isinstance(value, str):
            return _kind_error(field, "a string")
        enum = shape.enum if kind == "string" else None
        if enum and value not in enum:
            return f"Field '{field}' is not an expected value"
        return None
    if kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return _kind_error(field, "a number")
        return None
    if kind in ("float", "double"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            return _kind_error(field, "a number")
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else _kind_error(field, "a boolean")
    return None  # blob: Step Functions hands a JSON value (a Lambda Payload) or a string
