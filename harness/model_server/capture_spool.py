"""Data Capture records on disk until S3 has them, so a server that is killed loses none.

SageMaker's front end, not the container, captures on AWS, so a crashed container costs no
records there. Here the model server captures itself and buffers up to CAPTURE_FLUSH_SECONDS
in memory; with CAPTURE_SPOOL_DIR set (the embedded stack sets it) each sampled record is also
appended to a segment file in that folder before the caller gets its answer. Each flush closes
the segment and uploads it as S3 objects of its own; each segment file is deleted once S3 has
its records. A new server (the supervisor's restart after `kill -9`) takes over what a dead one
left and uploads it. Each S3 key is named after its segment (DataCapture._key), so a segment
uploaded again (its server killed between the upload and the deletion, or a put whose answer
was lost) overwrites its object instead of adding a second copy of its records.

One write() a record on an unbuffered file: the page cache keeps it when the process dies
(only a machine crash could lose the last records), and there is no fsync on the request path.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import time
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger("harness.model_server.capture")

SEGMENT_SUFFIX = ".jsonl"
LOCK_NAME = ".lock"


class SpoolBusy(Exception):
    """Another live server spools into the same folder."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode(item: NamedTuple) -> bytes:
    """One line a record: the CapturedInvocation's fields, bodies in base64."""
    (when, input_body, input_type, output_body, output_type, inference_id, attributes) = item
    line = [when, _b64(input_body), input_type, _b64(output_body), output_type]
    return (json.dumps([*line, inference_id, attributes]) + "\n").encode()


def decode(line: bytes) -> tuple:
    when, input_b64, input_type, output_b64, output_type, inference_id, attributes = json.loads(
        line
    )
    return (
        float(when),
        base64.b64decode(input_b64),
        input_type,
        base64.b64decode(output_b64),
        output_type,
        inference_id,
        attributes,
    )


class CaptureSpool:
    """The spool folder of one server. Not thread-safe: DataCapture calls it under its locks."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.directory / LOCK_NAME, "a")  # noqa: SIM115 (held until close)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise SpoolBusy(f"{self.directory} is in use by another model server") from None
        self._segment = None
        self.segment_name = ""  # the segment record() appends to
        self.recovered_files = 0

    def recover(self) -> list[tuple[str, list[tuple]]]:
        """The segments a dead server left, oldest first: (name, records). Each file is deleted
        once its records are uploaded (`remove`)."""
        segments = []
        for path in sorted(self.directory.glob(f"*{SEGMENT_SUFFIX}")):
            records = []
            for number, line in enumerate(path.read_bytes().splitlines(), 1):
                try:
                    records.append(decode(line))
                except (ValueError, TypeError):  # a line cut short as the process died
                    log.warning("Data Capture spool: skipped unreadable line %s:%d", path, number)
            segments.append((path.name.removesuffix(SEGMENT_SUFFIX), records))
        self.recovered_files = len(segments)
        self._open_segment()
        return segments

    def _path(self, name: str) -> Path:
        return self.directory / f"{name}{SEGMENT_SUFFIX}"

    def _open_segment(self) -> None:
        self.segment_name = f"{time.time_ns():020d}-{os.getpid()}"
        self._segment = open(self._path(self.segment_name), "ab", buffering=0)  # noqa: SIM115

    def append(self, item: NamedTuple) -> None:
        self._segment.write(encode(item))

    def rotate(self) -> str:
        """Close the current segment (its records are being flushed); the new one's name."""
        self._segment.close()
        self._open_segment()
        return self.segment_name

    def remove(self, name: str) -> None:
        """Segment `name` is done with: its records are in S3 (or were given up, loudly)."""
        self._path(name).unlink(missing_ok=True)

    def close(self, delivered: bool) -> None:
        """At stop: the current segment's file goes if everything was delivered; otherwise the
        files stay for a successor (the uploaded ones are gone already)."""
        if self._segment is not None:
            self._segment.close()
            if delivered:
                self.remove(self.segment_name)
        self._lock.close()  # releases the flock
