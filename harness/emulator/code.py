"""Where a function's code lives: the deployer's source folders (hot reload) or its zip.

Hot-reload contract: a function tagged `harness:code-paths` = os.pathsep-joined absolute
folders runs from them (first = the handler's folder = cwd, all on PYTHONPATH). Before an
invoke the pool asks `SourceWatcher.changed()`, which re-fingerprints the .py files (mtime,
size) at most every `interval` seconds. Without the tag, the zip moto holds is unpacked once
per code hash under <state_dir>/lambda/.
"""

from __future__ import annotations

import io
import os
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.emulator.contract import CODE_PATHS_TAG

_SKIP_DIRS = {"__pycache__", ".git", ".venv", "node_modules", ".pytest_cache", ".ruff_cache"}


@dataclass(frozen=True)
class CodeSource:
    cwd: Path
    paths: tuple[Path, ...]  # PYTHONPATH, cwd first
    hot: bool  # from the source folders (hot reload) rather than the zip


def code_source(function: Any, state_dir: Path) -> CodeSource:
    tag = (getattr(function, "tags", None) or {}).get(CODE_PATHS_TAG, "")
    if tag:
        paths = tuple(Path(p) for p in tag.split(os.pathsep) if p)
        return CodeSource(cwd=paths[0], paths=paths, hot=True)
    return CodeSource(cwd=(folder := _unpack(function, state_dir)), paths=(folder,), hot=False)


def _unpack(function: Any, state_dir: Path) -> Path:
    digest = (getattr(function, "code_sha_256", "") or "empty").replace("/", "_").replace("+", "-")
    folder = state_dir / "lambda" / function.function_name / digest.rstrip("=")[:24]
    if (folder / ".unpacked").exists():
        return folder
    staging = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    if function.code_bytes:
        with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as archive:
            archive.extractall(staging)
    (staging / ".unpacked").touch()
    try:
        staging.rename(folder)
    except OSError:  # another pool unpacked the same code first
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def fingerprint(paths: tuple[Path, ...]) -> int:
    """Hash of (path, mtime, size) of every .py file under the folders."""
    items = []
    for root in paths:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    try:
                        stat = os.stat(path)
                    except FileNotFoundError:
                        continue
                    items.append((path, stat.st_mtime_ns, stat.st_size))
    return hash(tuple(sorted(items)))


class SourceWatcher:
    """Tells whether the source folders changed since the last look, cheaply."""

    def __init__(self, paths: tuple[Path, ...], interval: float = 0.2):
        self._paths = paths
        self._interval = interval
        self._print = fingerprint(paths)
        self._checked = time.monotonic()

    def changed(self) -> bool:
        now = time.monotonic()
        if now - self._checked < self._interval:
            return False
        self._checked = now
        current = fingerprint(self._paths)
        if current == self._print:
            return False
        self._print = current
        return True
