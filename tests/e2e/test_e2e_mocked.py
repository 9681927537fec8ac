"""The workflow's failure paths through the shipped mock file, as `harness e2e --mocks` runs them.

An embedded stack of its own (free ports, its own state folder) with the real state machine,
Lambdas and endpoint; only "Classify image" answers from statemachine/mocks/workflow.mocks.json.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from rich.console import Console

from harness import clients
from harness.config import REPO_ROOT
from harness.e2e import mocked
from harness.executions.api import state_machine_arn
from tests.support.stacks import embedded_stack

MOCK_FILE = REPO_ROOT / "statemachine" / "mocks" / "workflow.mocks.json"


@pytest.fixture(scope="module")
def running_stack(tmp_path_factory, settings, data_dir):
    state_dir = tmp_path_factory.mktemp("stack")
    with embedded_stack(settings, state_dir, data_dir, sfn_mock_config=MOCK_FILE) as (local, _):
        yield local


def test_shipped_mock_file_covers_every_scenario():
    document = json.loads(MOCK_FILE.read_text())
    cases = document["StateMachines"]["scones-workflow"]["TestCases"]
    assert sorted(cases) == sorted(case.test_case for case in mocked.CASES)
    workflow = json.loads((REPO_ROOT / "statemachine" / "workflow.asl.json").read_text())
    for states in cases.values():
        assert set(states) <= set(workflow["States"])  # every mocked state exists


def test_mocked_errors_are_the_names_the_lambdas_raise():
    """The Throw errors are what the classify Lambda raises (its class names) or what AWS
    reports for Lambda itself, and each one that should be retried is in a Retry."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "workflow_errors", REPO_ROOT / "lambdas" / "shared" / "errors.py"
    )
    errors = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(errors)
    document = json.loads(MOCK_FILE.read_text())
    thrown = {
        response["Throw"]["Error"]
        for attempts in document["MockedResponses"].values()
        for response in attempts.values()
        if "Throw" in response
    }
    ours = {name for name in thrown if "." not in name}
    assert ours == {"EndpointTransientError", "EndpointInvocationError"}
    assert all(isinstance(getattr(errors, name, None), type) for name in ours)
    assert thrown - ours == {"Lambda.ServiceException", "Sandbox.Timedout"}
    workflow = json.loads((REPO_ROOT / "statemachine" / "workflow.asl.json").read_text())
    retried = {
        error
        for retrier in workflow["States"]["Classify image"]["Retry"]
        for error in retrier["ErrorEquals"]
    }
    assert {"EndpointTransientError", "Lambda.ServiceException"} <= retried
    assert not {"EndpointInvocationError", "Sandbox.Timedout"} & retried


def test_every_mocked_failure_path_has_its_expected_outcome(running_stack):
    # GIVEN the shipped test cases WHEN `harness e2e --mocks` runs them THEN each one ends as
    # its row in the table says (status, error or label, retries of "Classify image")
    verdicts = mocked.run_mocked(running_stack)
    problems = {v.case.test_case: v.problems for v in verdicts if not v.ok}
    assert not problems, problems
    console = Console(record=True, width=200)
    mocked.print_table(verdicts, console)
    text = console.export_text()
    assert "All 7 mocked scenarios behaved as expected" in text
    assert "EndpointNotReadyPersists" in text and "FAILED EndpointTransientError" in text


def test_the_same_machine_without_a_test_case_is_not_mocked(running_stack, data_dir):
    # the mocks change nothing for an ordinary StartExecution on the same state machine
    from harness.e2e.runner import run_execution

    sfn = clients.client(running_stack, "stepfunctions")
    machine = state_machine_arn(sfn, running_stack.state_machine_name)
    key = mocked.input_key(running_stack)
    result = run_execution(sfn, machine, running_stack.bucket, key, name="unmocked-check")
    assert (
        result.output is None
        or result.output["image_data"]
        != json.loads(MOCK_FILE.read_text())["MockedResponses"]["ClassifyUnsure"]["0"]["Return"][
            "Payload"
        ]["body"]["image_data"]
    )
    assert result.status in {"SUCCEEDED", "FAILED"}
    if result.status == "FAILED":  # an unsure image: the real endpoint said so, not a mock
        assert result.error == "THRESHOLD_CONFIDENCE_NOT_MET"


def test_cli_mocks_option_runs_the_table(running_stack, monkeypatch):
    from harness.e2e.commands import e2e

    environ = running_stack.as_environ()
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    calls = []
    monkeypatch.setattr(mocked, "run_mocked", lambda settings, parallel: calls.append(1) or [])
    out = CliRunner().invoke(e2e, ["--mocks"])
    assert out.exit_code == 0, out.output
    assert calls == [1] and "Mocked failure paths" in out.output


def test_mocks_are_refused_for_aws(settings):
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="exist only locally"):
        mocked.run_mocked(settings.replace(target="aws"))


def test_a_test_case_the_file_lacks_is_reported_not_raised(running_stack):
    case = mocked.MockedCase("NoSuchCase", "not in the file", "SUCCEEDED")
    [verdict] = mocked.run_mocked(running_stack, cases=(case,))
    assert verdict.result is None and not verdict.ok
    assert "InvalidName" in verdict.problems[0] and "NoSuchCase" in verdict.problems[0]
    console = Console(record=True, width=200)
    mocked.print_table([verdict], console)
    assert "SFN_MOCK_CONFIG" in console.export_text()
