"""The console's Graph view: an ASL definition drawn top to bottom, states coloured by outcome.

Drawn with matplotlib (no graphviz binary, no system package) into SVG and PNG. Each
state's box carries the SVG id `state-<name>` and its retry label `retries-<name>`
(see `svg_id`), so scripts and tests can read the picture's content.
Only top-level states are drawn; a Parallel or Map state is one box.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # never a GUI backend: this runs in terminals and CI
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Patch

from harness.executions.history import (
    CAUGHT,
    FAILED,
    NOT_REACHED,
    RUNNING,
    SUCCEEDED,
    Outcome,
)

COLOURS = {
    SUCCEEDED: "#66bb6a",  # green
    FAILED: "#ef5350",  # red
    CAUGHT: "#ffa726",  # orange
    RUNNING: "#42a5f5",  # blue
    NOT_REACHED: "#e0e0e0",  # grey
}
START, END = "__start__", "__end__"
_ROW_H, _COL_W, _BOX_H = 1.25, 0.6, 0.72  # inches; _COL_W is the gap between boxes


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    kind: str = "next"  # next | choice | catch | end


def svg_id(prefix: str, state: str) -> str:
    """The SVG id of a state's box (`state`) or retry label (`retries`)."""
    return f"{prefix}-" + re.sub(r"[^A-Za-z0-9_.-]", "_", state)


def edges(definition: Mapping[str, Any]) -> list[Edge]:
    """Every transition of the definition's top-level states, plus Start and End."""
    states = definition["States"]
    out = [Edge(START, definition["StartAt"])]
    for name, state in states.items():
        if state.get("Next"):
            out.append(Edge(name, state["Next"]))
        for rule in state.get("Choices", []):
            out.append(Edge(name, rule["Next"], _rule_label(rule), "choice"))
        if state.get("Default"):
            out.append(Edge(name, state["Default"], "Default", "choice"))
        for catcher in state.get("Catch", []):
            errors = ",".join(catcher.get("ErrorEquals", []))
            out.append(Edge(name, catcher["Next"], f"catch {errors}", "catch"))
        if state.get("End") or state.get("Type") in ("Succeed", "Fail"):
            out.append(Edge(name, END, kind="end"))
    return [edge for edge in out if edge.target in states or edge.target == END]


def _rule_label(rule: Mapping[str, Any]) -> str:
    if "Condition" in rule:  # JSONata
        return str(rule["Condition"])[:28]
    operator = next((key for key in rule if key not in ("Variable", "Next", "Comment")), "")
    value = rule.get(operator)
    shown = "…" if isinstance(value, (list, dict)) else json.dumps(value)
    text = f"{rule.get('Variable', '')} {operator} {shown}"
    return text.strip()[:28]


def ranks(definition: Mapping[str, Any], all_edges: list[Edge]) -> dict[str, int]:
    """Each node's row: the longest path from Start, ignoring edges that close a loop."""
    children: dict[str, list[str]] = {}
    for edge in all_edges:
        children.setdefault(edge.source, []).append(edge.target)
    order: list[str] = []  # reverse post-order over the graph without back edges
    state: dict[str, str] = {}
    back: set[tuple[str, str]] = set()

    def visit(node: str) -> None:
        state[node] = "open"
        for child in children.get(node, []):
            if state.get(child) == "open":
                back.add((node, child))
            elif child not in state:
                visit(child)
        state[node] = "done"
        order.append(node)

    visit(START)
    for name in definition["States"]:  # unreachable states still get drawn
        if name not in state:
            visit(name)
    rank = {node: 0 for node in order}
    for node in reversed(order):
        for child in children.get(node, []):
            if (node, child) not in back:
                rank[child] = max(rank[child], rank[node] + 1)
    end_rank = max((r for n, r in rank.items() if n != END), default=0) + 1
    rank[END] = end_rank
    return rank


def layout(
    definition: Mapping[str, Any],
) -> tuple[dict[str, tuple[float, float]], list[Edge], float]:
    """Node centres in inches (y grows downwards), the edges, and the box width."""
    all_edges = edges(definition)
    rank = ranks(definition, all_edges)
    longest = max([len(n) for n in definition["States"]] + [10])
    box_w = max(2.0, 0.085 * longest + 0.4)
    rows: dict[int, list[str]] = {}
    for node in sorted(rank, key=lambda n: (rank[n], _first_parent_index(n, all_edges))):
        rows.setdefault(rank[node], []).append(node)
    centres = {}
    for row, nodes in rows.items():
        for index, node in enumerate(nodes):
            x = (index - (len(nodes) - 1) / 2) * (box_w + _COL_W)
            centres[node] = (x, row * _ROW_H)
    return centres, all_edges, box_w


def _first_parent_index(node: str, all_edges: list[Edge]) -> int:
    # keep the main path (Next) left of the branches (Choice, Catch) that leave the same state
    for index, edge in enumerate(all_edges):
        if edge.target == node:
            return index * 2 + (edge.kind != "next")
    return len(all_edges) * 2


