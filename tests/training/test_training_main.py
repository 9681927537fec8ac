"""`python -m model_training`: the whole pipeline on the real data with a tiny network, and the
SageMaker-style failure file."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from PIL import Image

from harness.config import REPO_ROOT
from model_training import __main__ as cli
from model_training.export import read_artifact
from model_training.pipeline import run
from model_training.train import TrainConfig


def test_pipeline_writes_artifact_and_metrics(data_dir, tmp_path):
    config = TrainConfig(seed=1, folds=2, max_epochs=1, min_epochs=1, widths=(4, 8, 8))

    metrics = run(data_dir, tmp_path, config, threshold=0.93, progress=False)

    members = read_artifact(tmp_path / "model.tar.gz")
    assert json.loads(members["metrics.json"]) == json.loads(
        (tmp_path / "metrics.json").read_text()
    )
    assert metrics["epochs"] == 2 and metrics["seed"] == 1  # one epoch for each of the two folds
    assert metrics["onnx_max_abs_diff"] <= 1e-4
    assert metrics["float16_weights_max_abs_diff"] <= 2e-3
    assert metrics["out_of_fold"]["images"] == 1000  # every train image, predicted out of fold
    assert metrics["data_hash"].startswith("sha256:")
    predictions = metrics["test_predictions"]
    probs = np.array([p["probabilities"] for p in predictions])
    labels = np.array([p["label"] for p in predictions])
    assert metrics["accuracy"] == (probs.argmax(1) == labels).mean()
    assert np.asarray(metrics["confusion_matrix"]).trace() == round(metrics["accuracy"] * 200)


def test_failure_writes_the_failure_file_and_exits_non_zero(tmp_path, monkeypatch):
    monkeypatch.setenv("SM_OUTPUT_DIR", str(tmp_path / "output"))
    empty = tmp_path / "no-data"
    empty.mkdir()

    code = cli.main(["--data-dir", str(empty), "--output", str(tmp_path / "artifact"), "--quiet"])

    assert code == 1
    failure = (tmp_path / "output" / "failure").read_text()
    assert "incomplete" in failure and "model_training.data" in failure
    assert not (tmp_path / "artifact").exists()


def test_module_help_runs_without_training():
    out = subprocess.run(
        [sys.executable, "-m", "model_training", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0 and "--data-dir" in out.stdout


def test_cli_flags_reach_the_training_and_it_reports_a_table_and_curves(
    data_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SM_OUTPUT_DIR", str(tmp_path / "output"))
    out = tmp_path / "artifact"

    code = cli.main(
        [
            "--data-dir",
            str(data_dir),
            "--output",
            str(out),
            "--quiet",
            "--seed",
            "5",
            "--folds",
            "2",
            "--max-epochs",
            "1",
            "--early-stopping",
        ]
    )

    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["early_stopping"] is True and metrics["config"]["folds"] == 2
    assert [m["seed"] for m in metrics["members"]] == [5, 6]
    assert metrics["out_of_fold"]["images"] == 1000
    printed = capsys.readouterr().out
    assert (
        "Trained model" in printed
        and "held-out train" in printed
        and "accuracy among accepted" in printed
    )
    plot = tmp_path / "output" / "threshold-curve.png"
    assert f"threshold curves (coverage and accuracy against the threshold): {plot}" in printed
    with Image.open(plot) as image:
        assert image.format == "PNG" and image.width > 400


def test_one_fold_is_refused_with_a_hint(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SM_OUTPUT_DIR", str(tmp_path / "output"))

    code = cli.main(
        ["--data-dir", str(data_dir), "--output", str(tmp_path / "a"), "--quiet", "--folds", "1"]
    )

    assert code == 1
    err = capsys.readouterr().err
    assert "folds must be at least 2" in err and "--folds 2" in err


def test_summary_says_when_no_test_image_was_accepted():
    metrics = {
        "accuracy": 0.5,
        "threshold": 0.93,
        "coverage": 0.0,
        "accuracy_at_threshold": None,
        "temperature": 1.0,
        "epochs": 2,
        "training_seconds": 3.0,
    }
    assert "accuracy n/a, none accepted" in cli.summary(metrics)
