"""The Graph view's content: one box per state, coloured by outcome, with its retry count."""

from __future__ import annotations

import json

import pytest
from matplotlib.colors import rgb_to_hsv, to_rgb
from PIL import Image

from harness.config import STATE_MACHINE_FILE
from harness.executions.graph import COLOURS, edges, ranks, svg_id, write_graph
from harness.executions.history import state_outcomes, state_rows
from tests.executions.executions_support import FIXTURES, load_fixture, svg_content


def _graph(tmp_path, definition_file, history_file):
    definition = json.loads((FIXTURES / definition_file).read_text())
    outcomes = state_outcomes(state_rows(load_fixture(history_file)["events"]))
    svg, png = tmp_path / "g.svg", tmp_path / "g.png"
    write_graph(definition, outcomes, svg, png, title="t")
    return definition, svg_content(svg), png


def test_failed_execution_colours_and_retry_counts(tmp_path):
    definition, content, png = _graph(
        tmp_path, "definition_scones.asl.json", "history_retry_then_failure.json"
    )
    fills = {name: content[svg_id("state", name)]["fill"] for name in definition["States"]}
    assert fills == {
        "Serialize image": COLOURS["succeeded"],
        "Classify image": COLOURS["succeeded"],
        "Filter low-confidence inferences": COLOURS["failed"],
    }
    assert content[svg_id("retries", "Serialize image")]["text"] == "retries: 2"
    assert content[svg_id("retries", "Classify image")]["text"] == "retries: 0"
    assert content[svg_id("status", "Filter low-confidence inferences")]["text"] == "Task · failed"
    assert "start" in content and "end" in content
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size[0] > 100 and image.size[1] > 300


def test_caught_and_not_reached_states(tmp_path):
    _, content, _ = _graph(tmp_path, "definition_caught.asl.json", "history_caught.json")
    assert content[svg_id("state", "Filter")]["fill"] == COLOURS["caught"]
    assert content[svg_id("retries", "Filter")]["text"] == "retries: 1"
    assert content[svg_id("state", "Record low confidence")]["fill"] == COLOURS["succeeded"]
    assert content[svg_id("state", "Done")]["fill"] == COLOURS["not reached"]
    assert svg_id("retries", "Done") not in content  # a Succeed state runs no task


def test_outcome_colours_are_green_red_orange_grey():
    hue = {name: rgb_to_hsv(to_rgb(colour)) for name, colour in COLOURS.items()}
    assert 0.25 < hue["succeeded"][0] < 0.42  # green
    assert hue["failed"][0] < 0.03 or hue["failed"][0] > 0.97  # red
    assert 0.05 < hue["caught"][0] < 0.12  # orange
    assert hue["not reached"][1] < 0.05  # grey: no saturation


def test_edges_cover_next_choice_catch_and_end():
    definition = {
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Task",
                "Resource": "x",
                "Next": "C",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}],
            },
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericLessThan": 3, "Next": "A"}],
                "Default": "S",
            },
            "F": {"Type": "Fail"},
            "S": {"Type": "Succeed"},
        },
    }
    found = {(e.source, e.target, e.kind) for e in edges(definition)}
    assert found == {
        ("__start__", "A", "next"),
        ("A", "C", "next"),
        ("A", "F", "catch"),
        ("C", "A", "choice"),
        ("C", "S", "choice"),
        ("F", "__end__", "end"),
        ("S", "__end__", "end"),
    }
    rank = ranks(definition, edges(definition))  # the loop C -> A does not push A down
    assert rank["__start__"] < rank["A"] < rank["C"] < rank["S"] < rank["__end__"]
    assert rank["F"] == rank["C"]


@pytest.mark.skipif(
    not STATE_MACHINE_FILE.is_file(), reason="statemachine/workflow.asl.json not written yet"
)
def test_the_real_workflow_definition_draws_with_placeholders(tmp_path):
    definition = json.loads(STATE_MACHINE_FILE.read_text())
    svg = tmp_path / "workflow.svg"
    write_graph(definition, {}, svg)
    content = svg_content(svg)
    boxes = {gid for gid in content if gid.startswith("state-")}
    assert boxes == {svg_id("state", name) for name in definition["States"]}
    assert {content[gid]["fill"] for gid in boxes} == {COLOURS["not reached"]}
