"""Fixtures for the monitoring tests: the real samples and the test images."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import REPO_ROOT
from harness.dataset import listed_images

# The 37 real records live outside the repository (docs/contracts.md section 4); a fresh clone
# has only the few in tests/fixtures/datacapture, which the FIXTURES_DIR tests read.
SAMPLES_DIR = REPO_ROOT.parent / "shared" / "data" / "datacapture-samples"
FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "datacapture"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES_DIR.is_dir():
        pytest.skip(f"the shared Data Capture samples are not on this machine ({SAMPLES_DIR})")
    return SAMPLES_DIR


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES_DIR


@pytest.fixture(scope="session")
def test_images(data_dir: Path) -> list[tuple[Path, int]]:
    return [(image.path, image.label) for image in listed_images(data_dir)]
