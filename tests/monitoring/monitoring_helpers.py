"""Helpers for the monitoring tests: capture lines as SageMaker writes them, a baseline."""

from __future__ import annotations

import base64
import io
import json
import random
import uuid
from datetime import datetime
from pathlib import Path

from PIL import Image


def reencoded_png(path: Path) -> bytes:
    """The same pixels in different bytes (RGB instead of RGBA, Pillow instead of Matplotlib)."""
    buf = io.BytesIO()
    with Image.open(path) as img:
        img.convert("RGB").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def capture_line(
    probabilities: list[float],
    when: datetime,
    image: bytes | None = None,
    content_type: str = "image/png",
) -> str:
    """One record, compact as in the real files (docs/contracts.md section 4)."""
    capture: dict = {}
    if image is not None:
        capture["endpointInput"] = {
            "observedContentType": content_type,
            "mode": "INPUT",
            "data": base64.b64encode(image).decode(),
            "encoding": "BASE64",
        }
    capture["endpointOutput"] = {
        "observedContentType": "application/json",
        "mode": "OUTPUT",
        "data": json.dumps(probabilities),
        "encoding": "JSON",
    }
    record = {
        "captureData": capture,
        "eventMetadata": {
            "eventId": str(uuid.uuid4()),
            "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "eventVersion": "0",
    }
    return json.dumps(record, separators=(",", ":"))


def confidences(seed: int, n: int, confident: bool) -> list[float]:
    """Top confidences: a confident model (mostly > 0.95) or a shifted, hesitant one."""
    rng = random.Random(seed)
    if confident:
        return [min(0.9999, 1 - abs(rng.gauss(0, 0.04))) for _ in range(n)]
    return [rng.uniform(0.5, 0.9) for _ in range(n)]


def write_baseline(path: Path, tops: list[float]) -> Path:
    """metrics.json as the training helper writes it: test_predictions with probabilities."""
    rows = []
    for i, top in enumerate(tops):
        probs = [top, 1 - top] if i % 2 == 0 else [1 - top, top]
        rows.append({"path": f"test/img_{i}.png", "label": i % 2, "probabilities": probs})
    path.write_text(json.dumps({"accuracy": 0.9, "test_predictions": rows}))
    return path