def draw(definition: Mapping[str, Any], outcomes: Mapping[str, Outcome], title: str = "") -> Figure:
    """The definition as a matplotlib Figure, each state coloured by its outcome."""
    centres, all_edges, box_w = layout(definition)
    xs = [x for x, _ in centres.values()]
    ys = [y for _, y in centres.values()]
    left, right = min(xs) - box_w / 2 - 0.9, max(xs) + box_w / 2 + 0.9
    top, bottom = min(ys) - 0.7 - (0.35 if title else 0), max(ys) + 1.0
    widen = max(0.0, 5.4 - (right - left)) / 2  # room for the legend
    left, right = left - widen, right + widen
    fig = Figure(figsize=(right - left, bottom - top))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)  # y downwards: Start at the top
    ax.set_axis_off()
    if title:
        ax.text(
            (left + right) / 2,
            top + 0.25,
            title,
            ha="center",
            va="center",
            fontsize=10,
            fontweight="bold",
            gid="title",
        )

    shapes = {}
    for node, (x, y) in centres.items():
        if node in (START, END):
            shape = Circle(
                (x, y), 0.16, facecolor="#424242", edgecolor="#424242", gid=node.strip("_")
            )
            ax.text(x + 0.25, y, "Start" if node == START else "End", va="center", fontsize=8)
        else:
            outcome = outcomes.get(node, Outcome(NOT_REACHED, 0))
            shape = FancyBboxPatch(
                (x - box_w / 2, y - _BOX_H / 2),
                box_w,
                _BOX_H,
                boxstyle="round,pad=0,rounding_size=0.08",
                facecolor=COLOURS.get(outcome.status, COLOURS[NOT_REACHED]),
                edgecolor="#424242",
                linewidth=1.0,
                gid=svg_id("state", node),
            )
            _label(ax, node, definition["States"][node], outcome, x, y)
        ax.add_patch(shape)
        shapes[node] = shape

    for edge in all_edges:
        _arrow(ax, edge, centres, shapes)
    ax.legend(
        handles=[Patch(facecolor=c, edgecolor="#424242", label=s) for s, c in COLOURS.items()],
        loc="lower center",
        ncol=len(COLOURS),
        fontsize=7,
        frameon=False,
        bbox_to_anchor=(0.5, 0.0),
        handlelength=1.2,
        columnspacing=0.8,
    )
    return fig


def _label(ax, name: str, state: Mapping[str, Any], outcome: Outcome, x: float, y: float) -> None:
    ax.text(
        x,
        y - 0.12,
        name,
        ha="center",
        va="center",
        fontsize=9,
        fontweight="bold",
        gid=svg_id("name", name),
    )
    detail = f"{state.get('Type', '?')} · {outcome.status}"
    ax.text(x, y + 0.1, detail, ha="center", va="center", fontsize=7, gid=svg_id("status", name))
    if state.get("Type") in ("Task", "Parallel", "Map") or outcome.retries:
        ax.text(
            x,
            y + 0.26,
            f"retries: {outcome.retries}",
            ha="center",
            va="center",
            fontsize=7,
            gid=svg_id("retries", name),
        )


def _arrow(ax, edge: Edge, centres, shapes) -> None:
    (x0, y0), (x1, y1) = centres[edge.source], centres[edge.target]
    downwards = y1 > y0
    skips = downwards and (y1 - y0) > _ROW_H * 1.5 and abs(x1 - x0) < 0.01
    rad = 0.0 if downwards and not skips else (0.35 if downwards else -0.5)
    style = {"catch": ("--", "#e65100"), "choice": ("-", "#1565c0")}.get(
        edge.kind, ("-", "#424242")
    )
    arrow = FancyArrowPatch(
        (x0, y0),
        (x1, y1),
        patchA=shapes[edge.source],
        patchB=shapes[edge.target],
        arrowstyle="-|>",
        mutation_scale=12,
        connectionstyle=f"arc3,rad={rad}",
        linestyle=style[0],
        color=style[1],
        linewidth=1.1,
        shrinkA=1,
        shrinkB=1,
    )
    ax.add_patch(arrow)
    if edge.label:
        # the middle of matplotlib's arc3 curve (y is flipped: the axis grows downwards)
        mid_x = (x0 + x1) / 2 - 0.5 * rad * (y1 - y0)
        mid_y = (y0 + y1) / 2 + 0.5 * rad * (x1 - x0)
        ax.text(
            mid_x,
            mid_y,
            edge.label,
            ha="center",
            va="center",
            fontsize=6.5,
            color=style[1],
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
        )


def write_graph(
    definition: Mapping[str, Any],
    outcomes: Mapping[str, Outcome],
    svg_path: Path,
    png_path: Path | None = None,
    title: str = "",
) -> None:
    """Write the graph as SVG (text kept as <text>, stable ids) and, if asked, PNG."""
    fig = draw(definition, outcomes, title)
    svg_path.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "scones"}):
        fig.savefig(svg_path, format="svg", metadata={"Date": None})
    if png_path is not None:
        fig.savefig(png_path, format="png", dpi=110)
