"""The report's PNG charts. Each function draws one file and returns what it actually drew.

Figures are built with `matplotlib.figure.Figure` (no pyplot, no global state, Agg),
and `Plot.data` is read back from the drawn artists, so tests check the chart itself.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import itertools

import matplotlib.dates as mdates
from matplotlib.figure import Figure
from PIL import Image

from harness.labels import LABELS
from harness.monitoring.drift import CONFIDENCE_BINS, Drift
from harness.monitoring.records import CaptureRecord

BELOW, ABOVE = "#d62728", "#1f77b4"
CLASS_COLOURS = ("#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")


@dataclass(frozen=True)
class Plot:
    name: str  # file name inside the report folder
    title: str
    data: dict[str, Any] = field(default_factory=dict)


def _save(fig: Figure, out: Path, name: str, tight: bool = True) -> None:
    if tight:  # the thumbnail grid sets its own margins: tight_layout over 8 axes is slow
        fig.tight_layout()
    fig.savefig(out / name, dpi=100, format="png")


def confidence_over_time(records: Sequence[CaptureRecord], threshold: float, out: Path) -> Plot:
    """The "Observed Recent Inferences" chart: top confidence by inference time, threshold drawn."""
    fig = Figure(figsize=(9, 4))
    ax = fig.add_subplot()
    below = [r for r in records if r.confidence < threshold]
    above = [r for r in records if r.confidence >= threshold]
    drawn = []
    for group, colour, label in (
        (above, ABOVE, "at or above threshold"),
        (below, BELOW, "below threshold"),
    ):
        if group:
            drawn.append(
                ax.scatter(
                    [r.time for r in group],
                    [r.confidence for r in group],
                    s=22,
                    c=colour,
                    label=f"{label} ({len(group)})",
                    zorder=3,
                )
            )
    line = ax.axhline(
        threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {threshold:g}"
    )
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_ylim(min(0.45, min(r.confidence for r in records) - 0.05), 1.02)
    ax.set(
        xlabel="inference time (UTC)",
        ylabel="top confidence",
        title=f"Observed inferences: {len(below)} of {len(records)} below the threshold",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    _save(fig, out, "confidence_over_time.png")
    points = sum(len(a.get_offsets()) for a in drawn)
    below_drawn = sum(len(a.get_offsets()) for a in drawn if "below" in a.get_label())
    return Plot(
        "confidence_over_time.png",
        "Top confidence over time",
        {"points": points, "below": below_drawn, "threshold": float(line.get_ydata()[0])},
    )


def confidence_histogram(
    confidences: Sequence[float],
    threshold: float,
    out: Path,
    baseline: Sequence[float] | None = None,
) -> Plot:
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    low = min(0.5, min(confidences))
    bins = [low + i * (1.0 - low) / 20 for i in range(21)]
    counts, _, _ = ax.hist(confidences, bins=bins, color=ABOVE, alpha=0.8, label="captured")
    if baseline:
        twin = ax.twinx()  # test set on its own scale: it is a different number of images
        twin.hist(baseline, bins=bins, histtype="step", color="black", label="test set (baseline)")
        twin.set_ylabel("test-set images")
        twin.legend(loc="upper center", fontsize=8)
    ax.axvline(threshold, color=BELOW, linestyle="--", label=f"threshold {threshold:g}")
    ax.set(xlabel="top confidence", ylabel="captured inferences", title="Top confidence")
    ax.legend(loc="upper left", fontsize=8)
    _save(fig, out, "confidence_histogram.png")
    return Plot(
        "confidence_histogram.png",
        "Histogram of top confidence",
        {"records": int(sum(counts)), "bins": len(bins) - 1},
    )


def _bucketing(start: datetime, end: datetime) -> tuple[Callable[[datetime], datetime], str]:
    """A time bucket fitting the window, and the label format for it."""
    span = end - start
    if span <= timedelta(hours=3):
        return (
            lambda t: t.replace(minute=t.minute - t.minute % 10, second=0, microsecond=0)
        ), "%m-%d %H:%M"
    if span <= timedelta(days=2):
        return (lambda t: t.replace(minute=0, second=0, microsecond=0)), "%m-%d %H:00"
    if span <= timedelta(days=60):
        return (lambda t: t.replace(hour=0, minute=0, second=0, microsecond=0)), "%Y-%m-%d"
    return (lambda t: t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)), "%Y-%m"


def buckets(records: Sequence[CaptureRecord]) -> tuple[list[str], list[list[CaptureRecord]]]:
    """Records grouped into time buckets; only non-empty buckets, in time order."""
    floor, fmt = _bucketing(records[0].time, records[-1].time)
    groups: dict[datetime, list[CaptureRecord]] = {}
    for r in records:
        groups.setdefault(floor(r.time), []).append(r)
    keys = sorted(groups)
    return [k.strftime(fmt) for k in keys], [groups[k] for k in keys]


def class_mix_over_time(records: Sequence[CaptureRecord], out: Path) -> Plot:
    names, groups = buckets(records)
    fig = Figure(figsize=(9, 4))
    ax = fig.add_subplot()
    bottom = [0] * len(groups)
    counts = {}
    for k, label in enumerate(LABELS):
        heights = [sum(1 for r in g if r.predicted == k) for g in groups]
        bars = ax.bar(
            range(len(groups)), heights, bottom=bottom, color=CLASS_COLOURS[k], label=label
        )
        counts[label] = [int(b.get_height()) for b in bars]
        bottom = [b + h for b, h in zip(bottom, heights)]
    ax.set_xticks(range(len(groups)), names, rotation=45, ha="right", fontsize=8)
    ax.set(ylabel="inferences", title="Predicted class mix over time (UTC buckets with captures)")
    ax.legend(fontsize=8)
    _save(fig, out, "class_mix_over_time.png")
    return Plot(
        "class_mix_over_time.png",
        "Predicted class mix over time",
        {"buckets": len(groups), "counts": counts},
    )


def below_threshold_over_time(
    records: Sequence[CaptureRecord], threshold: float, out: Path
) -> Plot:
    names, groups = buckets(records)
    fig = Figure(figsize=(9, 3.5))
    ax = fig.add_subplot()
    shares = [sum(r.confidence < threshold for r in g) / len(g) for g in groups]
    bars = ax.bar(range(len(groups)), shares, color=BELOW)
    for bar, g in zip(bars, groups):
        ax.annotate(
            f"n={len(g)}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    ax.set_xticks(range(len(groups)), names, rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set(
        ylabel="share below threshold",
        title=f"Share of inferences below the threshold {threshold:g}",
    )
    _save(fig, out, "below_threshold_over_time.png")
    return Plot(
        "below_threshold_over_time.png",
        "Share below the threshold over time",
        {"buckets": len(groups), "shares": [float(b.get_height()) for b in bars]},
    )


def lowest_confidence(
    records: Sequence[CaptureRecord], out: Path, labels: dict[str, int], count: int = 8
) -> Plot | None:
    """Thumbnails of the least confident captured inputs, with prediction and known label."""
    chosen = sorted((r for r in records if r.image), key=lambda r: r.confidence)[:count]
    if not chosen:
        return None
    fig = Figure(figsize=(2 * len(chosen), 2.6))
    shown = []
    for i, r in enumerate(chosen, start=1):
        ax = fig.add_subplot(1, len(chosen), i)
        ax.axis("off")
        try:
            with Image.open(io.BytesIO(r.image)) as img:
                ax.imshow(img.convert("RGB"), interpolation="nearest")
        except OSError:
            ax.text(0.5, 0.5, "undecodable", ha="center", va="center")
        truth = labels.get(r.pixel_hash or "")
        caption = f"{r.predicted_label} {r.confidence:.2f}"
        if truth is not None:
            caption += f"\ntrue: {LABELS[truth]}"
        ax.set_title(caption + f"\n{r.time:%Y-%m-%d %H:%M}", fontsize=8)
        shown.append(
            {"event_id": r.event_id, "confidence": r.confidence, "source": r.source, "line": r.line}
        )
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.78, wspace=0.1)
    _save(fig, out, "lowest_confidence.png", tight=False)
    return Plot(
        "lowest_confidence.png", f"The {len(chosen)} least confident inputs", {"thumbnails": shown}
    )


def drift_bins(drift: Drift, out: Path) -> Plot:
    """The PSI's own view: share per fixed confidence bin, captured next to baseline."""
    fig = Figure(figsize=(7, 3.5))
    ax = fig.add_subplot()
    names = [f"{a:g}-{b:g}" for a, b in itertools.pairwise(CONFIDENCE_BINS)]
    x = range(len(names))
    ax.bar(
        [i - 0.2 for i in x], drift.baseline_bin_shares, width=0.4, color="grey", label="test set"
    )
    ax.bar(
        [i + 0.2 for i in x], drift.captured_bin_shares, width=0.4, color=ABOVE, label="captured"
    )
    ax.set_xticks(list(x), names, fontsize=8)
    ax.set(
        xlabel="top confidence bin",
        ylabel="share",
        title=f"Confidence bins behind the PSI ({drift.psi_confidence:.3f})",
    )
    ax.legend(fontsize=8)
    _save(fig, out, "drift_bins.png")
    return Plot(
        "drift_bins.png", "Drift: confidence bins, test set vs captured", {"bins": len(names)}
    )
