"""Where the emulator must plug into moto (pinned 5.2.5) for our workflow to run right.

- `LambdaFunction._invoke_lambda(self, event) -> (payload, errored, logs)`: moto runs Lambda
  code only through Docker there; we route it to our warm awslambdaric workers instead.
- `LambdaFunction.invoke`: moto flags every function error as "Handled"; AWS answers
  "Unhandled" for errors the runtime reports, so we rewrite the header.
- `LambdaBackend.create_function` / `delete_function`: tell the workers about a new function
  (with LAMBDA_PREWARM its warm workers start while the deploy goes on) and about a deleted
  one (its workers end, instead of outliving it).
- moto's config, set through its documented `POST /moto-api/config` (in-process, before the
  server answers anyone): state machines execute only with `stepfunctions.
  execute_state_machine`, and Lambda reaches `_invoke_lambda` only with `lambda.use_docker`.

What only makes the emulator fast is in moto_speedups.py. `check_hooks()` checks both, and
the moto internals the rest of the emulator reads (sfn_lambda.py, logs.py, code.py,
sandbox.py, workers.py, server.py), and names what a moto upgrade moved;
tests/emulator/test_emulator_moto_hooks.py calls it.
"""

from __future__ import annotations

import copy
import inspect
import threading
from collections.abc import Callable
from typing import Any

from harness.errors import HarnessError

MOTO_VERSION = "5.2.5"
_UPGRADE_HINT = (
    f"the embedded emulator was written against moto {MOTO_VERSION}; pin that version in "
    "pyproject.toml or adapt harness/emulator/moto_hooks.py (and moto_speedups.py)"
)
_CONFIG_SECTIONS = ("stepfunctions", "lambda")

# Called as invoke_hook(function, event) -> (payload str, errored bool, logs str)
InvokeHook = Callable[[Any, Any], "tuple[str, bool, str]"]

_installed: dict[str, Any] = {}
_lock = threading.Lock()


def check_hooks() -> None:
    """Raise HarnessError if moto no longer has what this emulator relies on."""
    from harness.emulator import moto_speedups, sfn_jsonata

    raise_if(_lambda_problems() + _internals_problems() + moto_speedups.problems())
    raise_if(sfn_jsonata.problems())  # JSONata and variables (sfn_jsonata.py)
    from harness.emulator import sfn_mocks

    raise_if(sfn_mocks.problems())  # mocked test cases, `#TestCase` (sfn_mocks.py)
    from harness.emulator import sfn_fixes

    raise_if(sfn_fixes.problems())  # where moto answered otherwise than AWS (sfn_fixes.py)
    from harness.emulator import sfn_history

    raise_if(sfn_history.problems())  # GetExecutionHistory's paging (sfn_history.py)
    from harness.emulator import sfn_teststate

    raise_if(sfn_teststate.problems())  # the TestState API (sfn_teststate.py)
    from harness.emulator import persistence_bodies

    raise_if(persistence_bodies.problems())  # S3 bodies read from the persisted files
    from harness.emulator import sfn_ended

    raise_if(sfn_ended.problems())  # execution ends: waits, what moto keeps (sfn_ended.py)
    from harness.emulator import logs

    raise_if(logs.problems())  # log retention (logs.py)
    from harness.emulator import moto_trackers

    raise_if(moto_trackers.problems())  # the model trackers kept empty (moto_trackers.py)


def raise_if(problems: list[str]) -> None:
    if problems:
        raise HarnessError("moto changed under the emulator: " + "; ".join(problems), _UPGRADE_HINT)


def _params(function: Any) -> list[str] | None:
    return None if function is None else list(inspect.signature(function).parameters)


def _lambda_problems() -> list[str]:
    from moto.awslambda.models import LambdaBackend, LambdaFunction
    from moto.core.config import default_user_config

    def original(owner, name):
        return _installed.get(name) or getattr(owner, name, None)

    problems = []
    if _params(original(LambdaBackend, "create_function")) != ["self", "spec"]:
        problems.append("LambdaBackend.create_function(self, spec) changed")
    if _params(original(LambdaBackend, "delete_function")) != [
        "self",
        "function_name",
        "qualifier",
    ]:
        problems.append("LambdaBackend.delete_function(self, function_name, qualifier) changed")
    params = _params(original(LambdaFunction, "_invoke_lambda"))
    if params is None:
        problems.append("moto.awslambda.models.LambdaFunction._invoke_lambda is gone")
    elif params[:2] != ["self", "event"]:
        problems.append(f"LambdaFunction._invoke_lambda takes {params}, expected (self, event)")
    if (_params(original(LambdaFunction, "invoke")) or [])[:4] != [
        "self",
        "body",
        "request_headers",
        "response_headers",
    ]:
        problems.append(
            "LambdaFunction.invoke(self, body, request_headers, response_headers) changed"
        )
    if "execute_state_machine" not in default_user_config.get("stepfunctions", {}):
        problems.append("moto's config has no stepfunctions.execute_state_machine key")
    if "use_docker" not in default_user_config.get("lambda", {}):
        problems.append("moto's config has no lambda.use_docker key")
    return problems


