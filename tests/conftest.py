"""Shared fixtures: settings, the data folder, free ports."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session")
def data_dir(settings: Settings) -> Path:
    if not (settings.data_dir / "test.lst").is_file():
        pytest.fail(
            f"CIFAR-100 bikes data not found at {settings.data_dir}: "
            "set SCONES_DATA_DIR or run `python -m model_training.data` to download it"
        )
    return settings.data_dir
