"""model.tar.gz -> model folder (what SageMaker does before the container starts), and metadata checks.

The format is docs/model-artifact.md. Unpacking uses tarfile's "data" filter, which refuses
absolute paths, `..`, links leaving the folder and device files (no path traversal).
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError

MODEL_FILE = "model.onnx"
METADATA_FILE = "metadata.json"
_FORMAT_DOC = "see docs/model-artifact.md for the format"


@dataclass(frozen=True)
class ModelMetadata:
    labels: tuple[str, ...]
    input_name: str
    height: int
    width: int
    color_mode: str
    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    output_name: str
    output_kind: str  # "probabilities" | "logits"


def unpack_artifact(archive: Path, dest_dir: Path) -> Path:
    """Unpack `archive` into `dest_dir` (created) safely and return `dest_dir`."""
    archive = Path(archive)
    if not archive.is_file():
        raise HarnessError(
            f"Model artifact {archive} does not exist.",
            "train one with `make train`, or pass --model-artifact / set SCONES_MODEL_ARTIFACT",
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(dest_dir, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise HarnessError(
            f"Cannot unpack model artifact {archive}: {exc}",
            f"it must be a .tar.gz holding {MODEL_FILE} and {METADATA_FILE} at its root; {_FORMAT_DOC}",
        ) from exc
    return dest_dir


def read_metadata(model_dir: Path) -> ModelMetadata:
    """Read and check `metadata.json` in `model_dir`; every problem is a HarnessError with a hint."""
    model_dir = Path(model_dir)
    for name in (MODEL_FILE, METADATA_FILE):
        if not (model_dir / name).is_file():
            raise HarnessError(
                f"{name} is missing from the model folder {model_dir}.",
                f"point SAGEMAKER_MODEL_DIR (or --model-dir) at an unpacked model.tar.gz; {_FORMAT_DOC}",
            )
    try:
        raw = json.loads((model_dir / METADATA_FILE).read_text())
        inp, norm, out = raw["input"], raw["normalization"], raw["output"]
        meta = ModelMetadata(
            labels=tuple(raw["labels"]),
            input_name=str(inp["name"]),
            height=int(inp["height"]),
            width=int(inp["width"]),
            color_mode=str(inp.get("color_mode", "RGB")),
            scale=float(norm.get("scale", 1 / 255)),
            mean=tuple(float(v) for v in norm["mean"]),
            std=tuple(float(v) for v in norm["std"]),
            output_name=str(out["name"]),
            output_kind=str(out.get("kind", "probabilities")),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise HarnessError(
            f"{model_dir / METADATA_FILE} is not valid model metadata ({type(exc).__name__}: {exc}).",
            _FORMAT_DOC,
        ) from exc
    problems = []
    if raw.get("format_version", 1) != 1:
        problems.append(f"format_version {raw.get('format_version')!r} is not 1")
    if len(meta.labels) < 2:
        problems.append("labels must name at least two classes, in output order")
    if (
        inp.get("layout", "NCHW") != "NCHW"
        or inp.get("channels", 3) != 3
        or meta.color_mode != "RGB"
    ):
        problems.append("input must be NCHW, 3 channels, RGB")
    if inp.get("dtype", "float32") != "float32":
        problems.append("input dtype must be float32")
    if len(meta.mean) != 3 or len(meta.std) != 3 or any(s <= 0 for s in meta.std):
        problems.append("normalization needs 3 means and 3 positive stds")
    if meta.output_kind not in ("probabilities", "logits"):
        problems.append(f"output.kind {meta.output_kind!r} is neither 'probabilities' nor 'logits'")
    if min(meta.height, meta.width) < 1:
        problems.append("input height and width must be positive")
    if problems:
        raise HarnessError(
            f"{model_dir / METADATA_FILE}: " + "; ".join(problems) + ".", _FORMAT_DOC
        )
    return meta
