"""The shipped artifact (model_training/artifact/): layout, metadata, and its test figures
recomputed from the PNGs through onnxruntime with the model server's preprocessing (the one
training used; tests/model_server/test_model_server_preprocess.py holds it to the docs)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from PIL import Image

from harness.config import DEFAULT_MODEL_ARTIFACT
from harness.dataset import listed_images
from harness.model_server.preprocess import metadata_input

ARTIFACT = DEFAULT_MODEL_ARTIFACT
METRICS_BESIDE = ARTIFACT.parent / "metrics.json"


@pytest.fixture(scope="module")
def members() -> dict[str, bytes]:
    with tarfile.open(ARTIFACT, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


@pytest.fixture(scope="module")
def metrics(members) -> dict:
    return json.loads(members["metrics.json"])


def preprocess(path: Path, meta: dict) -> np.ndarray:
    with Image.open(path) as image:
        return metadata_input(image, meta)


def test_layout_is_three_files_at_the_root_and_small(members):
    assert sorted(members) == ["metadata.json", "metrics.json", "model.onnx"]
    assert ARTIFACT.stat().st_size < 2_500_000  # four small CNNs, weights stored as float16
    assert json.loads(members["metrics.json"]) == json.loads(METRICS_BESIDE.read_text())


def test_metadata_is_what_the_model_server_expects(members):
    meta = json.loads(members["metadata.json"])
    assert meta["format_version"] == 1
    assert meta["labels"] == ["bicycle", "motorcycle"]
    assert meta["input"] == {
        "name": "input",
        "height": 32,
        "width": 32,
        "channels": 3,
        "layout": "NCHW",
        "color_mode": "RGB",
        "dtype": "float32",
    }
    assert meta["output"] == {"name": "probabilities", "kind": "probabilities"}
    norm = meta["normalization"]
    assert norm["scale"] == pytest.approx(1 / 255)
    assert len(norm["mean"]) == len(norm["std"]) == 3

    model = onnx.load_from_string(members["model.onnx"])
    onnx.checker.check_model(model)
    assert max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx")) >= 17
    (graph_input,) = model.graph.input
    dims = graph_input.type.tensor_type.shape.dim
    assert graph_input.name == "input" and not dims[0].HasField("dim_value")  # dynamic batch
    assert [d.dim_value for d in dims[1:]] == [3, 32, 32]
    assert [o.name for o in model.graph.output] == ["probabilities"]


def test_metrics_carry_what_monitoring_and_the_readme_need(metrics):
    for key in (
        "accuracy",
        "coverage",
        "accuracy_at_threshold",
        "confusion_matrix",
        "training_seconds",
        "epochs",
        "data_hash",
        "versions",
        "seed",
        "temperature",
    ):
        assert key in metrics, key
    assert metrics["threshold"] == 0.93
    assert set(metrics["versions"]) >= {"torch", "onnx", "onnxruntime", "numpy"}
    assert np.asarray(metrics["confusion_matrix"]).sum() == metrics["test_images"] == 200
    assert len(metrics["test_predictions"]) == 200
    first = metrics["test_predictions"][0]
    assert set(first) == {"path", "label", "probabilities"}
    assert (
        first["path"].startswith("test/")
        and first["label"] in (0, 1)
        and len(first["probabilities"]) == 2
    )


def test_test_figures_recomputed_through_onnxruntime_match_metrics(members, metrics, data_dir):
    meta = json.loads(members["metadata.json"])
    session = onnxruntime.InferenceSession(
        members["model.onnx"], providers=["CPUExecutionProvider"]
    )
    images = listed_images(data_dir)
    labels = np.array([image.label for image in images])
    batch = np.stack([preprocess(image.path, meta) for image in images])

    (probs,) = session.run([meta["output"]["name"]], {meta["input"]["name"]: batch})

    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    accuracy = float((probs.argmax(1) == labels).mean())
    accepted = probs.max(1) >= metrics["threshold"]
    assert accuracy == pytest.approx(metrics["accuracy"], abs=1e-9)
    assert accepted.mean() == pytest.approx(metrics["coverage"], abs=1e-9)
    assert (probs.argmax(1) == labels)[accepted].mean() == pytest.approx(
        metrics["accuracy_at_threshold"]
    )
    baseline = {p["path"]: p for p in metrics["test_predictions"]}
    for image, row in zip(images, probs):
        entry = baseline[image.key]
        assert entry["label"] == image.label
        np.testing.assert_allclose(entry["probabilities"], row, atol=1e-5)
