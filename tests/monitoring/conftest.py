"""Fixtures for the monitoring tests: the real samples and the test images."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import REPO_ROOT
from harness.dataset import listed_images

SAMPLES_DIR = REPO_ROOT.parent / "shared" / "data" / "datacapture-samples"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES_DIR.is_dir():
        pytest.fail(f"the shared Data Capture samples are missing at {SAMPLES_DIR}")
    return SAMPLES_DIR


@pytest.fixture(scope="session")
def test_images(data_dir: Path) -> list[tuple[Path, int]]:
    return [(image.path, image.label) for image in listed_images(data_dir)]
