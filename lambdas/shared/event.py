"""WorkflowEvent: the one read-only view of the event that flows between the three steps.

Wire shape between steps (and of the execution's input and output), always objects:

    {"s3_bucket": str, "s3_key": str, "image_data": <base64 str>, "inferences": [float, ...]}

Each handler returns the API-Gateway-like envelope of the original project,
{"statusCode": 200, "body": <the shape above>}, and the state machine keeps only
`$.Payload.body`, so each step receives the previous step's body as an object.

Quirks of other producers are fixed here, once, on the way in: an envelope still wrapped
around the body, `body` or `inferences` sent as JSON strings, `image_data` as bytes. On the way
out, `to_dict()` is the only exit, so nothing downstream ever sees a JSON string inside JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from shared.errors import InvalidEvent
from shared.labels import LABELS

_FIELDS = ("image_data", "s3_bucket", "s3_key", "inferences")
_ENVELOPE = ("statusCode", "body")


class WorkflowEvent:
    """Read-only; `with_image()` and `with_inferences()` return new events."""

    def __init__(self, data: Mapping[str, Any]):
        if not isinstance(data, Mapping):
            raise InvalidEvent(f"the event must be a JSON object, got {type(data).__name__}")
        self._data = MappingProxyType(_unwrap(dict(data)))

    # -- fields -----------------------------------------------------------------------------
    @property
    def s3_bucket(self) -> str:
        return self._required_str("s3_bucket")

    @property
    def s3_key(self) -> str:
        return self._required_str("s3_key")

    @property
    def s3_uri(self) -> str:
        return f"s3://{self._data.get('s3_bucket', '?')}/{self._data.get('s3_key', '?')}"

    @property
    def image_data(self) -> str:
        """The image as base64 text ("" until the serialize step has run)."""
        value = self._data.get("image_data") or ""
        if isinstance(value, (bytes, bytearray)):  # an in-process caller; JSON carries str
            value = bytes(value).decode("ascii")
        if not isinstance(value, str):
            raise InvalidEvent(f"image_data must be a base64 string, got {type(value).__name__}")
        return value

    @property
    def image_bytes(self) -> bytes:
        if not self.image_data:
            raise InvalidEvent(
                f"image_data is empty for {self.s3_uri}: run the serialize step first"
            )
        try:
            return base64.b64decode(self.image_data, validate=True)
        except binascii.Error as err:
            raise InvalidEvent(f"image_data for {self.s3_uri} is not valid base64: {err}") from None

    @property
    def inferences(self) -> list[float]:
        value = self._data.get("inferences")
        if value is None or value == "":
            return []
        if isinstance(value, str):  # a producer that json.dumps'ed the list
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise InvalidEvent(f"inferences is not a JSON list: {value[:80]!r}") from None
        return _probabilities(value, "inferences")

    # -- derived ----------------------------------------------------------------------------
    @property
    def top_index(self) -> int:
        probs = self.inferences
        if not probs:
            raise InvalidEvent(f"no inferences for {self.s3_uri}: run the classify step first")
        return max(range(len(probs)), key=probs.__getitem__)

    @property
    def confidence(self) -> float:
        return self.inferences[self.top_index]

    @property
    def label(self) -> str:
        index = self.top_index
        return LABELS[index] if index < len(LABELS) else f"class {index}"

    # -- new events and the exit ------------------------------------------------------------
    def with_image(self, image: bytes) -> WorkflowEvent:
        return self._replace(image_data=base64.b64encode(image).decode("ascii"))

    def with_inferences(self, inferences: Iterable[float]) -> WorkflowEvent:
        return self._replace(inferences=_probabilities(list(inferences), "inferences"))

    def to_dict(self) -> dict[str, Any]:
        """The wire shape: the four fields (normalised), then any extra keys passed through."""
        out: dict[str, Any] = {
            "image_data": self.image_data,
            "s3_bucket": self._data.get("s3_bucket", ""),
            "s3_key": self._data.get("s3_key", ""),
            "inferences": self.inferences,
        }
        out.update((k, v) for k, v in self._data.items() if k not in _FIELDS)
        return out

    def to_response(self) -> dict[str, Any]:
        return {"statusCode": 200, "body": self.to_dict()}

    def summary(self) -> dict[str, Any]:
        """What is worth logging (never the image itself)."""
        return {
            "s3_uri": self.s3_uri,
            "image_bytes": len(self.image_data) * 3 // 4,
            "inferences": self.inferences,
        }

    def __repr__(self) -> str:
        return f"WorkflowEvent({self.summary()})"

    def _replace(self, **changes: Any) -> WorkflowEvent:
        return WorkflowEvent({**self._data, **changes})

    def _required_str(self, name: str) -> str:
        value = self._data.get(name)
        if not isinstance(value, str) or not value:
            got = "missing" if value is None else f"{value!r}"
            raise InvalidEvent(
                f"the event needs a non-empty string {name!r} ({got}); "
                'expected {"s3_bucket": "...", "s3_key": "test/<image>.png"}'
            )
        return value


def _unwrap(data: dict[str, Any]) -> dict[str, Any]:
    """Accept a previous step's whole {"statusCode", "body"} envelope as well as its body."""
    if "body" not in data:
        return data
    body = data["body"]
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except json.JSONDecodeError:
            raise InvalidEvent(f"body is a string but not JSON: {body[:80]!r}") from None
    if not isinstance(body, Mapping):
        raise InvalidEvent(f"body must be a JSON object, got {type(body).__name__}")
    status = data.get("statusCode", 200)
    if status != 200:
        raise InvalidEvent(f"the previous step answered statusCode {status!r}: {dict(body)}")
    extra = {k: v for k, v in data.items() if k not in _ENVELOPE}
    return {**extra, **body}


def _probabilities(values: Any, name: str) -> list[float]:
    if not isinstance(values, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values
    ):
        raise InvalidEvent(f"{name} must be a list of numbers, got {str(values)[:80]}")
    return [float(v) for v in values]
