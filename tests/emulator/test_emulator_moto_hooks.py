"""Fails loudly when a moto upgrade moves the hooks the embedded AWS relies on."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import re

import pytest

from harness.clients import LOCAL_CREDENTIALS
from harness.emulator import moto_hooks, moto_speedups, sfn_inline_tasks
from harness.errors import HarnessError


def test_moto_is_the_pinned_version():
    assert importlib.metadata.version("moto") == moto_hooks.MOTO_VERSION, (
        "moto changed version: run tests/emulator and adapt harness/emulator/moto_hooks.py, "
        "then update MOTO_VERSION there"
    )


def test_hooks_exist_with_expected_signatures():
    moto_hooks.check_hooks()  # raises HarnessError naming what moved


def test_hooks_are_installed_while_running(aws):
    from moto.awslambda.models import LambdaFunction
    from moto.core.config import default_user_config

    # the warm-up thread checks moto's hooks too: done before the tests below delete them
    aws.wait_stepfunctions()

    assert default_user_config["stepfunctions"]["execute_state_machine"] is True
    assert LambdaFunction._invoke_lambda.__module__ == "harness.emulator.moto_hooks"


def test_check_hooks_names_a_missing_hook(monkeypatch):
    from moto.awslambda.models import LambdaFunction

    monkeypatch.setattr(moto_hooks, "_installed", {})
    monkeypatch.delattr(LambdaFunction, "_invoke_lambda")
    with pytest.raises(HarnessError, match="_invoke_lambda is gone"):
        moto_hooks.check_hooks()


@pytest.mark.parametrize(
    ("module", "owner", "name", "message"),
    [
        ("moto.awslambda.models", "LambdaFunction", "invoke", "LambdaFunction.invoke"),
        ("moto.awslambda.models", "LambdaBackend", "create_function", "create_function"),
        ("moto.awslambda.models", "LambdaBackend", "delete_function", "delete_function"),
        # what the rest of the emulator reads of moto
        ("moto.awslambda.models", "LambdaBackend", "invoke", "LambdaBackend.invoke"),
        ("moto.awslambda.models", None, "lambda_backends", "lambda_backends"),
        ("moto.logs.models", "LogsBackend", "put_log_events", "LogsBackend.put_log_events"),
        ("moto.core.exceptions", None, "ServiceException", "ServiceException"),
        ("moto.moto_server.werkzeug_app", None, "create_backend_app", "werkzeug_app"),
        # the speed-ups
        (
            "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
            None,
            "boto_client_for",
            "no longer imports boto_client_for by name",
        ),
        ("moto.stepfunctions.parser.asl.utils.boto_client", None, "boto_client_for", "boto_client"),
        ("moto.stepfunctions.parser.asl.utils.json_path", None, "parse", "json_path.parse"),
        ("moto.stepfunctions.parser.asl.parse.asl_parser", None, "ASLLexer", "ANTLR"),
        ("moto.batch.utils", None, "JobStatus", "moto.batch.utils.JobStatus"),
        ("moto.core.utils", None, "_load_service_model", "_load_service_model is gone"),
        (
            "moto.stepfunctions.parser.asl.component.state.exec.execute_state",
            "ExecutionState",
            "_evaluate_with_timeout",
            "_evaluate_with_timeout(self, env) changed",
        ),
        (
            "moto.moto_server.werkzeug_app",
            "DomainDispatcherApplication",
            "get_backend_for_host",
            "get_backend_for_host",
        ),
        (
            "moto.stepfunctions.parser.asl.component.eval_component",
            "EvalComponent",
            "_log_exception",
            "EvalComponent._log_exception",
        ),
    ],
)
def test_check_hooks_names_every_kind_of_point(monkeypatch, module, owner, name, message):
    target = importlib.import_module(module)
    if owner is not None:
        target = getattr(target, owner)
    monkeypatch.setattr(moto_hooks, "_installed", {})  # as before any install
    monkeypatch.setattr(moto_speedups, "_installed", {})
    monkeypatch.setattr(sfn_inline_tasks, "_installed", {})
    monkeypatch.delattr(target, name)
    with pytest.raises(HarnessError, match=re.escape(message)):
        moto_hooks.check_hooks()


def test_speedups_follow_the_setting(aws, speedups):
    """HARNESS_EMULATOR_SPEEDUPS=false: not one fast path in place, moto's own everywhere."""
    from antlr4.RuleContext import RuleContext
    from moto.core import utils as moto_utils
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils import json_path

    aws.wait_stepfunctions()
    apps = list(aws._moto_app.app_instances.values())  # the services asked so far
    in_place = {
        "client per Task": lambda_eval_utils.boto_client_for.__module__.startswith("harness."),
        "ASL parse trees": AmazonStateLanguageParser.parse.__module__.startswith("harness."),
        "JSON paths": hasattr(json_path.parse, "cache_info"),
        "TCP_NODELAY": aws._server.RequestHandlerClass.disable_nagle_algorithm is True,
        "backend per host": type(aws._moto_app) is not DomainDispatcherApplication,
        "quiet failure logs": EvalComponent._log_exception.__module__.startswith("harness."),
        "Flask debug off": bool(apps) and not any(app.debug for app in apps),
        "parse-tree texts kept": RuleContext.getText.__module__.startswith("harness."),
        "one service-model loader": moto_utils._load_service_model.__module__.startswith(
            "harness."
        ),
        "keep-alive": aws._server.RequestHandlerClass.__module__.startswith("harness."),
    }
    assert in_place == dict.fromkeys(in_place, speedups)
    assert MotoRequestHandler.disable_nagle_algorithm is False  # moto's own class, untouched


