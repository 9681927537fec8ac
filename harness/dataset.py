"""The test images as the harness uses them: the SageMaker `.lst` listing of a split folder.

`test.lst` holds `row<TAB>label<TAB>file` lines; the files live in `test/`. The key
`test/<file>` is both the path below the data folder and the image's S3 key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError


@dataclass(frozen=True)
class ListedImage:
    key: str  # "test/bike_s_000658.png": below data_dir, and in the bucket
    label: int  # 0 bicycle, 1 motorcycle
    path: Path


def listed_images(data_dir: Path, split: str = "test") -> list[ListedImage]:
    listing = Path(data_dir) / f"{split}.lst"
    if not listing.is_file():
        raise HarnessError(
            f"{listing} not found: the CIFAR-100 bikes images are missing.",
            "set SCONES_DATA_DIR to the cifar100-bikes folder, or run "
            "`python -m model_training.data` to download CIFAR-100",
        )
    images = []
    for line in listing.read_text().splitlines():
        if line.strip():
            _, label, name = line.split("\t")
            key = f"{split}/{name}"
            images.append(ListedImage(key, int(float(label)), Path(data_dir) / key))
    return images
