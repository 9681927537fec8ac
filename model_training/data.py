"""Download CIFAR-100 (python version) and extract the bicycle / motorcycle subset.

Writes the SageMaker image-classification layout the rest of the project reads:
`train/*.png`, `test/*.png`, `train.lst`, `test.lst` (`row<TAB>label<TAB>file`; label 0 =
bicycle = fine label 8, label 1 = motorcycle = fine label 48; row = index in the pickle).

    python -m model_training.data --dest data/cifar100-bikes
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import sys
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

from harness.config import REPO_ROOT
from harness.errors import HarnessError

URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
# The archive's published MD5 (torchvision's CIFAR100.tgz_md5; the same value in other loaders).
MD5 = "eb9058c3a382ffc7106e4002c42a8d85"
FINE_LABELS = {8: 0, 48: 1}  # CIFAR-100 fine label -> our label (0 bicycle, 1 motorcycle)
SPLITS = ("train", "test")
_CHUNK = 1 << 16


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, target: Path, md5: str = MD5, progress: bool = True) -> Path:
    """Fetch `url` to `target` (reused when already there with the right checksum)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    if target.is_file() and md5sum(target) == md5:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, partial.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            columns = (
                "[bold]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
            )
            with Progress(*columns, disable=not progress) as bar:
                task = bar.add_task(target.name, total=total)
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    bar.advance(task, len(chunk))
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise HarnessError(
            f"cannot download {url}: {exc}",
            "check the network, or download it by hand and pass --archive <file>",
        ) from exc
    actual = md5sum(partial)
    if actual != md5:
        partial.unlink()
        raise HarnessError(
            f"{url} downloaded with MD5 {actual}, expected {md5}",
            "the download was corrupted or the file changed; try again",
        )
    partial.replace(target)
    return target


def load_batch(raw: bytes) -> dict:
    """A CIFAR python pickle (keys are bytes: b"filenames", b"fine_labels", b"data")."""
    return pickle.loads(raw, encoding="bytes")


def write_split(batch: dict, split: str, dest: Path) -> int:
    """Write the kept rows of one pickle as PNGs plus `<split>.lst`; returns the number kept."""
    (dest / split).mkdir(parents=True, exist_ok=True)
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    lines = []
    for row, (fine, name) in enumerate(zip(batch[b"fine_labels"], batch[b"filenames"])):
        if fine not in FINE_LABELS:
            continue
        filename = name.decode() if isinstance(name, bytes) else str(name)
        # 3072 bytes: 1024 red, 1024 green, 1024 blue, each row-major 32x32
        pixels = data[row].reshape(3, 32, 32).transpose(1, 2, 0)
        Image.fromarray(pixels, "RGB").save(dest / split / filename)
        lines.append(f"{row}\t{FINE_LABELS[fine]}\t{filename}\n")
    (dest / f"{split}.lst").write_text("".join(lines))
    return len(lines)


def extract(archive: Path, dest: Path) -> dict[str, int]:
    """Read `cifar-100-python/{train,test}` straight from the archive; no other file is unpacked."""
    counts = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for split in SPLITS:
                member = tar.extractfile(f"cifar-100-python/{split}")
                counts[split] = write_split(load_batch(member.read()), split, dest)
    except (tarfile.TarError, KeyError, AttributeError, pickle.UnpicklingError) as exc:
        raise HarnessError(
            f"{archive} is not the CIFAR-100 python archive ({exc})",
            f"delete it and download again from {URL}",
        ) from exc
    return counts


def prepare(
    dest: Path, archive: Path | None = None, url: str = URL, md5: str = MD5, progress: bool = True
) -> dict[str, int]:
    """Download (unless `archive` is given), verify and extract into `dest`."""
    if archive is None:
        archive = download(url, dest.parent / "cifar-100-python.tar.gz", md5, progress)
    elif not archive.is_file():
        raise HarnessError(
            f"{archive} does not exist", f"download it from {URL}, or drop --archive"
        )
    elif md5 and md5sum(archive) != md5:
        raise HarnessError(
            f"{archive} has MD5 {md5sum(archive)}, expected {md5}", f"download it again from {URL}"
        )
    return extract(archive, dest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model_training.data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--dest",
        type=Path,
        default=REPO_ROOT / "data" / "cifar100-bikes",
        help="folder to write train/ test/ train.lst test.lst into (default %(default)s)",
    )
    parser.add_argument(
        "--archive", type=Path, help="use this cifar-100-python.tar.gz, do not download"
    )
    args = parser.parse_args(argv)
    try:
        counts = prepare(args.dest, args.archive, md5=MD5)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"wrote {counts['train']} train and {counts['test']} test images to {args.dest}; "
        f"train with SCONES_DATA_DIR={args.dest} python -m model_training"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