# What the workers read of a function (code.py, sandbox.py, workers.py, logs.py)
_FUNCTION_ATTRIBUTES = (
    *("account_id", "region", "function_name", "function_arn", "version", "handler", "run_time"),
    *("timeout", "memory_size", "environment_vars", "tags", "code_sha_256", "code_bytes"),
    *("logs_group_name", "logs_backend"),
)
_LOGS_METHODS = {
    "ensure_log_group": ["self", "log_group_name"],
    "create_log_stream": ["self", "log_group_name", "log_stream_name"],
    "put_log_events": ["self", "log_group_name", "log_stream_name", "log_events"],
}


def _internals_problems() -> list[str]:
    """moto's internals read outside the hooks: a function's fields, its logs backend, the
    backend call sfn_lambda.py makes, and the server pieces server.py builds on."""
    import base64

    from moto import core
    from moto.awslambda import models as awslambda
    from moto.core import exceptions
    from moto.moto_server import werkzeug_app

    problems = []
    empty_zip = base64.b64encode(b"PK\x05\x06" + b"\x00" * 18).decode()
    spec = {
        "FunctionName": "harness-hook-check",
        "Runtime": "python3.12",
        "Role": "arn:aws:iam::123456789012:role/harness-hook-check",
        "Handler": "handler.handler",
        "Code": {"ZipFile": empty_zip},
    }
    try:
        function = awslambda.LambdaFunction("123456789012", spec, "us-east-1")
    except Exception as exc:  # noqa: BLE001 - any failure means the constructor moved
        problems.append(f"LambdaFunction(account_id, spec, region) failed: {exc!r}")
    else:
        missing = [name for name in _FUNCTION_ATTRIBUTES if not hasattr(function, name)]
        if missing:
            problems.append(f"LambdaFunction lost {', '.join(missing)}")
        for name, params in _LOGS_METHODS.items():
            if _params(getattr(getattr(function, "logs_backend", None), name, None)) != params[1:]:
                problems.append(f"LogsBackend.{name}({', '.join(params)}) changed")
    if _params(getattr(awslambda.LambdaBackend, "invoke", None)) != [
        "self",
        "function_name",
        "qualifier",
        "body",
        "headers",
        "response_headers",
    ]:
        problems.append("LambdaBackend.invoke(self, function_name, qualifier, body, ...) changed")
    if not hasattr(awslambda, "lambda_backends") or not hasattr(core, "DEFAULT_ACCOUNT_ID"):
        problems.append("moto.awslambda.models.lambda_backends or core.DEFAULT_ACCOUNT_ID moved")
    if not all(hasattr(exceptions, name) for name in ("JsonRESTError", "ServiceException")):
        problems.append("moto.core.exceptions.JsonRESTError or ServiceException moved")
    if not all(
        hasattr(werkzeug_app, name)
        for name in ("DomainDispatcherApplication", "MotoRequestHandler", "create_backend_app")
    ):
        problems.append("moto.moto_server.werkzeug_app lost the pieces ThreadedMotoServer uses")
    return problems


