"""The four steps of an inference, no HTTP (the SageMaker inference toolkit's shape):
model_fn(model_dir) -> Model, input_fn(body, content_type) -> array, predict_fn(array, model)
-> probabilities, output_fn(probabilities, accept) -> (body, content type).
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image, UnidentifiedImageError

from harness.errors import HarnessError
from harness.model_server.artifact import MODEL_FILE, ModelMetadata, read_metadata
from harness.model_server.errors import (
    BadImage,
    ImageTooLarge,
    UnsupportedAccept,
    UnsupportedContentType,
)
from harness.model_server.preprocess import to_input

# What the built-in image-classification algorithm accepts (docs/contracts.md section 2).
IMAGE_CONTENT_TYPES = ("image/png", "image/jpeg", "application/x-image")
RESPONSE_CONTENT_TYPE = "application/json"
# Decoded size limit (decompression-bomb guard): checked from the header, before any pixel is decoded.
MAX_IMAGE_PIXELS = 36_000_000  # 6000 x 6000
_DECODABLE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
# Our limit is stricter than Pillow's warning threshold (89 M pixels) and is checked right after
# Image.open, so Pillow's warning would only repeat what the 413 answer already says.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


@dataclass
class Model:
    session: ort.InferenceSession
    metadata: ModelMetadata
    mean: np.ndarray  # (3, 1, 1), precomputed once
    std: np.ndarray


def model_fn(model_dir: Path, threads: int = 1) -> Model:
    """Load the network once. One intra-op thread: requests run in parallel threads instead."""
    meta = read_metadata(model_dir)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # no busy-waiting threads stealing a core from the HTTP threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(
            str(Path(model_dir) / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise HarnessError(
            f"onnxruntime cannot load {Path(model_dir) / MODEL_FILE}: {exc}",
            "re-export the model (ONNX opset >= 17, one input, one output); see docs/model-artifact.md",
        ) from exc
    inputs = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    if meta.input_name not in inputs or meta.output_name not in outputs:
        raise HarnessError(
            f"metadata.json names input {meta.input_name!r} and output {meta.output_name!r}, "
            f"but the network has inputs {inputs} and outputs {outputs}.",
            "make metadata.json's input.name and output.name match the ONNX graph",
        )
    return Model(
        session=session,
        metadata=meta,
        mean=np.array(meta.mean, dtype=np.float32).reshape(3, 1, 1),
        std=np.array(meta.std, dtype=np.float32).reshape(3, 1, 1),
    )


def media_type(content_type: str | None) -> str:
    """`image/PNG; charset=x` -> `image/png`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def input_fn(body: bytes, content_type: str | None, model: Model) -> np.ndarray:
    """Decode one image of any size or mode into the network's (1, 3, H, W) float32 input."""
    kind = media_type(content_type)
    if kind not in IMAGE_CONTENT_TYPES:
        raise UnsupportedContentType(
            f"Content type {content_type or '(none)'!r} is not supported. "
            f"Send one image as {', '.join(IMAGE_CONTENT_TYPES)}."
        )
    if not body:
        raise BadImage(f"The request body is empty. Send the bytes of one image as {kind}.")
    try:
        image = Image.open(io.BytesIO(body), formats=_DECODABLE_FORMATS)
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise ImageTooLarge(
                f"The image is {width}x{height} pixels, above the limit of {MAX_IMAGE_PIXELS:,} pixels. "
                f"Resize it first: the model only looks at "
                f"{model.metadata.width}x{model.metadata.height}."
            )
        image = image.convert("RGB")
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(
            f"The image is too large to decode safely ({exc}). Send an image under "
            f"{MAX_IMAGE_PIXELS:,} pixels."
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise BadImage(
            f"The body is not a decodable image ({type(exc).__name__}: {exc}). "
            f"Send the complete bytes of a PNG or JPEG file as {kind}."
        ) from exc
    meta = model.metadata
    return to_input(image, meta.width, meta.height, meta.scale, model.mean, model.std)[np.newaxis]


def predict_fn(data: np.ndarray, model: Model) -> list[float]:
    """Run the network; always return probabilities (softmax applied for logits) summing to 1."""
    meta = model.metadata
    scores = model.session.run([meta.output_name], {meta.input_name: data})[0][0].astype(np.float64)
    if meta.output_kind == "logits":
        scores = np.exp(scores - scores.max())
    scores = scores / scores.sum()
    return [float(v) for v in scores]


def output_fn(prediction: list[float], accept: str | None) -> tuple[bytes, str]:
    """JSON array in label order, e.g. `[0.93, 0.07]`, as the built-in algorithm answers."""
    wanted = {media_type(part) for part in (accept or "").split(",")}  # "a/b;q=0.9, */*"
    if not wanted & {"", "*/*", "application/*", RESPONSE_CONTENT_TYPE}:
        raise UnsupportedAccept(
            f"Accept {accept!r} is not supported. The model answers {RESPONSE_CONTENT_TYPE}; "
            "send that Accept header or none."
        )
    return json.dumps(prediction).encode(), RESPONSE_CONTENT_TYPE


def transform(
    body: bytes, content_type: str | None, accept: str | None, model: Model
) -> tuple[bytes, str]:
    """The four steps chained once."""
    return output_fn(predict_fn(input_fn(body, content_type, model), model), accept)
