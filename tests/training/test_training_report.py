"""The threshold curve and the summary table `make train` prints."""

from __future__ import annotations

import numpy as np
from rich.console import Console

from model_training.report import THRESHOLDS, summary_table, threshold_curve


def test_threshold_curve_counts_what_each_threshold_accepts_and_gets_right():
    probs = np.array([[0.99, 0.01], [0.2, 0.8], [0.6, 0.4], [0.05, 0.95]])
    labels = np.array([0, 0, 0, 1])  # the 0.8 one is wrong

    curve = threshold_curve(probs, labels)

    at = {t: i for i, t in enumerate(curve["threshold"])}
    assert curve["threshold"] == THRESHOLDS.tolist()
    assert curve["coverage"][at[0.5]] == 1.0 and curve["accuracy"][at[0.5]] == 0.75
    i = int(np.searchsorted(THRESHOLDS, 0.9))  # first threshold >= 0.9: 0.99 and 0.95 accepted
    assert curve["coverage"][i] == 0.5 and curve["accuracy"][i] == 1.0
    assert curve["coverage"][-1] == 0.0 and curve["accuracy"][-1] is None  # 0.995: none accepted
    assert all(a >= b for a, b in zip(curve["coverage"], curve["coverage"][1:]))


def test_summary_table_puts_test_and_held_out_figures_side_by_side():
    metrics = {
        "threshold": 0.93,
        "temperature": 1.5,
        "test_images": 200,
        "accuracy": 0.94,
        "coverage": 0.69,
        "accuracy_at_threshold": 1.0,
        "training_seconds": 130.0,
        "epochs": 120,
        "uncalibrated": {"coverage": 0.805},
        "out_of_fold": {
            "images": 1000,
            "accuracy": 0.903,
            "coverage": 0.634,
            "accuracy_at_threshold": None,
        },
    }
    console = Console(width=120, record=True)
    console.print(summary_table(metrics))
    text = console.export_text()
    assert "test (200 images)" in text and "held-out train (1000, out of fold)" in text
    assert "0.940" in text and "0.903" in text and "0.805" in text
    assert "n/a (none accepted)" in text and "130 s (120 epochs)" in text
