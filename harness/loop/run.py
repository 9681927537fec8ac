"""`harness run IMAGE_FILE | s3://bucket/key`: one execution on one image, with its views."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from harness import clients
from harness.config import Settings
from harness.errors import HarnessError

UPLOAD_PREFIX = "uploads"  # where `run` puts a local image in the workflow's bucket


@dataclass(frozen=True)
class S3Image:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_s3_uri(uri: str) -> S3Image:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise HarnessError(f"{uri!r} is not an S3 object URI.", "write it as s3://BUCKET/KEY")
    return S3Image(bucket, key)


# What the endpoint takes (harness/model_server/inference.py); other formats become PNG.
SENT_AS_IS = {"png": "image/png", "jpeg": "image/jpeg"}


def read_image(path: Path) -> tuple[bytes, str, str]:
    """(bytes to upload, content type, file name): PNG and JPEG as they are, any other format
    Pillow reads (GIF, BMP, TIFF, WebP, ...) converted to PNG, which the endpoint takes. A
    missing file or a non-image is refused here, before anything is uploaded."""
    if not path.is_file():
        raise HarnessError(
            f"No such file: {path}.", "give the path of an image file, or s3://BUCKET/KEY"
        )
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = (image.format or "").lower()
            if kind in SENT_AS_IS:
                image.verify()
                return data, SENT_AS_IS[kind], path.name
            png = io.BytesIO()
            image.convert("RGB").save(png, format="PNG")
    except UnidentifiedImageError as exc:
        raise HarnessError(
            f"{path} is not an image ({len(data)} bytes in no format Pillow knows).",
            "give a PNG, JPEG, GIF, BMP, TIFF or WebP file",
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:  # a known format, but broken
        raise HarnessError(
            f"{path} is a damaged image: {exc}.", "give a complete image file"
        ) from exc
    return png.getvalue(), "image/png", f"{path.stem}.png"


def upload(settings: Settings, path: Path, s3=None) -> S3Image:
    """Upload a local image under uploads/<content hash>/<name>: running the same file twice
    reuses the object, and the name in the key keeps the execution list readable."""
    data, content_type, name = read_image(path)
    key = f"{UPLOAD_PREFIX}/{hashlib.sha256(data).hexdigest()[:12]}/{name}"
    s3 = s3 or clients.client(settings, "s3")
    s3.put_object(Bucket=settings.bucket, Key=key, Body=data, ContentType=content_type)
    return S3Image(settings.bucket, key)
