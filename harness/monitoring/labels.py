"""Known labels for captured inputs: the test images of the .lst, matched by their pixels.

A captured PNG is rarely byte-identical to the file it came from (clients re-encode
it), and its name is lost, so the match is on the decoded RGB pixels
(`records.pixel_hash`), the same picture in whatever encoding.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from harness.monitoring.records import CaptureRecord, pixel_hash


def known_labels(data_dir: Path, lst_name: str = "test.lst") -> dict[str, int]:
    """pixel hash -> label for every image listed in `data_dir/lst_name` (empty if there is none)."""
    lst = Path(data_dir) / lst_name
    if not lst.is_file():
        return {}
    folder = lst.with_suffix("")  # test.lst lists files in test/
    labels: dict[str, int] = {}
    with lst.open(newline="") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if len(row) < 3:
                continue
            path = folder / row[2] if (folder / row[2]).is_file() else Path(data_dir) / row[2]
            try:
                with Image.open(path) as img:
                    labels[pixel_hash(img)] = int(float(row[1]))
            except (OSError, ValueError):
                continue  # a missing or broken test image only means fewer known labels
    return labels


@dataclass(frozen=True)
class Accuracy:
    known: int  # captured records whose input is a listed test image
    correct: int

    @property
    def value(self) -> float | None:
        return self.correct / self.known if self.known else None


def accuracy(records: list[CaptureRecord], labels: dict[str, int]) -> Accuracy:
    matched = [(r, labels[r.pixel_hash]) for r in records if r.pixel_hash in labels]
    return Accuracy(known=len(matched), correct=sum(r.predicted == label for r, label in matched))
