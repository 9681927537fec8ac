"""What only makes the emulator fast. HARNESS_EMULATOR_SPEEDUPS=false leaves all of it out:
moto then runs on its own paths, slower, with the same results (CI runs the emulator's tests
both ways, so the two cannot drift apart).

- `asl.utils.boto_client.boto_client_for`, rebound in every moto SFN module that imported it by
  name: the interpreter builds a new boto3 client against `http://localhost:$MOTO_PORT` for
  every Task (~10 ms); we hand it one cached client per (region, service) aimed at our own host
  and port, whose Lambda `invoke` calls moto's backend in-process (sfn_lambda.py).
- `AmazonStateLanguageParser.parse`: every execution re-parses its definition with ANTLR
  (~12 ms for three Tasks); we keep the parse tree per definition, and the program built
  from it where its executions can share it (sfn_programs.py). The cached trees' node texts
  are stored once (ANTLR's getText re-joins whole subtrees on every call).
- `ExecutionState._evaluate_with_timeout`: a state without TimeoutSeconds runs on its
  execution's thread instead of a new one (sfn_inline_tasks.py).
- `parse` in asl.utils.json_path and asl.component.common.path.result_path: jsonpath_ng
  builds a new ply parser (reading its LR tables) for every path it evaluates, i.e. for
  every InputPath/OutputPath/ResultPath of every state; we cache the parsed expressions.
- `moto.batch`: the interpreter needs only its utils module; moto_batch.py imports it alone.
- `moto.core.utils._load_service_model`: one botocore loader for every service's model, moto's
  region lists and our clients' endpoints data (moto_models.py), instead of a new one that
  lists botocore's data folder each time and parses the same files again.
- `DomainDispatcherApplication.get_backend_for_host` lists moto's package folder on disk for
  every request (under a global lock): a subclass remembers the answer per host. Its Flask
  apps run with debug off (moto turns it on; its per-request helpers cost ~1.5 % CPU).
- the request handler (http_server.py): HTTP/1.1 keep-alive, where werkzeug closes every
  connection, and TCP_NODELAY (headers and body go out in two sends; without it the body can
  wait for the client's delayed ACK, ~40 ms). A subclass: moto's own class stays as it is.
- `gc.freeze` once warm (heap.py): full collections no longer walk the imported heap.
- `EvalComponent._log_failure_event_exception` / `_log_exception`: for every failed state
  moto logs, at ERROR and at every level of the program it unwinds through, the repr of the
  whole parsed state (~4 KB, built even when nobody reads it): a third of the emulator's CPU
  on an execution the filter fails, and megabytes of log a minute under load. The failure is
  in the execution's history; we log one short line at DEBUG instead.
- warm-up: the interpreter pays ANTLR, ply and client costs on its first execution; we pay
  them at start, in the background. (Warming each AWS service with a call of its own, too,
  made `up` ~0.5 s slower: the deploy that follows at once touches them all anyway, and the
  warm-up's clients competed with it for the emulator's CPU.)

Correctness hooks (what moto must have patched to run our workflow at all) are in moto_hooks.py,
whose `check_hooks()` checks these too.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import json
import sys
import threading
from typing import Any

from harness.emulator import moto_batch, moto_models, sfn_inline_tasks, sfn_programs
from harness.emulator.sfn_lambda import InProcessLambdaClient

_installed: dict[str, Any] = {}
_lock = threading.Lock()


def problems() -> list[str]:
    """What moto moved under the speed-ups (empty: nothing)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler

    found = moto_batch.problems()  # first: it keeps the imports below from loading moto.batch
    found += moto_models.problems() + sfn_inline_tasks.problems()
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.parse import asl_parser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
    from moto.stepfunctions.parser.asl.utils import boto_client

    parser_class = getattr(asl_parser, "AmazonStateLanguageParser", None)
    parse = _installed.get("parse") or getattr(parser_class, "parse", None)
    if (
        _params(parse) != ["definition"]
        or not all(
            hasattr(asl_parser, name)
            for name in ("ASLLexer", "ASLParser", "SyntaxErrorListener", "ASLParserException")
        )
        or not hasattr(Preprocessor, "visit")
    ):
        found.append("AmazonStateLanguageParser.parse(definition) or its ANTLR pieces changed")
    for module in _json_path_modules():
        if not callable(getattr(module, "parse", None)):
            found.append(f"{module.__name__}.parse (jsonpath_ng) is gone")
    original = _installed.get("boto_client_for") or getattr(boto_client, "boto_client_for", None)
    if _params(original) != [
        "region",
        "service",
        "state_credentials",
    ]:
        found.append("boto_client.boto_client_for(region, service, state_credentials) changed")
    if importlib.util.find_spec("moto.stepfunctions.parser.models") is None:
        found.append("moto.stepfunctions.parser.models is gone (it binds boto_client_for)")
    if not hasattr(lambda_eval_utils, "boto_client_for"):  # rebinding would miss the Lambda Task
        found.append(f"{lambda_eval_utils.__name__} no longer imports boto_client_for by name")
    if not isinstance(getattr(TimeoutSeconds, "DEFAULT_TIMEOUT_SECONDS", None), int | float):
        found.append("TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS is gone")
    if _params(getattr(DomainDispatcherApplication, "get_backend_for_host", None)) != [
        "self",
        "host",
    ]:
        found.append("DomainDispatcherApplication.get_backend_for_host(self, host) changed")
    from antlr4.RuleContext import RuleContext
    from antlr4.tree.Tree import TerminalNodeImpl

    for owner in (RuleContext, TerminalNodeImpl):
        if _params(getattr(owner, "getText", None)) not in (["self"], ["self", "_original"]):
            found.append(f"antlr4 {owner.__name__}.getText(self) changed")
    component = _eval_component()
    for name in _FAILURE_LOGS:
        if name not in _installed.get("failure_logs", {}) and _params(
            getattr(component, name, None)
        ) not in (["self", "failure_event_exception"], ["self", "exception"]):
            found.append(f"EvalComponent.{name}(self, exception) changed")
    if not hasattr(MotoRequestHandler, "disable_nagle_algorithm"):
        found.append("moto's MotoRequestHandler is no longer a socketserver StreamRequestHandler")
    return found


