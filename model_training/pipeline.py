"""data -> training -> temperature -> ONNX -> checks -> model.tar.gz + metrics.json."""

from __future__ import annotations

import platform
import tempfile
import time
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

from harness.errors import HarnessError
from model_training import calibration, report
from model_training.dataset import data_hash, load_split
from model_training.export import (
    export_onnx,
    onnx_probabilities,
    pack,
    store_weights_as_float16,
    to_json,
)
from model_training.preprocess import METADATA
from model_training.train import TrainConfig, TrainResult, train

# The exported graph must compute what PyTorch computes.
ONNX_TOLERANCE = 1e-4


def package_versions() -> dict[str, str]:
    names = ("torch", "onnx", "onnxruntime", "numpy", "pillow")
    return {"python": platform.python_version(), **{name: version(name) for name in names}}


def export_checked(
    result: TrainResult, temperature: float, images: np.ndarray
) -> tuple[bytes, float, np.ndarray, np.ndarray]:
    """Export, then compare onnxruntime's probabilities with PyTorch's on `images`. Returns the
    graph, the largest difference, onnxruntime's probabilities and PyTorch's logits (before
    the temperature) on `images`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        serving = export_onnx(result.nets, temperature, path)
        onnx_bytes = path.read_bytes()
    with torch.no_grad():
        logits = serving.logits(torch.from_numpy(images))
        expected = torch.softmax(logits * serving.inv_temperature, dim=1).numpy()  # serving.forward
    probs = onnx_probabilities(onnx_bytes, images)
    diff = float(np.abs(probs - expected).max())
    if diff > ONNX_TOLERANCE:
        raise HarnessError(
            f"the ONNX graph differs from PyTorch by {diff:.2e} (> {ONNX_TOLERANCE})",
            "check the torch / onnx / onnxruntime versions pinned in pyproject.toml",
        )
    return onnx_bytes, diff, probs, logits.numpy()


def evaluate(probs: np.ndarray, labels: np.ndarray, paths: list[str], threshold: float) -> dict:
    return {
        "test_images": len(labels),
        "accuracy": float((probs.argmax(1) == labels).mean()),
        **calibration.acceptance(probs, labels, threshold),
        "confusion_matrix": calibration.confusion_matrix(probs, labels),
        "confusion_matrix_axes": "rows: true label, columns: predicted label; 0 bicycle, 1 motorcycle",
        "test_predictions": [
            {"path": path, "label": int(label), "probabilities": [float(p) for p in row]}
            for path, label, row in zip(paths, labels, probs)
        ],
    }


def out_of_fold_metrics(
    logits: np.ndarray, labels: np.ndarray, temperature: float, threshold: float
) -> dict:
    """How the networks do on train/ images they never saw: what the temperature is fitted on."""
    accepted = calibration.acceptance(calibration.softmax(logits, temperature), labels, threshold)
    return {
        "images": len(labels),
        "accuracy": float((logits.argmax(1) == labels).mean()),
        "nll_before": calibration.nll(logits, labels),
        "nll_after": calibration.nll(logits, labels, temperature),
        **{k: accepted[k] for k in ("coverage", "accuracy_at_threshold")},
    }


def run(
    data_dir: Path,
    output_dir: Path,
    config: TrainConfig | None = None,
    threshold: float = 0.93,
    progress: bool = True,
    plot_path: Path | None = None,
) -> dict:
    """Train, export, check and write `output_dir/model.tar.gz` and `output_dir/metrics.json`
    (and, given `plot_path`, the threshold curves of test/ and of the out-of-fold predictions)."""
    config = config or TrainConfig()
    started = time.perf_counter()
    train_split, test_split = load_split(data_dir, "train"), load_split(data_dir, "test")
    result = train(train_split, config, progress=progress)

    # one temperature fitted on the out-of-fold predictions of train/ (never on test/), folded
    # into the graph
    oof, oof_labels = result.out_of_fold, train_split.labels
    temperature = calibration.fit_temperature(oof, oof_labels)
    onnx_bytes, diff, full_precision, test_logits = export_checked(
        result, temperature, test_split.images
    )
    onnx_bytes = store_weights_as_float16(onnx_bytes)

    # every test figure comes from onnxruntime running the shipped graph: what the endpoint serves
    probs = onnx_probabilities(onnx_bytes, test_split.images)
    uncalibrated = calibration.acceptance(
        calibration.softmax(test_logits), test_split.labels, threshold
    )
    evaluation = evaluate(probs, test_split.labels, test_split.paths, threshold)
    predictions = evaluation.pop("test_predictions")
    metrics = {
        "format_version": 1,
        **evaluation,
        "uncalibrated": {
            k: uncalibrated[k] for k in ("accepted", "coverage", "accuracy_at_threshold")
        },
        "temperature": temperature,
        "out_of_fold": out_of_fold_metrics(oof, oof_labels, temperature, threshold),
        "training_seconds": round(result.seconds, 1),
        "epochs": result.epochs_run,
        "members": [
            {k: m[k] for k in ("seed", "epochs_run", "best_epoch")} for m in result.members
        ],
        "seed": config.seed,
        "config": asdict(config),
        "parameters": sum(p.numel() for net in result.nets for p in net.parameters()),
        "onnx_max_abs_diff": diff,  # float32 graph vs PyTorch
        "float16_weights_max_abs_diff": float(np.abs(probs - full_precision).max()),
        "data_hash": data_hash(data_dir),
        "versions": package_versions(),
        "total_seconds": round(time.perf_counter() - started, 1),
        "test_predictions": predictions,
    }
    if plot_path is not None:
        curves = {
            "test": report.threshold_curve(probs, test_split.labels),
            "held-out train": report.threshold_curve(
                calibration.softmax(oof, temperature), oof_labels
            ),
        }
        report.plot_threshold_curves(curves, threshold, plot_path)
    output_dir.mkdir(parents=True, exist_ok=True)
    pack(output_dir / "model.tar.gz", onnx_bytes, METADATA, metrics)
    (output_dir / "metrics.json").write_bytes(to_json(metrics))
    return metrics
