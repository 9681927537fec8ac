"""The three Lambda functions and the state machine: create, update in place, or leave alone."""

from __future__ import annotations

import time
from collections.abc import Callable

from botocore.exceptions import ClientError

from harness.clients import find_state_machine, not_found
from harness.deploy.base import CREATE, Run
from harness.deploy.workflow import (
    HANDLER,
    RUNTIME,
    FunctionSpec,
    build_zip,
    code_sha256,
    same_definition,
)

# A role created seconds ago may not be assumable yet (IAM is eventually consistent).
_ROLE_RETRY_SECONDS = 90


def call_with_new_role(call: Callable, **kwargs):
    """Retry a create call while AWS still says the new role cannot be assumed."""
    deadline = time.monotonic() + _ROLE_RETRY_SECONDS
    while True:
        try:
            return call(**kwargs)
        except ClientError as exc:
            error = exc.response["Error"]
            retryable = error["Code"] in (
                "InvalidParameterValueException",
                "ValidationException",
            ) and (
                "role" in error.get("Message", "").lower()
                or "assume" in error.get("Message", "").lower()
            )
            if not retryable or time.monotonic() > deadline:
                raise
            time.sleep(3)


def _config(run: Run, spec: FunctionSpec, role_arn: str) -> dict:
    env = {
        "ENDPOINT_NAME": run.settings.endpoint_name,
        "THRESHOLD": str(run.settings.threshold),
        **run.target.function_environment(),
    }
    return {
        "Role": role_arn,
        "Handler": HANDLER,
        "Runtime": RUNTIME,
        "Timeout": spec.timeout,
        "MemorySize": spec.memory,
        "Description": spec.description,
        "Environment": {"Variables": env},
    }


def _config_diffs(current: dict, desired: dict) -> list[str]:
    diffs = [
        k
        for k in ("Role", "Handler", "Runtime", "Timeout", "MemorySize", "Description")
        if current.get(k) != desired[k]
    ]
    if current.get("Environment", {}).get("Variables", {}) != desired["Environment"]["Variables"]:
        diffs.append("Environment")
    return diffs


def ensure_function(run: Run, spec: FunctionSpec, role_arn: str) -> str:
    lam = run.client("lambda")
    name = run.settings.function_name(spec.folder)
    arn = run.arn("lambda", f"function:{name}")
    code = build_zip(spec.folder, run.settings.lambdas_dir)
    desired = _config(run, spec, role_arn)
    tags = run.tags(run.target.function_tags(spec.folder))
    try:
        current = lam.get_function(FunctionName=name)
    except ClientError as exc:
        if not not_found(exc):
            raise
        run.record(
            CREATE, "lambda function", name, f"{RUNTIME}, {spec.memory} MB, {spec.timeout} s"
        )
        if run.apply:
            call_with_new_role(
                lam.create_function, FunctionName=name, Code={"ZipFile": code}, Tags=tags, **desired
            )
        return arn
    config = current["Configuration"]
    diffs = []
    if config.get("CodeSha256") != code_sha256(code):
        diffs.append("code")
    config_diffs = _config_diffs(config, desired)
    diffs += config_diffs
    tags_differ = {k: v for k, v in (current.get("Tags") or {}).items() if k in tags} != tags
    if tags_differ:
        diffs.append("tags")
    if run.record_diffs("lambda function", name, diffs):
        waiter = lam.get_waiter("function_updated_v2")
        if "code" in diffs:
            lam.update_function_code(FunctionName=name, ZipFile=code)
            waiter.wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        if config_diffs:
            call_with_new_role(lam.update_function_configuration, FunctionName=name, **desired)
            waiter.wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        if tags_differ:
            lam.tag_resource(Resource=config["FunctionArn"], Tags=tags)
    return config["FunctionArn"]


def ensure_state_machine(run: Run, definition: str, role_arn: str) -> str:
    sfn, name = run.client("stepfunctions"), run.settings.state_machine_name
    arn = find_state_machine(sfn, name)
    if arn is None:
        run.record(CREATE, "state machine", name)
        if run.apply:
            arn = sfn.create_state_machine(
                name=name,
                definition=definition,
                roleArn=role_arn,
                type="STANDARD",
                tags=run.tag_list("key", "value"),
            )["stateMachineArn"]
        return arn or run.arn("states", f"stateMachine:{name}")
    current = sfn.describe_state_machine(stateMachineArn=arn)
    diffs = [
        label
        for label, same in (
            ("definition", same_definition(current["definition"], definition)),
            ("role", current["roleArn"] == role_arn),
        )
        if not same
    ]
    if run.record_diffs("state machine", name, diffs):
        sfn.update_state_machine(stateMachineArn=arn, definition=definition, roleArn=role_arn)
    return arn
