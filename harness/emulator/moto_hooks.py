"""The few places where we plug into moto (pinned 5.2.5), all in one module.

- `LambdaFunction._invoke_lambda(self, event) -> (payload, errored, logs)`: moto runs Lambda
  code only through Docker there; we route it to our warm awslambdaric workers instead.
- `LambdaBackend.create_function` / `delete_function`: tell us about a new function, so that
  its warm workers start while the deploy goes on (what a first invoke would otherwise wait
  for), and about a deleted one, so that its workers end.
- `LambdaFunction.invoke`: moto flags every function error as "Handled"; AWS answers
  "Unhandled" for errors the runtime reports, so we rewrite the header.
- `stepfunctions.execute_state_machine`: moto executes state machines only when set.
- `asl.utils.boto_client.boto_client_for`: the Step Functions interpreter builds a new boto3
  client against `http://localhost:$MOTO_PORT` for every Task; we hand it one cached client
  per (region, service) aimed at our own host and port (client creation costs ~10 ms a Task);
  its Lambda `invoke` calls moto's backend in-process (sfn_lambda.py).
- `AmazonStateLanguageParser.parse`: every execution re-parses its definition with ANTLR
  (~12 ms for three Tasks); we keep the parse tree per definition and only rebuild the
  program from it (~1.5 ms), so executions still get fresh evaluation components.
- `parse` in asl.utils.json_path and asl.component.common.path.result_path: jsonpath_ng
  builds a new ply parser (reading its LR tables) for every path it evaluates, i.e. for
  every InputPath/OutputPath/ResultPath of every state; we cache the parsed expressions.
- `moto.batch`: the interpreter needs only `moto.batch.utils.JobStatus`, but the package's
  __init__ loads the Batch and EC2 models (~2 s of CPU at every start); we import the utils
  module alone. A later `import moto.batch` still loads the real package.
- `DomainDispatcherApplication.get_backend_for_host`: lists moto's package folder on disk
  for every request (under a global lock); `dispatcher_app()` remembers the answer per host.

`check_hooks()` fails loudly with a clear message when a moto upgrade moves any of them;
tests/emulator/test_emulator_moto_hooks.py calls it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import json
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

from harness.emulator.sfn_lambda import InProcessLambdaClient
from harness.errors import HarnessError

MOTO_VERSION = "5.2.5"
_UPGRADE_HINT = (
    f"the embedded emulator was written against moto {MOTO_VERSION}; "
    "pin that version in pyproject.toml or adapt harness/emulator/moto_hooks.py"
)

# Called as invoke_hook(function, event) -> (payload str, errored bool, logs str)
InvokeHook = Callable[[Any, Any], "tuple[str, bool, str]"]

_installed: dict[str, Any] = {}
_lock = threading.Lock()


def check_hooks() -> None:
    """Raise HarnessError if moto no longer has the hooks this emulator relies on."""
    _raise_if(_lambda_problems() + _stepfunctions_problems())


def _raise_if(problems: list[str]) -> None:
    if problems:
        raise HarnessError("moto changed under the emulator: " + "; ".join(problems), _UPGRADE_HINT)


def _lambda_problems() -> list[str]:
    from moto.awslambda.models import LambdaBackend, LambdaFunction
    from moto.core.config import default_user_config
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler

    problems = []
    create = _installed.get("create_function") or getattr(LambdaBackend, "create_function", None)
    if create is None or list(inspect.signature(create).parameters) != ["self", "spec"]:
        problems.append("LambdaBackend.create_function(self, spec) changed")
    delete = _installed.get("delete_function") or getattr(LambdaBackend, "delete_function", None)
    if delete is None or list(inspect.signature(delete).parameters) != [
        "self",
        "function_name",
        "qualifier",
    ]:
        problems.append("LambdaBackend.delete_function(self, function_name, qualifier) changed")
    hook = _installed.get("_invoke_lambda") or getattr(LambdaFunction, "_invoke_lambda", None)
    if hook is None:
        problems.append("moto.awslambda.models.LambdaFunction._invoke_lambda is gone")
    else:
        params = list(inspect.signature(hook).parameters)
        if params[:2] != ["self", "event"]:
            problems.append(f"LambdaFunction._invoke_lambda takes {params}, expected (self, event)")
    invoke = _installed.get("invoke") or getattr(LambdaFunction, "invoke", None)
    if invoke is None or list(inspect.signature(invoke).parameters)[:4] != [
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
    if not hasattr(DomainDispatcherApplication, "get_backend_for_host"):
        problems.append("DomainDispatcherApplication.get_backend_for_host is gone")
    if not hasattr(MotoRequestHandler, "disable_nagle_algorithm"):
        problems.append(
            "moto's MotoRequestHandler is no longer a socketserver StreamRequestHandler"
        )
    return problems


def _stepfunctions_problems() -> list[str]:
    _import_batch_utils_alone()
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.parse import asl_parser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
    from moto.stepfunctions.parser.asl.utils import boto_client

    problems = []
    parse = _installed.get("parse") or asl_parser.AmazonStateLanguageParser.parse
    if (
        list(inspect.signature(parse).parameters) != ["definition"]
        or not all(
            hasattr(asl_parser, name) for name in ("ASLLexer", "ASLParser", "SyntaxErrorListener")
        )
        or not hasattr(Preprocessor, "visit")
    ):
        problems.append("AmazonStateLanguageParser.parse(definition) or its ANTLR pieces changed")
    for module in _json_path_modules():
        if not callable(getattr(module, "parse", None)):
            problems.append(f"{module.__name__}.parse (jsonpath_ng) is gone")
    for module in (boto_client, lambda_eval_utils):
        if not hasattr(module, "boto_client_for"):
            problems.append(f"{module.__name__}.boto_client_for is gone")
    return problems


def install_lambda(
    invoke_hook: InvokeHook,
    created_hook: Callable | None = None,
    deleted_hook: Callable | None = None,
) -> None:
    """The Lambda hooks and moto's config: cheap, done before the server answers.

    created_hook(function) is called after CreateFunction, deleted_hook(account, region,
    name, qualifier) after DeleteFunction, if given."""
    _raise_if(_lambda_problems())
    from moto.awslambda.models import LambdaBackend, LambdaFunction
    from moto.core.config import default_user_config
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    with _lock:
        if "config" not in _installed:  # what uninstall() puts back
            _installed["config"] = {
                key: dict(default_user_config.get(key, {})) for key in ("stepfunctions", "lambda")
            }
        default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
        default_user_config.setdefault("lambda", {})["use_docker"] = True  # the real path
        # headers and body go out in two sends: without TCP_NODELAY the body can wait for
        # the client's delayed ACK of the headers (~40 ms).
        MotoRequestHandler.disable_nagle_algorithm = True

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


def install_stepfunctions(endpoint_url: str) -> None:
    """The interpreter's fast paths. Importing moto's interpreter takes seconds (it pulls in
    moto.batch and moto.ec2), so the server may run this in the background while it already
    serves the other APIs."""
    _raise_if(_stepfunctions_problems())
    with _lock:
        _patch_sfn_clients(endpoint_url)
        _cache_asl_parse_trees()
        _cache_json_paths()


def uninstall() -> None:
    from moto.awslambda.models import LambdaFunction
    from moto.core.config import default_user_config

    with _lock:
        for key, value in _installed.pop("config", {}).items():
            default_user_config[key] = value
        if "_invoke_lambda" in _installed:
            from moto.awslambda.models import LambdaBackend

            LambdaFunction._invoke_lambda = _installed.pop("_invoke_lambda")
            LambdaFunction.invoke = _installed.pop("invoke")
            LambdaBackend.create_function = _installed.pop("create_function")
            LambdaBackend.delete_function = _installed.pop("delete_function")
        if "parse" in _installed:
            from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

            AmazonStateLanguageParser.parse = staticmethod(_installed.pop("parse"))
        for module, original_parse in _installed.pop("json_path_parse", []):
            module.parse = original_parse
        original = _installed.pop("boto_client_for", None)
        if original is not None:
            _replace_everywhere(_installed.pop("boto_client_for_patched"), original)


def _patch_sfn_clients(endpoint_url: str) -> None:
    import boto3
    from botocore.config import Config

    # import the modules that bound the name at import time, so all are patched below
    from moto.stepfunctions.parser import models  # noqa: F401
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import (  # noqa: F401
        lambda_eval_utils,
    )
    from moto.stepfunctions.parser.asl.utils import boto_client

    from harness.clients import LOCAL_CREDENTIALS

    original = _installed.get("boto_client_for", boto_client.boto_client_for)
    cache: dict[tuple[str, str], Any] = {}
    cache_lock = threading.Lock()
    config = Config(
        parameter_validation=False,
        retries={"max_attempts": 0, "total_max_attempts": 1},
        connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
        read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
        max_pool_connections=64,
    )

    def boto_client_for(region: str, service: str, state_credentials: Any = None):
        key = (region, service)
        client = cache.get(key)
        if client is None:
            with cache_lock:
                client = cache.get(key)
                if client is None:
                    client = boto3.session.Session().client(
                        service,
                        region_name=region,
                        endpoint_url=endpoint_url,
                        **LOCAL_CREDENTIALS,
                        config=config,
                    )
                    if service == "lambda":
                        client = InProcessLambdaClient(client, region)
                    cache[key] = client
        return client

    previous = _installed.get("boto_client_for_patched", original)
    _installed["boto_client_for"] = original
    _installed["boto_client_for_patched"] = boto_client_for
    _replace_everywhere(previous, boto_client_for)


def _replace_everywhere(old: Any, new: Any) -> None:
    """Rebind `boto_client_for` in every moto SFN module that imported it by name."""
    for name, module in list(sys.modules.items()):
        if (
            name.startswith("moto.stepfunctions")
            and getattr(module, "boto_client_for", None) is old
        ):
            module.boto_client_for = new


def _cache_asl_parse_trees(size: int = 64) -> None:
    from antlr4 import CommonTokenStream, InputStream
    from moto.stepfunctions.parser.asl.parse import asl_parser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    parser_class = asl_parser.AmazonStateLanguageParser
    if "parse" in _installed:
        return
    _installed["parse"] = parser_class.parse

    @functools.lru_cache(maxsize=size)
    def parse_tree(definition: str):
        listener = asl_parser.SyntaxErrorListener()
        parser = asl_parser.ASLParser(
            CommonTokenStream(asl_parser.ASLLexer(InputStream(definition)))
        )
        parser.removeErrorListeners()
        parser.addErrorListener(listener)
        tree = parser.state_machine()
        if listener.errors:
            raise asl_parser.ASLParserException(errors=listener.errors)  # not cached: it raises
        return tree

    def parse(definition: str):
        tree = parse_tree(definition)
        return Preprocessor().visit(tree), tree

    parser_class.parse = staticmethod(parse)


def dispatcher_app():
    """moto's WSGI dispatcher, remembering which backend serves which host."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class CachedDispatcher(DomainDispatcherApplication):
        def __init__(self, create_app):
            super().__init__(create_app)
            self._backend_by_host: dict = {}

        def get_backend_for_host(self, host):  # called under the dispatcher's lock
            if host not in self._backend_by_host:
                self._backend_by_host[host] = super().get_backend_for_host(host)
            return self._backend_by_host[host]

    return CachedDispatcher(create_backend_app)


