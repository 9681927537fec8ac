"""Image -> network input, as docs/model-artifact.md defines it: the one implementation.

The model server feeds every request through it, training reads its images through it and
the tests check the shipped artifact with it, so the network is served exactly the numbers
it learned on. It lives with the server because the serving image installs only the core
dependencies (numpy and Pillow are all it needs); model_training imports it from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image


def to_input(
    image: Image.Image,
    width: int,
    height: int,
    scale: float,
    mean: Sequence[float] | np.ndarray,
    std: Sequence[float] | np.ndarray,
) -> np.ndarray:
    """One decoded image of any size or mode -> float32 (3, height, width), C-contiguous:
    RGB, resized bilinear when its size differs, then `(pixel * scale - mean[c]) / std[c]`."""
    # The artifact format admits RGB only (harness.model_server.artifact checks color_mode).
    if image.mode != "RGB":
        image = image.convert("RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32).transpose(2, 0, 1)  # HWC -> CHW
    mean = np.asarray(mean, dtype=np.float32).reshape(3, 1, 1)
    std = np.asarray(std, dtype=np.float32).reshape(3, 1, 1)
    return np.ascontiguousarray((pixels * np.float32(scale) - mean) / std)


def metadata_input(image: Image.Image, metadata: Mapping[str, Any]) -> np.ndarray:
    """`to_input` with the size and normalization that a parsed metadata.json names."""
    spec, norm = metadata["input"], metadata["normalization"]
    return to_input(image, spec["width"], spec["height"], norm["scale"], norm["mean"], norm["std"])
