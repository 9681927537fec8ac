"""A tiny deterministic model.tar.gz (docs/model-artifact.md) for tests, built with `onnx`, no torch.

The network averages each colour channel of the normalized input and scores
    logit_bicycle    = gain * (mean_B - mean_R)
    logit_motorcycle = gain * (mean_R - mean_B)
so a red image is a "motorcycle", a blue one a "bicycle" and a grey one a coin toss.
`expected_probabilities()` computes the same answer with numpy, independently of the server.
"""

from __future__ import annotations

import copy
import io
import json
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZE = 32
NORMALIZATION = {
    "scale": 1 / 255,
    "mean": [0.5071, 0.4865, 0.4409],
    "std": [0.2673, 0.2564, 0.2762],
}
GAIN = 0.5


def _graph(kind: str, gain: float) -> onnx.ModelProto:
    weights = np.array([[-gain, gain], [0.0, 0.0], [gain, -gain]], dtype=np.float32)  # rows R, G, B
    out_name = "probabilities" if kind == "probabilities" else "logits"
    nodes = [
        helper.make_node("ReduceMean", ["input", "axes"], ["channel_means"], keepdims=0),
        helper.make_node("MatMul", ["channel_means", "weights"], ["scores"]),
    ]
    if kind == "probabilities":
        nodes.append(helper.make_node("Softmax", ["scores"], [out_name], axis=1))
    else:
        nodes.append(helper.make_node("Identity", ["scores"], [out_name]))
    graph = helper.make_graph(
        nodes,
        "tiny_colour_balance",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["N", 2])],
        initializer=[
            numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "axes"),
            numpy_helper.from_array(weights, "weights"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9  # readable by every onnxruntime >= 1.16
    onnx.checker.check_model(model)
    return model


def tiny_metadata(kind: str = "probabilities") -> dict:
    return {
        "format_version": 1,
        "labels": ["bicycle", "motorcycle"],
        "input": {
            "name": "input",
            "height": SIZE,
            "width": SIZE,
            "channels": 3,
            "layout": "NCHW",
            "color_mode": "RGB",
            "dtype": "float32",
        },
        "normalization": copy.deepcopy(NORMALIZATION),
        "output": {"name": "probabilities" if kind == "probabilities" else "logits", "kind": kind},
    }


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def build_tiny_artifact(
    dest_dir: Path,
    *,
    kind: str = "probabilities",
    gain: float = GAIN,
    metadata: dict | None = None,
    name: str = "model.tar.gz",
) -> Path:
    """Write `dest_dir/name` (a valid model.tar.gz) and return its path.

    `kind` is "probabilities" (softmax in the graph) or "logits" (the server applies it);
    `metadata` replaces metadata.json, e.g. to test validation errors.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / name
    model = _graph(kind, gain).SerializeToString()
    meta = json.dumps(metadata if metadata is not None else tiny_metadata(kind), indent=2).encode()
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "model.onnx", model)
        _add(tar, "metadata.json", meta)
    return path


def build_tiny_model_dir(dest_dir: Path, **kwargs) -> Path:
    """The unpacked form (what SageMaker puts in /opt/ml/model); same options as build_tiny_artifact."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = build_tiny_artifact(Path(tmp), **kwargs)
        dest_dir.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(dest_dir, filter="data")
    return dest_dir


def expected_probabilities(rgb: tuple[int, int, int], gain: float = GAIN) -> list[float]:
    """What the tiny model answers for a uniform image of colour `rgb`, computed with numpy."""
    pixel = np.array(rgb, dtype=np.float64) * NORMALIZATION["scale"]
    x = (pixel - np.array(NORMALIZATION["mean"])) / np.array(NORMALIZATION["std"])
    bike, moto = gain * (x[2] - x[0]), gain * (x[0] - x[2])
    exps = np.exp(np.array([bike, moto]) - max(bike, moto))
    return [float(p) for p in exps / exps.sum()]


if __name__ == "__main__":
    # For a server outside the test process (e.g. the container in the Docker CI stage):
    #   python tests/support/tiny_model.py DIR  ->  DIR/model (mount at /opt/ml/model), DIR/model.tar.gz
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tiny-model")
    build_tiny_artifact(out)
    print(build_tiny_model_dir(out / "model"))
