"""Test images built in memory."""

from __future__ import annotations

import io

from PIL import Image


def png(rgb=(200, 30, 30), size=(32, 32), mode: str = "RGB", fmt: str = "PNG") -> bytes:
    """A uniform image of colour `rgb`, stored in `mode` (RGB, RGBA, L, P) and `fmt`."""
    image = Image.new("RGB", size, rgb)
    if mode == "RGBA":
        image = image.convert("RGBA")
    elif mode == "L":
        image = Image.new("L", size, rgb[0])
    elif mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE)
    buf = io.BytesIO()
    image.save(buf, fmt, **({"quality": 100} if fmt == "JPEG" else {}))
    return buf.getvalue()
