"""What `make train` shows besides its progress bars: a table of the figures that decide whether
the model is good enough, and the threshold curve that shows what the filter's 0.93 costs.

The curve is drawn for the test images and for the out-of-fold train predictions (what the
temperature was fitted on), so a gap between the two is visible, not hidden in one number.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.table import Table

from model_training.calibration import acceptance

AIM_ACCURACY = 0.98  # accuracy among accepted images the filter should deliver (issue 3)
THRESHOLDS = np.round(np.linspace(0.5, 0.995, 100), 4)


def threshold_curve(probs: np.ndarray, labels: np.ndarray) -> dict[str, list[float | None]]:
    """Coverage and accuracy among the accepted (`calibration.acceptance`) at each candidate threshold."""
    points = [acceptance(probs, labels, float(t)) for t in THRESHOLDS]
    return {
        "threshold": THRESHOLDS.tolist(),
        "coverage": [p["coverage"] for p in points],
        "accuracy": [p["accuracy_at_threshold"] for p in points],
    }


def plot_threshold_curves(curves: dict[str, dict], threshold: float, path: Path) -> Path:
    """One PNG: coverage (solid) and accuracy among accepted (dashed) against the threshold."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2))
    ax = fig.add_subplot()
    for (name, curve), colour in zip(curves.items(), ("#1f77b4", "#ff7f0e")):
        x = curve["threshold"]
        ax.plot(x, curve["coverage"], color=colour, label=f"{name}: coverage")
        accuracy = [np.nan if a is None else a for a in curve["accuracy"]]
        ax.plot(x, accuracy, color=colour, linestyle="--", label=f"{name}: accuracy among accepted")
    ax.axvline(threshold, color="grey", linewidth=1)
    ax.axhline(
        AIM_ACCURACY,
        color="grey",
        linewidth=1,
        linestyle=":",
        label=f"aim: {AIM_ACCURACY} accuracy among accepted",
    )
    ax.text(threshold, 0.02, f"threshold {threshold} ", color="grey", ha="right")
    ax.set(
        xlabel="confidence threshold",
        ylabel="share",
        ylim=(0, 1.01),
        xlim=(0.5, 1.0),
        title="What the filter accepts, and how often it is right",
    )
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    return path


def _share(value: float | None) -> str:
    return "n/a (none accepted)" if value is None else f"{value:.3f}"


def summary_table(metrics: dict) -> Table:
    """The figures of metrics.json a user reads first, test and held-out train side by side."""
    oof, unc = metrics["out_of_fold"], metrics["uncalibrated"]
    table = Table(
        title=f"Trained model (threshold {metrics['threshold']}, temperature "
        f"{metrics['temperature']:.3f})"
    )
    table.add_column("figure")
    table.add_column(f"test ({metrics['test_images']} images)", justify="right")
    table.add_column(f"held-out train ({oof['images']}, out of fold)", justify="right")
    table.add_row("accuracy", f"{metrics['accuracy']:.3f}", f"{oof['accuracy']:.3f}")
    table.add_row("coverage at threshold", f"{metrics['coverage']:.3f}", f"{oof['coverage']:.3f}")
    table.add_row(
        "accuracy among accepted",
        _share(metrics["accuracy_at_threshold"]),
        _share(oof["accuracy_at_threshold"]),
    )
    table.add_row("coverage without temperature", f"{unc['coverage']:.3f}", "")
    table.add_row(
        "training time", f"{metrics['training_seconds']:.0f} s ({metrics['epochs']} epochs)", ""
    )
    return table
