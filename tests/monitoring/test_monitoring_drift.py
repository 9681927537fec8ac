"""Drift statistics and the baseline file."""

from __future__ import annotations

import io
import json
import math
import tarfile
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.monitoring.drift import CONFIDENCE_BINS, load_baseline, psi, shares
from tests.monitoring.monitoring_helpers import write_baseline


def test_bins_are_half_open_and_the_last_includes_one():
    got = shares([0.5, 0.949, 0.95, 0.99, 1.0], CONFIDENCE_BINS)
    # bins: 0-0.5, 0.5-0.6, 0.6-0.7, 0.7-0.8, 0.8-0.9, 0.9-0.95, 0.95-0.99, 0.99-1
    assert got == [0, 0.2, 0, 0, 0, 0.2, 0.2, 0.4]


def test_psi_matches_the_formula():
    expected = 0.25 * math.log(2) + 0.25 * math.log(1.5)  # by hand: (a - e) ln(a / e), two bins
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(expected)
    assert psi([0.3, 0.7], [0.3, 0.7]) == 0


def test_baseline_from_metrics_json_or_inside_the_artifact(tmp_path: Path):
    metrics = write_baseline(tmp_path / "metrics.json", [0.99, 0.8, 0.7])
    assert load_baseline(metrics).confidences == [0.99, 0.8, 0.7]
    assert load_baseline(metrics).predicted == [0, 1, 0]

    artifact = tmp_path / "model.tar.gz"
    with tarfile.open(artifact, "w:gz") as tar:
        data = metrics.read_bytes()
        info = tarfile.TarInfo("metrics.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert load_baseline(artifact).confidences == [0.99, 0.8, 0.7]
    assert load_baseline(tmp_path / "absent.json") is None


def test_unusable_baseline_is_a_user_error(tmp_path: Path):
    bad = tmp_path / "metrics.json"
    bad.write_text(json.dumps({"accuracy": 0.9}))
    with pytest.raises(HarnessError) as err:
        load_baseline(bad)
    assert "test_predictions" in err.value.message and "--baseline" in err.value.hint