def _json_path_modules() -> list:
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    return [json_path, result_path]


def _cache_json_paths(size: int = 512) -> None:
    if "json_path_parse" in _installed:
        return
    saved = []
    for module in _json_path_modules():
        saved.append((module, module.parse))
        module.parse = functools.lru_cache(maxsize=size)(module.parse)  # expressions are stateless
    _installed["json_path_parse"] = saved


_WARM_UP_DEFINITION = json.dumps(
    {
        "StartAt": "Task",
        "States": {
            "Task": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "warm-up", "Payload.$": "$"},
                "ResultPath": "$.result",
                "OutputPath": "$.Payload",
                "End": True,
                "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Task"}],
            }
        },
    }
)


def warm_up(region: str) -> None:
    """Pay the interpreter's first-use costs now (ANTLR, ply tables, the Lambda client),
    not in the first execution the user is waiting for."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils import boto_client

    AmazonStateLanguageParser.parse(_WARM_UP_DEFINITION)
    for module in _json_path_modules():
        module.parse("$.Payload")
    boto_client.boto_client_for(region=region, service="lambda")


def _import_batch_utils_alone() -> None:
    if "moto.batch.utils" in sys.modules or "moto.batch" in sys.modules:
        return
    spec = importlib.util.find_spec("moto.batch")
    if spec is None or not spec.submodule_search_locations:
        return
    placeholder = types.ModuleType("moto.batch")  # a package without its __init__ run
    placeholder.__path__ = list(spec.submodule_search_locations)
    placeholder.__spec__ = spec
    sys.modules["moto.batch"] = placeholder
    try:
        importlib.import_module("moto.batch.utils")
    except ImportError:  # moto moved it: the interpreter's own import will load the package
        pass
    finally:
        del sys.modules["moto.batch"]
