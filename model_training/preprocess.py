"""Image -> network input, exactly as docs/model-artifact.md tells the model server to do it.

Training reads its images through the same function, so what the network learns on is what
the endpoint feeds it. Only numpy and Pillow: no torch needed to preprocess.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

HEIGHT = WIDTH = 32
# CIFAR-100 per-channel statistics (of the full training set, on pixels scaled to [0, 1]).
MEAN = (0.5071, 0.4865, 0.4409)
STD = (0.2673, 0.2564, 0.2762)
SCALE = 1.0 / 255.0

METADATA = {
    "format_version": 1,
    "labels": ["bicycle", "motorcycle"],
    "input": {"name": "input", "height": HEIGHT, "width": WIDTH, "channels": 3,
              "layout": "NCHW", "color_mode": "RGB", "dtype": "float32"},
    "normalization": {"scale": SCALE, "mean": list(MEAN), "std": list(STD)},
    "output": {"name": "probabilities", "kind": "probabilities"},
}


def to_input(image: Image.Image, metadata: dict = METADATA) -> np.ndarray:
    """One PIL image -> float32 array (channels, height, width), normalised."""
    spec, norm = metadata["input"], metadata["normalization"]
    image = image.convert(spec["color_mode"])
    size = (spec["width"], spec["height"])
    if image.size != size:
        image = image.resize(size, Image.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32) * np.float32(norm["scale"])
    mean = np.asarray(norm["mean"], dtype=np.float32)
    std = np.asarray(norm["std"], dtype=np.float32)
    return ((pixels - mean) / std).transpose(2, 0, 1).copy()


def load_input(source: Path | bytes, metadata: dict = METADATA) -> np.ndarray:
    """A PNG/JPEG file or its bytes -> network input (see `to_input`)."""
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    with Image.open(io.BytesIO(raw)) as image:
        return to_input(image, metadata)