def install(
    app: Any,
    invoke_hook: InvokeHook,
    created_hook: Callable | None = None,
    deleted_hook: Callable | None = None,
    stepfunctions: bool = True,
) -> None:
    """Patch moto's Lambda and set its config through `app` (moto's WSGI dispatcher).

    created_hook(function) is called after CreateFunction, deleted_hook(account, region,
    name, qualifier) after DeleteFunction, if given. stepfunctions=False leaves the Step
    Functions hooks to a later install_stepfunctions() (they import moto's interpreter, ~0.15 s;
    the server does that in the background while it answers the other services)."""
    raise_if(_lambda_problems())
    from moto.awslambda.models import LambdaBackend, LambdaFunction

    with _lock:
        if "_invoke_lambda" not in _installed:
            _installed["_invoke_lambda"] = LambdaFunction._invoke_lambda
            _installed["invoke"] = LambdaFunction.invoke
            _installed["create_function"] = LambdaBackend.create_function
            _installed["delete_function"] = LambdaBackend.delete_function
        original_invoke = _installed["invoke"]
        original_create = _installed["create_function"]
        original_delete = _installed["delete_function"]

        def create_function(self, spec):
            function = original_create(self, spec)
            if created_hook is not None:
                created_hook(function)
            return function

        def delete_function(self, function_name, qualifier=None):
            original_delete(self, function_name, qualifier)
            if deleted_hook is not None:
                name = (
                    function_name.split(":")[6]
                    if function_name.startswith("arn:")
                    else function_name
                )
                deleted_hook(self.account_id, self.region_name, name, qualifier)

        def _invoke_lambda(self, event=None):
            return invoke_hook(self, event)

        def invoke(self, body, request_headers, response_headers):
            result = original_invoke(self, body, request_headers, response_headers)
            if response_headers.get("x-amz-function-error") == "Handled":
                response_headers["x-amz-function-error"] = "Unhandled"
            return result

        LambdaFunction._invoke_lambda = _invoke_lambda
        LambdaFunction.invoke = invoke
        LambdaBackend.create_function = create_function
        LambdaBackend.delete_function = delete_function
    _configure(app)
    if stepfunctions:
        install_stepfunctions()


def install_stepfunctions() -> None:
    """The Step Functions engine's hooks (idempotent)."""
    from harness.emulator import sfn_jsonata

    sfn_jsonata.install()  # JSONata and variables in the Step Functions engine
    from harness.emulator import sfn_mocks

    sfn_mocks.install()  # Step Functions Local mock files, `<arn>#<TestCase>`
    from harness.emulator import sfn_fixes

    sfn_fixes.install()  # AWS's answers where moto's differ (tests/conformance/)
    from harness.emulator import sfn_history

    sfn_history.install()  # GetExecutionHistory's reverseOrder, maxResults and nextToken
    from harness.emulator import sfn_teststate

    sfn_teststate.install()  # the TestState API, `sfn.test_state`
    from harness.emulator import sfn_ended

    sfn_ended.install()  # wake WAIT_EXECUTION_PATH's waiters when an execution ends


def _configure(app: Any) -> None:
    from moto.core.config import default_user_config

    with _lock:
        if "config" not in _installed:  # what uninstall() puts back
            saved = {
                key: copy.deepcopy(default_user_config.get(key, {})) for key in _CONFIG_SECTIONS
            }
            _installed["config"] = (app, saved)
        saved = _installed["config"][1]
    _post_config(
        app,
        {
            "stepfunctions": {**saved["stepfunctions"], "execute_state_machine": True},
            "lambda": {**saved["lambda"], "use_docker": True},  # the path _invoke_lambda serves
        },
    )
    if default_user_config.get("stepfunctions", {}).get("execute_state_machine") is not True:
        raise_if(["POST /moto-api/config no longer sets stepfunctions.execute_state_machine"])


def _post_config(app: Any, config: dict) -> None:
    from werkzeug.test import Client

    response = Client(app).post("/moto-api/config", json=config)
    if response.status_code >= 300:
        raise_if([f"POST /moto-api/config answered {response.status}: {response.get_data()!r}"])


def uninstall() -> None:
    from moto.awslambda.models import LambdaBackend, LambdaFunction

    from harness.emulator import sfn_jsonata

    sfn_jsonata.uninstall()
    from harness.emulator import sfn_mocks

    sfn_mocks.uninstall()
    from harness.emulator import sfn_fixes

    sfn_fixes.uninstall()
    from harness.emulator import sfn_history

    sfn_history.uninstall()
    from harness.emulator import sfn_teststate

    sfn_teststate.uninstall()
    from harness.emulator import sfn_ended

    sfn_ended.uninstall()

    with _lock:
        config = _installed.pop("config", None)
        if "_invoke_lambda" in _installed:
            LambdaFunction._invoke_lambda = _installed.pop("_invoke_lambda")
            LambdaFunction.invoke = _installed.pop("invoke")
            LambdaBackend.create_function = _installed.pop("create_function")
            LambdaBackend.delete_function = _installed.pop("delete_function")
    if config is not None:
        app, saved = config
        _post_config(app, saved)
