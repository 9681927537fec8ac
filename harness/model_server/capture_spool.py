"""Data Capture records on disk until S3 has them, so a server that is killed loses none.

SageMaker's front end, not the container, captures on AWS, so a crashed container costs no
records there. Here the model server captures itself and buffers up to CAPTURE_FLUSH_SECONDS
in memory; with CAPTURE_SPOOL_DIR set (the embedded stack sets it) each sampled record is also
appended to a segment file in that folder before the caller gets its answer. Each flush closes
the segment; once a flush has uploaded everything pending, the closed segments are deleted.
A new server (the supervisor's restart after `kill -9`) takes over what a dead one left and
uploads it. Delivery is at least once: a server killed between an upload and the deletion
leaves a segment whose records are uploaded again.

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
        self._closed: list[Path] = []
        self._segment_path: Path | None = None
        self._segment = None
        self.recovered_files = 0

    def recover(self) -> list[tuple]:
        """Records a dead server left, oldest first; their files are deleted after the upload."""
        records = []
        for path in sorted(self.directory.glob(f"*{SEGMENT_SUFFIX}")):
            for number, line in enumerate(path.read_bytes().splitlines(), 1):
                try:
                    records.append(decode(line))
                except (ValueError, TypeError):  # a line cut short as the process died
                    log.warning("Data Capture spool: skipped unreadable line %s:%d", path, number)
            self._closed.append(path)
        self.recovered_files = len(self._closed)
        records.sort(key=lambda record: record[0])
        self._open_segment()
        return records

    def _open_segment(self) -> None:
        name = f"{time.time_ns():020d}-{os.getpid()}{SEGMENT_SUFFIX}"
        self._segment_path = self.directory / name
        self._segment = open(self._segment_path, "ab", buffering=0)  # noqa: SIM115

    def append(self, item: NamedTuple) -> None:
        self._segment.write(encode(item))

    def rotate(self) -> None:
        """Close the current segment (its records are in the batch being flushed)."""
        self._segment.close()
        self._closed.append(self._segment_path)
        self._open_segment()

    def all_uploaded(self) -> None:
        """Everything in the closed segments is in S3 now."""
        for path in self._closed:
            path.unlink(missing_ok=True)
        self._closed.clear()

    def close(self, delivered: bool) -> None:
        """At stop: keep the files unless everything was delivered (a successor uploads them)."""
        if self._segment is not None:
            self._segment.close()
            if delivered:
                self._segment_path.unlink(missing_ok=True)
                self.all_uploaded()
        self._lock.close()  # releases the flock