def test_health_check(aws):
    import json
    import urllib.request

    from harness.emulator import HEALTH_PATH, is_ready

    assert is_ready(aws.url)
    aws.wait_stepfunctions()
    health = json.loads(urllib.request.urlopen(aws.url + HEALTH_PATH, timeout=5).read())
    assert health["service"] == "embedded-aws" and health["stepfunctions_warm"] is True
    assert not is_ready("http://127.0.0.1:9")  # nothing listens on the discard port


def test_reset_forgets_resources_and_ends_workers(aws, client, role_arn, make_function, invoke):
    name = make_function("def handler(event, context):\n    return 'ok'\n")
    assert invoke(name, {}) == ("ok", None)
    assert aws.manager.workers() >= 1
    aws.reset()
    assert aws.manager.workers() == 0
    assert client("lambda").list_functions()["Functions"] == []
    client("iam").create_role(RoleName=role_arn.rsplit("/", 1)[1], AssumeRolePolicyDocument="{}")
    name = make_function("def handler(event, context):\n    return 'again'\n")  # still works after
    assert invoke(name, {}) == ("again", None)


def test_batch_still_served_after_importing_only_its_utils(aws, client):
    # the interpreter loads moto.batch.utils alone (startup time); the Batch API must still work
    assert client("batch").describe_compute_environments()["computeEnvironments"] == []


def test_the_shared_model_loader_goes_back_and_reads_the_same_models(aws):
    from moto.core import utils

    from harness.emulator import moto_models

    aws.wait_stepfunctions()
    was_installed = utils._load_service_model.__module__.startswith("harness.")
    moto_models.uninstall()
    try:
        assert utils._load_service_model.__module__ == "moto.core.utils"
        own = utils._load_service_model("sts", "service-2")
        moto_models.install()
        assert utils._load_service_model.__module__ == "harness.emulator.moto_models"
        shared = utils._load_service_model("sts", "service-2")
        # the same model, less its documentation text (moto never reads it)
        assert "documentation" in json.dumps(own) and "documentation" not in json.dumps(shared)
        moto_models._drop_documentation(own)
        assert shared == own
    finally:
        if not was_installed:
            moto_models.uninstall()


def test_moto_and_our_clients_read_botocore_data_once_with_the_stock_models_for_clients(aws):
    # issue 17: moto's region lists parsed every service model and endpoints.json a second
    # time, and each of our clients parsed endpoints.json again (~21 MB of idle heap)
    from botocore.loaders import Loader
    from moto.core.base_backend import AccountSpecificBackend

    from harness.emulator import moto_models

    aws.wait_stepfunctions()
    if not moto_models._installed:
        pytest.skip("the speed-ups are off (HARNESS_EMULATOR_SPEEDUPS=false)")
    shared = moto_models._installed["loader"]
    regions = AccountSpecificBackend.get_session()._session.get_component("data_loader")
    assert regions is shared
    clients = moto_models.client_session()._session.get_component("data_loader")
    assert clients is not shared
    assert clients.load_data("endpoints") is shared.load_data("endpoints")
    # moto's extras rewrite S3's output shapes: a client must parse with botocore's own model
    stock = Loader().load_service_model("s3", "service-2")
    assert clients.load_service_model("s3", "service-2") == stock
    assert shared.load_service_model("s3", "service-2") != stock
    s3 = moto_models.client_session().client(
        "s3", region_name="us-east-1", endpoint_url=aws.url, **LOCAL_CREDENTIALS
    )
    assert "Buckets" in s3.list_buckets()


def test_iam_lets_go_of_the_managed_policies_it_reads_only_on_request(aws, client, monkeypatch):
    # issue 17: moto.iam held AWS's managed policies, 4.7 MB of JSON text, at all times
    import sys

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam import models as iam

    from harness.emulator import moto_models

    aws.wait_stepfunctions()
    if not moto_models._installed:
        pytest.skip("the speed-ups are off (HARNESS_EMULATOR_SPEEDUPS=false)")
    assert iam.aws_managed_policies_data is None
    assert "moto.iam.aws_managed_policies" not in sys.modules
    assert client("iam").list_policies(Scope="AWS")["Policies"] == []  # moto's default
    # turned on, moto reads them again
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    backend = iam.IAMBackend("us-east-1", DEFAULT_ACCOUNT_ID)
    assert len(backend.aws_managed_policies) > 1000
