"""A passing and a failing execution on moto's Step Functions interpreter: list, rows, graph, CLI."""

from __future__ import annotations

import json

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from harness.cli import cli, main
from harness.config import Settings
from harness.executions import write_execution_views
from harness.executions.api import execution_arn, list_executions, load_execution
from harness.executions.graph import COLOURS, svg_id
from harness.executions.render import write_views
from tests.executions.executions_support import create_machine, run_to_end, svg_content

MACHINE = "scones-workflow"
DEFINITION = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {
            "Type": "Pass",
            "Result": {"threshold": 0.93},
            "ResultPath": "$.config",
            "Next": "Settle",
        },
        "Settle": {"Type": "Wait", "Seconds": 0, "Next": "Confident?"},
        "Confident?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.confident", "BooleanEquals": True, "Next": "Done"}],
            "Default": "Low confidence",
        },
        "Low confidence": {
            "Type": "Fail",
            "Error": "THRESHOLD_CONFIDENCE_NOT_MET",
            "Cause": "top probability 0.59",
        },
        "Done": {"Type": "Succeed"},
    },
}


@pytest.fixture(scope="module")
def runs():
    """One passing and one failing execution of the same state machine (the tests only read them)."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = create_machine(sfn, MACHINE, DEFINITION)
        good = run_to_end(
            sfn, machine, "good-run", {"s3_key": "test/bicycle_s_000513.png", "confident": True}
        )
        bad = run_to_end(
            sfn, machine, "bad-run", {"s3_key": "test/motorcycle_s_001413.png", "confident": False}
        )
        yield sfn, good, bad


def test_list_is_newest_first_with_key_status_and_error(runs):
    sfn, good, bad = runs
    items = list_executions(sfn, MACHINE)
    assert [i.arn for i in items] == [bad, good]
    assert [(i.name, i.status, i.input_key) for i in items] == [
        ("bad-run", "FAILED", "test/motorcycle_s_001413.png"),
        ("good-run", "SUCCEEDED", "test/bicycle_s_000513.png"),
    ]
    assert items[0].error == "THRESHOLD_CONFIDENCE_NOT_MET" and items[1].error is None
    assert all(i.duration_s >= 0 and i.stop is not None for i in items)
    assert [i.name for i in list_executions(sfn, MACHINE, status="SUCCEEDED")] == ["good-run"]
    assert [i.name for i in list_executions(sfn, MACHINE, limit=1)] == ["bad-run"]


def _entered(sfn, arn):
    events = sfn.get_execution_history(executionArn=arn)["events"]
    return [ev for ev in events if ev["type"].endswith("StateEntered")], events


def test_passing_execution_rows_match_its_history(runs):
    sfn, good, _ = runs
    record = load_execution(sfn, good)
    entered, _ = _entered(sfn, good)
    assert [(r.name, r.type) for r in record.rows] == [
        (ev["stateEnteredEventDetails"]["name"], ev["type"].removesuffix("StateEntered"))
        for ev in entered
    ]
    assert [r.name for r in record.rows] == ["Prepare", "Settle", "Confident?", "Done"]
    assert {r.status for r in record.rows} == {"succeeded"}
    assert json.loads(record.rows[0].output)["config"] == {"threshold": 0.93}
    assert all(r.error is None and r.retries == 0 for r in record.rows)


def test_failing_execution_rows_match_its_history(runs):
    sfn, _, bad = runs
    record = load_execution(sfn, bad)
    entered, events = _entered(sfn, bad)
    assert [r.name for r in record.rows] == [
        ev["stateEnteredEventDetails"]["name"] for ev in entered
    ]
    assert [r.status for r in record.rows] == ["succeeded", "succeeded", "succeeded", "failed"]
    failed = next(ev for ev in events if ev["type"] == "ExecutionFailed")[
        "executionFailedEventDetails"
    ]
    last = record.rows[-1]
    assert (last.name, last.type, last.error, last.cause) == (
        "Low confidence",
        "Fail",
        failed["error"],
        failed["cause"],
    )


def test_graphs_of_the_two_runs(runs, tmp_path):
    sfn, good, bad = runs
    for arn, expected in (
        (
            good,
            {
                "Prepare": "succeeded",
                "Confident?": "succeeded",
                "Done": "succeeded",
                "Low confidence": "not reached",
            },
        ),
        (
            bad,
            {
                "Prepare": "succeeded",
                "Confident?": "succeeded",
                "Done": "not reached",
                "Low confidence": "failed",
            },
        ),
    ):
        files = write_views(load_execution(sfn, arn), tmp_path)
        content = svg_content(files.svg)
        for state, status in expected.items():
            assert content[svg_id("state", state)]["fill"] == COLOURS[status], (arn, state)
            assert content[svg_id("status", state)]["text"].endswith(status)
        page = files.html.read_text()
        assert "<svg" in page and "Table view" in page and files.png.stat().st_size > 1000


def test_execution_name_resolves_on_the_state_machine(runs):
    sfn, good, _ = runs
    assert execution_arn(sfn, Settings(), "good-run") == good
    assert execution_arn(sfn, Settings(), good) == good


def test_cli_executions_and_show(runs, tmp_path, monkeypatch):
    sfn, _, bad = runs
    monkeypatch.setattr("harness.executions.commands.stepfunctions_client", lambda settings: sfn)
    monkeypatch.setenv(
        "COLUMNS", "200"
    )  # rich sizes its tables from COLUMNS when not on a terminal
    runner = CliRunner()
    listed = runner.invoke(cli, ["executions", "--json", "--status", "failed"])
    assert listed.exit_code == 0, listed.output
    assert [(i["name"], i["error"]) for i in json.loads(listed.output)] == [
        ("bad-run", "THRESHOLD_CONFIDENCE_NOT_MET")
    ]
    table = runner.invoke(cli, ["executions"])
    assert (
        table.exit_code == 0
        and "bad-run" in table.output
        and "test/bicycle_s_000513.png" in table.output
    )

    shown = runner.invoke(cli, ["show", "bad-run", "--json", "--out", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    out = json.loads(shown.output)
    assert out["execution"]["arn"] == bad
    assert [(s["name"], s["status"]) for s in out["states"]][-1] == ("Low confidence", "failed")
    assert (
        svg_content(out["views"]["svg"])[svg_id("state", "Low confidence")]["fill"]
        == COLOURS["failed"]
    )
    pretty = runner.invoke(cli, ["show", bad, "--out", str(tmp_path), "--no-png"])
    assert (
        pretty.exit_code == 0
        and "Low confidence" in pretty.output
        and "THRESHOLD_CONFIDENCE_NOT_MET" in pretty.output
    )


def test_unknown_execution_is_a_readable_error(runs, monkeypatch, capsys):
    sfn = runs[0]
    monkeypatch.setattr("harness.executions.commands.stepfunctions_client", lambda settings: sfn)
    with pytest.raises(SystemExit) as exit_info:
        main(["show", "no-such-run"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "ExecutionDoesNotExist" in err and "harness executions" in err


def test_views_for_the_monitoring_report(runs, tmp_path):
    sfn = runs[0]
    pages = write_execution_views(Settings(), tmp_path, limit=5, client=sfn)
    assert [title.split(" · ")[:2] for title, _ in pages] == [
        ["bad-run", "FAILED"],
        ["good-run", "SUCCEEDED"],
    ]
    assert all(path.is_file() and path.parent == tmp_path for _, path in pages)
