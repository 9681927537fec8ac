"""The normalization training chooses (written into metadata.json) and reading an image file
through the model server's own preprocessing (harness.model_server.preprocess), so what the
network learns on is what the endpoint feeds it. No torch needed to preprocess.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from harness.labels import LABELS
from harness.model_server.preprocess import metadata_input

HEIGHT = WIDTH = 32
# CIFAR-100 per-channel statistics (of the full training set, on pixels scaled to [0, 1]).
MEAN = (0.5071, 0.4865, 0.4409)
STD = (0.2673, 0.2564, 0.2762)
SCALE = 1.0 / 255.0

METADATA = {
    "format_version": 1,
    "labels": list(LABELS),
    "input": {
        "name": "input",
        "height": HEIGHT,
        "width": WIDTH,
        "channels": 3,
        "layout": "NCHW",
        "color_mode": "RGB",
        "dtype": "float32",
    },
    "normalization": {"scale": SCALE, "mean": list(MEAN), "std": list(STD)},
    "output": {"name": "probabilities", "kind": "probabilities"},
}


def load_input(source: Path | bytes, metadata: dict = METADATA) -> np.ndarray:
    """A PNG/JPEG file or its bytes -> float32 (channels, height, width), normalised."""
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    with Image.open(io.BytesIO(raw)) as image:
        return metadata_input(image, metadata)
