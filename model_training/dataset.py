"""Read the image-classification layout (`train/`, `test/`, `train.lst`, `test.lst`) into arrays.

All 1200 images fit in memory many times over, so each split is loaded once as one array.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from model_training.preprocess import METADATA, load_input

SPLITS = ("train", "test")


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # float32 (n, 3, height, width), normalised
    labels: np.ndarray  # int64 (n,): 0 bicycle, 1 motorcycle
    paths: list[str]  # "test/bike_s_000658.png", relative to the data folder


def read_lst(path: Path) -> list[tuple[int, int, str]]:
    """SageMaker .lst: `row<TAB>label<TAB>path` per line, no header."""
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise HarnessError(
                f"{path}:{number}: expected `row<TAB>label<TAB>path`, got {line!r}",
                "regenerate the data with `python -m model_training.data`",
            )
        entries.append((int(fields[0]), int(float(fields[1])), fields[2]))
    return entries


def check_data_dir(data_dir: Path) -> None:
    missing = [
        name
        for name in ("train.lst", "test.lst", "train", "test")
        if not (data_dir / name).exists()
    ]
    if missing:
        raise HarnessError(
            f"the CIFAR-100 bikes data is incomplete at {data_dir} (missing: {', '.join(missing)})",
            "download it with `python -m model_training.data --dest data/cifar100-bikes` "
            "and point SCONES_DATA_DIR at that folder",
        )


def load_split(data_dir: Path, split: str, metadata: dict = METADATA) -> Split:
    check_data_dir(data_dir)
    entries = read_lst(data_dir / f"{split}.lst")
    paths = [f"{split}/{name}" for _, _, name in entries]
    try:
        images = np.stack([load_input(data_dir / path, metadata) for path in paths])
    except (OSError, ValueError) as exc:
        raise HarnessError(
            f"cannot read an image of {data_dir / split}: {exc}",
            "regenerate the data with `python -m model_training.data`",
        ) from exc
    labels = np.asarray([label for _, label, _ in entries], dtype=np.int64)
    return Split(images=images, labels=labels, paths=paths)


def data_hash(data_dir: Path) -> str:
    """sha256 over both .lst files and every listed image's bytes, in list order."""
    digest = hashlib.sha256()
    for split in SPLITS:
        lst = data_dir / f"{split}.lst"
        digest.update(lst.read_bytes())
        for _, _, name in read_lst(lst):
            digest.update((data_dir / split / name).read_bytes())
    return "sha256:" + digest.hexdigest()
