"""A Lambda deployment package built in memory."""

from __future__ import annotations

import io
import textwrap
import zipfile


def zip_code(files: dict[str, str]) -> bytes:
    """A zip holding `files` (name -> source, dedented), e.g. {"handler.py": "def handler..."}."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, textwrap.dedent(text))
    return buffer.getvalue()
