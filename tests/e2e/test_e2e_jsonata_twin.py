"""The JSONata twin of the workflow (statemachine/workflow.jsonata.asl.json) deployed into an
embedded stack by the same deployer (SCONES_STATE_MACHINE_FILE picks it), next to the JSONPath
workflow: every e2e scenario ends the same way through both."""

from __future__ import annotations

import json

import pytest

from harness.config import REPO_ROOT
from harness.deploy import deploy, make_target
from harness.e2e.cases import THRESHOLD_ERROR
from harness.e2e.check import run_e2e
from tests.support.stacks import embedded_stack

TWIN = REPO_ROOT / "statemachine" / "workflow.jsonata.asl.json"
JSONPATH = REPO_ROOT / "statemachine" / "workflow.asl.json"


@pytest.fixture(scope="module")
def twin_stack(tmp_path_factory, settings, data_dir):
    """An embedded stack whose workflow is the twin, plus the JSONPath workflow beside it."""
    state_dir = tmp_path_factory.mktemp("twin")
    with embedded_stack(settings, state_dir, data_dir, state_machine_file=TWIN) as (local, _):
        jsonpath = local.replace(
            state_machine_name=f"{local.state_machine_name}-jsonpath", state_machine_file=JSONPATH
        )
        deploy(jsonpath, make_target(jsonpath))
        yield local, jsonpath


def test_twin_mirrors_the_jsonpath_workflow():
    twin, jsonpath = json.loads(TWIN.read_text()), json.loads(JSONPATH.read_text())
    assert twin["QueryLanguage"] == "JSONata" and twin["StartAt"] == jsonpath["StartAt"]
    assert list(twin["States"]) == list(jsonpath["States"])
    for name, state in jsonpath["States"].items():
        mirror = twin["States"][name]
        assert mirror["Resource"] == state["Resource"]
        assert mirror["Arguments"]["FunctionName"] == state["Parameters"]["FunctionName"]
        assert mirror["Retry"] == state["Retry"], f"{name}: the twin's Retry must mirror it"
        assert mirror.get("Catch") == state.get("Catch")
        assert (mirror.get("Next"), mirror.get("End")) == (state.get("Next"), state.get("End"))


def test_twin_outcomes_match_the_jsonpath_workflow(twin_stack):
    twin, jsonpath = twin_stack
    verdicts = {
        "jsonata": run_e2e(twin, per_class=2, parallel=4),
        "jsonpath": run_e2e(jsonpath, per_class=2, parallel=4),
    }
    for flavour, found in verdicts.items():
        problems = [(v.case.scenario, v.problems) for v in found if not v.ok]
        assert not problems, (flavour, problems)

    def outcomes(found):
        return sorted(
            (v.case.s3_key, v.result.status, v.result.error, v.result.label) for v in found
        )

    assert outcomes(verdicts["jsonata"]) == outcomes(verdicts["jsonpath"])
    low = next(v for v in verdicts["jsonata"] if v.case.scenario == "low confidence")
    assert low.result.error == THRESHOLD_ERROR
    assert str(twin.threshold) in low.result.cause_message
