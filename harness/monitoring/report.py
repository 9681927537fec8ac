"""The monitoring report: summary figures, index.html with the PNGs, summary.json, rich table."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.labels import LABELS
from harness.monitoring import plots
from harness.monitoring.drift import CLASS_SHIFT_EXPLAINED, PSI_EXPLAINED, Baseline, Drift, compare
from harness.monitoring.labels import Accuracy, accuracy
from harness.monitoring.records import Problem
from harness.monitoring.sources import Capture

MAX_PROBLEMS_SHOWN = 200


@dataclass
class Summary:
    source: str
    files: int
    records: int
    threshold: float
    problems: list[Problem]
    window: tuple[datetime, datetime] | None = None
    below: int = 0
    class_counts: dict[str, int] = field(default_factory=dict)
    accuracy: Accuracy = field(default_factory=lambda: Accuracy(0, 0))
    drift: Drift | None = None
    baseline_note: str = ""

    @property
    def share_below(self) -> float | None:
        return self.below / self.records if self.records else None

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "files": self.files,
            "records": self.records,
            "threshold": self.threshold,
            "below_threshold": self.below,
            "share_below": self.share_below,
            "window": [t.isoformat() for t in self.window] if self.window else None,
            "class_counts": self.class_counts,
            "accuracy": {
                "known": self.accuracy.known,
                "correct": self.accuracy.correct,
                "value": self.accuracy.value,
            },
            "drift": None
            if self.drift is None
            else {
                "psi_confidence": self.drift.psi_confidence,
                "class_shift": self.drift.class_shift,
                "flagged": self.drift.flagged,
                "verdict": self.drift.verdict,
            },
            "baseline": self.baseline_note,
            "problems": [
                {"source": p.source, "line": p.line, "reason": p.reason} for p in self.problems
            ],
        }


def summarize(
    capture: Capture,
    threshold: float,
    labels: dict[str, int],
    baseline: Baseline | None,
    baseline_path: Path | None = None,
) -> Summary:
    recs = capture.records
    summary = Summary(capture.description, capture.files, len(recs), threshold, capture.problems)
    if baseline is None:
        summary.baseline_note = (
            f"no baseline at {baseline_path}: drift not computed (`make train` writes it)"
        )
    else:
        summary.baseline_note = (
            f"{len(baseline.probabilities)} test-set predictions from {baseline.path}"
        )
    if not recs:
        return summary
    summary.window = (recs[0].time, recs[-1].time)
    summary.below = sum(r.confidence < threshold for r in recs)
    summary.class_counts = {
        label: sum(r.predicted == k for r in recs) for k, label in enumerate(LABELS)
    }
    summary.accuracy = accuracy(recs, labels)
    if baseline is not None:
        summary.drift = compare([r.confidence for r in recs], [r.predicted for r in recs], baseline)
    return summary


def write_report(
    summary: Summary,
    capture: Capture,
    out: Path,
    labels: dict[str, int],
    baseline: Baseline | None = None,
    executions: Sequence[tuple[str, str]] | None = None,
) -> list[plots.Plot]:
    """Draw the charts and write out/index.html and out/summary.json. Needs at least one record."""
    out.mkdir(parents=True, exist_ok=True)
    recs = capture.records
    drawn = [
        plots.confidence_over_time(recs, summary.threshold, out),
        plots.confidence_histogram(
            [r.confidence for r in recs],
            summary.threshold,
            out,
            baseline.confidences if baseline else None,
        ),
        plots.class_mix_over_time(recs, out),
        plots.below_threshold_over_time(recs, summary.threshold, out),
    ]
    if summary.drift is not None:
        drawn.append(plots.drift_bins(summary.drift, out))
    thumbs = plots.lowest_confidence(recs, out, labels)
    if thumbs is not None:
        drawn.append(thumbs)
    (out / "index.html").write_text(render_html(summary, drawn, executions))
    data = summary.to_dict() | {"plots": {p.name: p.data for p in drawn}}
    (out / "summary.json").write_text(json.dumps(data, indent=2, default=str))
    return drawn


def _rows(summary: Summary) -> list[tuple[str, str]]:
    start, end = summary.window or (None, None)
    acc = summary.accuracy
    return [
        ("source", summary.source),
        ("files read", str(summary.files)),
        ("records", str(summary.records)),
        ("window (UTC)", f"{start:%Y-%m-%d %H:%M:%S} .. {end:%Y-%m-%d %H:%M:%S}" if start else "-"),
        ("threshold", f"{summary.threshold:g}"),
        (
            "below threshold",
            f"{summary.below} ({summary.share_below:.1%})" if summary.records else "-",
        ),
        ("class mix", ", ".join(f"{k} {v}" for k, v in summary.class_counts.items()) or "-"),
        (
            "accuracy (known labels)",
            f"{acc.value:.1%} ({acc.correct}/{acc.known} matched test images)"
            if acc.known
            else "no known labels",
        ),
        ("drift", summary.drift.verdict if summary.drift else summary.baseline_note),
        ("problems (skipped)", str(len(summary.problems))),
    ]


def render_html(
    summary: Summary,
    drawn: Sequence[plots.Plot],
    executions: Sequence[tuple[str, str]] | None = None,
) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Scones monitoring</title>",
        (
            "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}"
            "td,th{padding:2px 10px;text-align:left}img{max-width:100%}.flag{color:#d62728;font-weight:bold}"
            "</style></head><body>"
        ),
        "<h1>Data Capture monitoring</h1>",
        "<h2>Summary</h2><table>",
        *(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _rows(summary)),
        "</table>",
        "<h2>Drift</h2>",
    ]
    if summary.drift:
        d = summary.drift
        mix = ", ".join(
            f"{label} {b:.0%} -> {c:.0%}"
            for label, b, c in zip(LABELS, d.baseline_class_shares, d.captured_class_shares)
        )
        parts += [
            f"<p class='{'flag' if d.flagged else ''}'>{e(d.verdict)}</p>",
            (
                f"<p>PSI of top confidence: {d.psi_confidence:.3f}. Class mix (test set -> captured): "
                f"{e(mix)}; largest shift {d.class_shift:.1%}.</p>"
            ),
            f"<p>{e(PSI_EXPLAINED)}</p><p>{e(CLASS_SHIFT_EXPLAINED)}</p>",
            f"<p>Baseline: {e(summary.baseline_note)}</p>",
        ]
    else:
        parts.append(f"<p>{e(summary.baseline_note)}</p>")
    parts.append("<h2>Charts</h2>")
    for p in drawn:
        parts.append(f"<h3>{e(p.title)}</h3><img src='{e(p.name)}' alt='{e(p.title)}'>")
    if executions:
        parts.append("<h2>Latest executions</h2><ul>")
        parts += [f"<li><a href='{e(link)}'>{e(title)}</a></li>" for title, link in executions]
        parts.append("</ul>")
    parts.append(f"<h2>Problems ({len(summary.problems)} skipped)</h2>")
    if summary.problems:
        parts.append("<ul>")
        parts += [
            f"<li><code>{e(str(p))}</code></li>" for p in summary.problems[:MAX_PROBLEMS_SHOWN]
        ]
        if len(summary.problems) > MAX_PROBLEMS_SHOWN:
            parts.append(
                f"<li>... and {len(summary.problems) - MAX_PROBLEMS_SHOWN} more (summary.json)</li>"
            )
        parts.append("</ul>")
    else:
        parts.append("<p>none</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def print_summary(summary: Summary, index: Path | None, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title="Data Capture monitoring", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in _rows(summary):
        style = "red" if key == "drift" and summary.drift and summary.drift.flagged else None
        table.add_row(key, value, style=style)
    console.print(table)
    for p in summary.problems[:10]:
        console.print(f"[yellow]skipped[/] {p}", highlight=False)
    if len(summary.problems) > 10:
        console.print(f"... and {len(summary.problems) - 10} more problems (see the report)")
    if index is not None:
        console.print(f"report: {index}", soft_wrap=True)  # a path must stay copyable
