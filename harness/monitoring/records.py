"""Data Capture JSON Lines -> typed records; anything malformed -> a Problem with file and line.

The format is SageMaker's (docs/contracts.md section 4): one JSON object a line, the input
usually BASE64 (any content type not listed as CSV/JSON is captured that way, e.g.
image/png or application/x-image), the output JSON (a string holding "[p0, p1]").
A parser that must read real captures is lenient about the wrapping (BOM, CRLF,
blank lines, output captured as BASE64 or CSV) and strict about the content: a
record is kept only if it has a time and a valid probability list, and if its
captured input (when there is one) decodes as an image.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from PIL import Image, UnidentifiedImageError

from harness.labels import LABELS

PROBABILITY_TOLERANCE = 1e-3  # softmax outputs in float32 sum to 1 within this


@dataclass(frozen=True)
class Problem:
    """Why one line (or a whole file, line 0) was skipped."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.source}:{self.line}: {self.reason}"
            if self.line
            else f"{self.source}: {self.reason}"
        )


@dataclass(frozen=True)
class CaptureRecord:
    source: str  # file path or s3:// URI
    line: int
    event_id: str
    time: datetime  # inferenceTime, timezone-aware UTC
    probabilities: tuple[float, ...]
    inference_id: str | None = None
    input_content_type: str | None = None
    image: bytes | None = None  # the captured input, decoded from base64 (None: input not captured)
    pixel_hash: str | None = None  # hash of the decoded pixels: the same picture in any encoding

    @property
    def predicted(self) -> int:
        return max(range(len(self.probabilities)), key=self.probabilities.__getitem__)

    @property
    def confidence(self) -> float:
        return max(self.probabilities)

    @property
    def predicted_label(self) -> str:
        return LABELS[self.predicted] if self.predicted < len(LABELS) else str(self.predicted)


class _Bad(ValueError):
    """A reason to skip one record."""


def pixel_hash(image: Image.Image) -> str:
    """Hash of the RGB pixels and size, so a PNG re-encoded (or saved as RGBA) still matches."""
    rgb = image.convert("RGB")
    digest = hashlib.sha256(f"{rgb.width}x{rgb.height}:".encode())
    digest.update(rgb.tobytes())
    return digest.hexdigest()


def parse_lines(
    source: str, data: bytes, labels: tuple[str, ...] = LABELS
) -> tuple[list[CaptureRecord], list[Problem]]:
    """Parse one Data Capture file's bytes. Never raises: bad lines become Problems."""
    records: list[CaptureRecord] = []
    problems: list[Problem] = []
    for number, raw in enumerate(data.splitlines(), start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # UTF-8 byte order mark
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(
                Problem(source, number, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
            )
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(Problem(source, number, f"not JSON: {exc.msg} (column {exc.colno})"))
            continue
        try:
            records.append(_record(source, number, obj, len(labels)))
        except _Bad as exc:
            problems.append(Problem(source, number, str(exc)))
    return records, problems


def _record(source: str, line: int, obj: Any, n_classes: int) -> CaptureRecord:
    capture = _field(obj, "captureData", dict)
    meta = _field(obj, "eventMetadata", dict)
    output = _field(capture, "endpointOutput", dict, "captureData.")
    probabilities = _probabilities(output, n_classes)
    when = _time(_field(meta, "inferenceTime", str, "eventMetadata."))
    image = digest = content_type = None
    if "endpointInput" in capture:  # absent when CaptureOptions is Output only
        payload = _field(capture, "endpointInput", dict, "captureData.")
        content_type = payload.get("observedContentType")
        image, digest = _image(payload)
    return CaptureRecord(
        source=source,
        line=line,
        event_id=str(meta.get("eventId", "")),
        time=when,
        probabilities=probabilities,
        inference_id=meta.get("inferenceId"),
        input_content_type=content_type,
        image=image,
        pixel_hash=digest,
    )


def _field(obj: Any, key: str, typ: type, prefix: str = "") -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise _Bad(f"missing field {prefix}{key}")
    value = obj[key]
    if not isinstance(value, typ):
        raise _Bad(f"field {prefix}{key} is {type(value).__name__}, expected {typ.__name__}")
    return value


def _payload_bytes(payload: dict, where: str) -> tuple[bytes | str | list, str]:
    """The captured data, undone from its encoding: (bytes for BASE64, else the text/value)."""
    if "data" not in payload:
        raise _Bad(f"missing field captureData.{where}.data")
    data, encoding = payload["data"], str(payload.get("encoding", "")).upper()
    if encoding == "BASE64":
        if not isinstance(data, str):
            raise _Bad(f"{where}: BASE64 data is {type(data).__name__}, expected a string")
        try:
            return base64.b64decode(data, validate=True), encoding
        except (binascii.Error, ValueError) as exc:
            raise _Bad(f"{where}: data is not valid base64 ({exc})") from None
    if encoding in {"JSON", "CSV", "NONE", ""}:
        return data, encoding
    raise _Bad(f"{where}: unknown encoding {payload.get('encoding')!r}")


def _probabilities(output: dict, n_classes: int) -> tuple[float, ...]:
    data, encoding = _payload_bytes(output, "endpointOutput")
    if isinstance(
        data, bytes
    ):  # output captured as BASE64: its content type was not listed as JSON
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise _Bad("endpointOutput: base64 data is not UTF-8 text") from None
    value: Any = data
    if isinstance(value, str):
        text = value.strip()
        try:
            value = (
                json.loads(text)
                if text.startswith(("[", "{"))
                else [float(v) for v in text.split(",")]
            )
        except ValueError:
            raise _Bad(f"endpointOutput: data is not a probability list: {text[:60]!r}") from None
    if isinstance(value, dict):  # e.g. {"probabilities": [...]}
        value = value.get("probabilities", value.get("predictions"))
    if not isinstance(value, list) or not all(_is_number(v) for v in value):
        raise _Bad(f"endpointOutput: data is not a list of numbers ({encoding or 'no'} encoding)")
    probs = tuple(float(v) for v in value)
    if len(probs) != n_classes:
        raise _Bad(f"endpointOutput: {len(probs)} probabilities, expected {n_classes}")
    if any(not 0.0 <= p <= 1.0 for p in probs) or abs(sum(probs) - 1.0) > PROBABILITY_TOLERANCE:
        raise _Bad(f"endpointOutput: {list(probs)} are not probabilities (each in [0, 1], sum 1)")
    return probs


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad(f"eventMetadata.inferenceTime {text!r} is not an ISO time") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def _image(payload: dict) -> tuple[bytes, str]:
    data, _ = _payload_bytes(payload, "endpointInput")
    if not isinstance(data, bytes):
        raise _Bad(
            f"endpointInput: {payload.get('observedContentType')} input is not a base64 image"
        )
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return data, pixel_hash(img)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise _Bad(f"endpointInput: image does not decode ({type(exc).__name__}: {exc})") from None


def sort_by_time(records: Iterable[CaptureRecord]) -> list[CaptureRecord]:
    return sorted(records, key=lambda r: (r.time, r.source, r.line))
