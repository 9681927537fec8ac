"""Fails loudly when a moto upgrade moves the hooks the embedded AWS relies on."""

from __future__ import annotations

import importlib.metadata

import pytest

from harness.emulator import moto_hooks
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

    assert default_user_config["stepfunctions"]["execute_state_machine"] is True
    assert LambdaFunction._invoke_lambda.__module__ == "harness.emulator.moto_hooks"


def test_check_hooks_names_a_missing_hook(monkeypatch):
    from moto.awslambda.models import LambdaFunction

    monkeypatch.setattr(moto_hooks, "_installed", {})
    monkeypatch.delattr(LambdaFunction, "_invoke_lambda")
    with pytest.raises(HarnessError, match="_invoke_lambda is gone"):
        moto_hooks.check_hooks()


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
