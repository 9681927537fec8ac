"""CIFAR-100 download and extraction, on a small CIFAR-format archive the test writes itself."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.errors import HarnessError
from model_training import data
from model_training.dataset import read_lst

# fine labels of the synthetic rows: 8 = bicycle, 48 = motorcycle, the rest are other classes
TRAIN_LABELS = [8, 3, 48, 8, 99, 48, 48]
TEST_LABELS = [0, 48, 8]


def cifar_batch(labels: list[int], prefix: str, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        b"filenames": [f"{prefix}_s_{i:06d}.png".encode() for i in range(len(labels))],
        b"fine_labels": labels,
        b"coarse_labels": [0] * len(labels),
        b"data": rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8),
    }


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, dict]:
    batches = {
        "train": cifar_batch(TRAIN_LABELS, "train", 1),
        "test": cifar_batch(TEST_LABELS, "test", 2),
    }
    path = tmp_path / "cifar-100-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, batch in [*batches.items(), ("meta", {b"fine_label_names": []})]:
            raw = pickle.dumps(batch)
            info = tarfile.TarInfo(f"cifar-100-python/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path, batches


def test_extract_keeps_bicycles_and_motorcycles_with_their_pixels(archive, tmp_path):
    path, batches = archive
    dest = tmp_path / "bikes"

    counts = data.prepare(dest, archive=path, md5=data.md5sum(path))

    assert counts == {"train": 5, "test": 2}
    for split, labels in (("train", TRAIN_LABELS), ("test", TEST_LABELS)):
        entries = read_lst(dest / f"{split}.lst")
        kept = [row for row, fine in enumerate(labels) if fine in (8, 48)]
        assert [row for row, _, _ in entries] == kept
        for row, label, name in entries:
            assert label == {8: 0, 48: 1}[labels[row]]
            assert name == batches[split][b"filenames"][row].decode()
            with Image.open(dest / split / name) as image:
                pixels = np.asarray(image.convert("RGB"))
            planes = batches[split][b"data"][row].reshape(3, 32, 32)  # R, G, B planes
            np.testing.assert_array_equal(pixels, planes.transpose(1, 2, 0))
        assert sorted(p.name for p in (dest / split).iterdir()) == sorted(n for _, _, n in entries)
    raw_lst = (dest / "train.lst").read_text().splitlines()[0]
    assert raw_lst == "0\t0\ttrain_s_000000.png"


def test_archive_with_wrong_checksum_is_refused(archive, tmp_path):
    path, _ = archive
    with pytest.raises(HarnessError, match="MD5"):
        data.prepare(tmp_path / "bikes", archive=path)  # the real CIFAR-100 checksum
    assert not (tmp_path / "bikes").exists()


def test_download_verifies_checksum_and_reuses_a_good_file(archive, tmp_path):
    path, _ = archive
    target = tmp_path / "dl" / "cifar-100-python.tar.gz"
    url = path.as_uri()  # file:// keeps the test offline; the code path is the HTTP one

    assert data.download(url, target, md5=data.md5sum(path), progress=False) == target
    assert target.read_bytes() == path.read_bytes()
    target.write_bytes(path.read_bytes())
    with pytest.raises(HarnessError, match="expected"):
        data.download(url, tmp_path / "dl" / "other.tar.gz", md5="0" * 32, progress=False)
    assert not (tmp_path / "dl" / "other.tar.gz").exists()
    assert not list((tmp_path / "dl").glob("*.part"))


def test_not_a_cifar_archive_gives_a_hint(tmp_path):
    bogus = tmp_path / "bogus.tar.gz"
    with tarfile.open(bogus, "w:gz") as tar:
        tar.addfile(tarfile.TarInfo("readme.txt"), io.BytesIO(b""))
    with pytest.raises(HarnessError) as err:
        data.prepare(tmp_path / "out", archive=bogus, md5="")
    assert "download again" in err.value.hint


def test_command_line_writes_the_layout(archive, tmp_path, monkeypatch):
    path, _ = archive
    monkeypatch.setattr(data, "MD5", data.md5sum(path))
    assert data.main(["--dest", str(tmp_path / "cli"), "--archive", str(path)]) == 0
    assert (tmp_path / "cli" / "test.lst").read_text().count("\n") == 2
    assert (
        data.main(["--dest", str(tmp_path / "cli2"), "--archive", str(tmp_path / "missing.tar.gz")])
        == 1
    )