def _params(function: Any) -> list[str] | None:
    return None if function is None else list(inspect.signature(function).parameters)


def dispatcher_app():
    """moto's WSGI dispatcher, remembering which backend serves which host."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    moto_models.install()

    class CachedDispatcher(DomainDispatcherApplication):
        def __init__(self, create_app):
            super().__init__(create_app)
            self._backend_by_host: dict = {}

        def get_backend_for_host(self, host):  # called under the dispatcher's lock
            if host not in self._backend_by_host:
                self._backend_by_host[host] = super().get_backend_for_host(host)
            return self._backend_by_host[host]

    def create_app(service):
        app = create_backend_app(service)
        # moto turns Flask's debug mode on: per-request debug helpers (form-encoding checks)
        # cost ~1.5 % of the emulator's CPU; errors are still logged with their traceback
        app.debug = False
        return app

    return CachedDispatcher(create_app)


def install_stepfunctions(endpoint_url: str) -> None:
    """The interpreter's fast paths. Importing moto's interpreter takes seconds (it pulls in
    moto.batch and moto.ec2), so the server runs this in the background while it already
    serves the other APIs."""
    from harness.emulator.moto_hooks import raise_if

    raise_if(problems())
    with _lock:
        _patch_sfn_clients(endpoint_url)
        _cache_asl_parse_trees()
        _cache_json_paths()
        _quiet_failure_logs()
    sfn_inline_tasks.install()


def uninstall() -> None:
    moto_models.uninstall()
    sfn_inline_tasks.uninstall()
    with _lock:
        for name, original in _installed.pop("failure_logs", {}).items():
            setattr(_eval_component(), name, original)
        if "parse" in _installed:
            from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

            AmazonStateLanguageParser.parse = staticmethod(_installed.pop("parse"))
            sfn_programs.clear()
        for owner, original in _installed.pop("get_text", []):
            owner.getText = original
        for module, original_parse in _installed.pop("json_path_parse", []):
            module.parse = original_parse
        original = _installed.pop("boto_client_for", None)
        if original is not None:
            _replace_everywhere(_installed.pop("boto_client_for_patched"), original)


def _patch_sfn_clients(endpoint_url: str) -> None:
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
                    client = moto_models.client_session().client(
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
        _freeze_texts(tree)
        return tree

    def parse(definition: str):
        tree = parse_tree(definition)
        return sfn_programs.shared(lambda: Preprocessor().visit(tree), definition), tree

    parser_class.parse = staticmethod(parse)
    _memoize_texts()


def _freeze_texts(node) -> str:
    """Store each node's text on it, bottom-up: a cached tree never changes, and ANTLR's
    getText re-joins every subtree on each call (a third of rebuilding a program)."""
    children = getattr(node, "children", None)
    if children is None:  # a terminal: its token's text
        text = node.getText()
    else:
        text = "".join(_freeze_texts(child) for child in children)
    node._harness_text = text
    return text


def _memoize_texts() -> None:
    from antlr4.RuleContext import RuleContext
    from antlr4.tree.Tree import TerminalNodeImpl

    _installed["get_text"] = [(owner, owner.getText) for owner in (RuleContext, TerminalNodeImpl)]
    for owner, original in _installed["get_text"]:

        def get_text(self, _original=original):
            frozen = self.__dict__.get("_harness_text")  # only nodes of a cached tree have it
            return _original(self) if frozen is None else frozen

        owner.getText = get_text


_FAILURE_LOGS = ("_log_failure_event_exception", "_log_exception")


def _eval_component():
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    return EvalComponent


def _quiet_failure_logs() -> None:
    import logging

    component = _eval_component()
    if "failure_logs" in _installed:
        return
    _installed["failure_logs"] = {name: getattr(component, name) for name in _FAILURE_LOGS}
    log = logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component")

    def quiet(component, exception) -> None:
        if log.isEnabledFor(logging.DEBUG):  # the repr only for someone who asked for it
            log.debug("%s failed: %r", type(component).__name__, exception)

    # moto passes the exception by keyword, under these two names
    component._log_failure_event_exception = lambda self, failure_event_exception: quiet(
        self, failure_event_exception
    )
    component._log_exception = lambda self, exception: quiet(self, exception)


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
