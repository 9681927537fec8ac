"""ONNX export and packing of `model.tar.gz` (members at the archive root: docs/model-artifact.md)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from model_training.network import BikeNet, ServingModel
from model_training.preprocess import METADATA

OPSET = 17
MEMBERS = ("model.onnx", "metadata.json", "metrics.json")


def export_onnx(
    nets: list[BikeNet], temperature: float, path: Path, metadata: dict = METADATA
) -> ServingModel:
    """Write the serving graph (ensemble, mirror, temperature, softmax) with a dynamic batch size."""
    serving = ServingModel(nets, temperature).eval()
    spec = metadata["input"]
    example = torch.zeros(1, spec["channels"], spec["height"], spec["width"])
    input_name, output_name = spec["name"], metadata["output"]["name"]
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of the dynamo one, which needs
        # onnxscript; for a plain CNN both give the same graph, so keep the lighter one.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            serving,
            (example,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=[input_name],
            output_names=[output_name],
            dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
        )
    return serving


def store_weights_as_float16(model_bytes: bytes, min_elements: int = 512) -> bytes:
    """Store the large float32 weights as float16, each followed by a Cast back to float32 at
    the start of the graph: the artifact halves while every operation still runs in float32
    (the probabilities move by ~1e-3 at most, recorded in metrics.json). Small tensors stay
    float32: they cost nothing, and the whitening stem's large weights lose most to rounding."""
    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    casts = []
    for init in graph.initializer:
        weights = numpy_helper.to_array(init)
        if init.data_type != onnx.TensorProto.FLOAT or weights.size < min_elements:
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(weights.astype(np.float16), f"{name}__float16"))
        casts.append(
            onnx.helper.make_node(
                "Cast",
                [f"{name}__float16"],
                [name],
                to=onnx.TensorProto.FLOAT,
                name=f"{name}__cast",
            )
        )
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def onnx_probabilities(
    model: Path | bytes, images: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Run the exported graph with onnxruntime (what the model server does)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 2
    source = model if isinstance(model, bytes) else str(model)
    session = onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    chunks = [
        session.run(None, {name: images[i : i + batch_size]})[0]
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(chunks)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0  # fixed: same inputs, same bytes
    tar.addfile(info, io.BytesIO(data))


def to_json(obj: dict) -> bytes:
    return (json.dumps(obj, indent=1) + "\n").encode()


def pack(target: Path, onnx_bytes: bytes, metadata: dict, metrics: dict) -> Path:
    """model.tar.gz with model.onnx, metadata.json, metrics.json at its root, reproducible bytes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(filename="", fileobj=buffer, mode="wb", compresslevel=9, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name, data in zip(
            MEMBERS, (onnx_bytes, to_json(metadata), to_json(metrics)), strict=True
        ):
            _add(tar, name, data)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(target)
    return target


def read_artifact(path: Path) -> dict[str, bytes]:
    """The archive's members by name (for checks and tests)."""
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
