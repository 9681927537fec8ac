"""The on-disk layout of the local stack's data (`<state_dir>/data/`), with no moto in it.

    data/s3/<bucket>/.bucket.json         {"name", "region", "tags"}
    data/s3/<bucket>/<key>.obj            one JSON header line, then the object's bytes
    data/executions/<execution arn>.json  one summary line, then one line of history events

Names are percent-encoded (never a "/" or a leading "."); a name with capitals gets a short
hash too, so two keys differing only in case stay two files on a case-insensitive disk, and a
name too long for a file becomes its hash. The header inside each file is the truth (the real
key or ARN), the name only has to be unique. Every file is written to a temporary name and
renamed (os.replace), so a kill -9 leaves the old file or the new one, never half of one; one
file per object keeps its bytes and metadata from ever disagreeing.

The embedded emulator (persistence.py) and docker mode's export (harness/stack/datastore.py)
both read and write this layout, so either mode restores what the other saved.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

VERSION = 1
BUCKET_FILE = ".bucket.json"
OBJECT_SUFFIX = ".obj"
_MAX_NAME = 180  # bytes; file systems allow 255


def data_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "data"


def file_name(name: str) -> str:
    """A unique, deterministic, safe file name for a bucket, key or ARN."""
    encoded = urllib.parse.quote(name, safe="")
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]  # never hidden, never "." or ".."
    digest = hashlib.sha256(name.encode()).hexdigest()
    if len(encoded) > _MAX_NAME:
        return f"~{digest}"
    if name != name.lower():
        return f"{encoded}~{digest[:8]}"
    return encoded


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    with open(tmp, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


class Unreadable(ValueError):
    """A data file that cannot be restored; str() names the file and why."""


def _check(ok: bool, why: str) -> None:
    if not ok:
        raise ValueError(why)


def _datetime_to_json(value):
    if isinstance(value, datetime.datetime):
        return {"$dt": value.isoformat()}
    if hasattr(value, "value") and isinstance(value.value, str):  # str enums
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _json_to_datetime(obj: dict):
    if len(obj) == 1 and "$dt" in obj:
        return datetime.datetime.fromisoformat(obj["$dt"])
    return obj


def dumps(value) -> str:
    return json.dumps(value, default=_datetime_to_json, separators=(",", ":"))


def loads(text: str | bytes):
    return json.loads(text, object_hook=_json_to_datetime)


# --- S3 objects ------------------------------------------------------------------------------


@dataclass
class StoredObject:
    bucket: str
    key: str
    body: bytes
    content_type: str = "binary/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict)  # other headers and x-amz-meta-*
    etag: str = ""  # without quotes
    last_modified: datetime.datetime | None = None


class Store:
    """One `<state_dir>/data` folder."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.s3 = self.root / "s3"
        self.executions = self.root / "executions"

    def wipe(self) -> bool:
        existed = self.root.exists()
        shutil.rmtree(self.root, ignore_errors=True)
        return existed

    # buckets and objects

    def bucket_dir(self, bucket: str) -> Path:
        return self.s3 / file_name(bucket)

    def object_path(self, bucket: str, key: str) -> Path:
        return self.bucket_dir(bucket) / (file_name(key) + OBJECT_SUFFIX)

    def write_bucket(self, name: str, region: str, tags: dict[str, str]) -> None:
        header = {"v": VERSION, "name": name, "region": region, "tags": tags}
        atomic_write(self.bucket_dir(name) / BUCKET_FILE, dumps(header).encode())

    def delete_bucket(self, name: str) -> None:
        shutil.rmtree(self.bucket_dir(name), ignore_errors=True)

    def write_object(self, obj: StoredObject) -> Path:
        header = {
            "v": VERSION,
            "bucket": obj.bucket,
            "key": obj.key,
            "content_type": obj.content_type,
            "metadata": obj.metadata,
            "etag": obj.etag,
            "last_modified": obj.last_modified,
            "size": len(obj.body),
        }
        path = self.object_path(obj.bucket, obj.key)
        atomic_write(path, dumps(header).encode() + b"\n" + obj.body)
        return path

    def delete_object(self, bucket: str, key: str) -> None:
        self.object_path(bucket, key).unlink(missing_ok=True)

    def buckets(self) -> list[tuple[Path, dict | Unreadable]]:
        """(folder, bucket header or why it cannot be read), one a bucket folder."""
        if not self.s3.is_dir():
            return []
        found = []
        for folder in sorted(p for p in self.s3.iterdir() if p.is_dir()):
            path = folder / BUCKET_FILE
            try:
                header = loads(path.read_bytes())
                _check(isinstance(header.get("name"), str), "no bucket name")
                found.append((folder, header))
            except (OSError, ValueError, AttributeError) as exc:
                found.append((folder, Unreadable(f"{path}: {exc}")))
        return found

    @staticmethod
    def object_files(folder: Path) -> list[Path]:
        return sorted(p for p in folder.glob("*" + OBJECT_SUFFIX) if not p.name.startswith("."))

    @staticmethod
    def body_span(path: Path) -> tuple[int, int]:
        """(offset, size) of an object file's body: after its header's line, to the end."""
        with open(path, "rb") as stored:
            offset = len(stored.readline())
            return offset, os.fstat(stored.fileno()).st_size - offset

    @staticmethod
    def read_object(path: Path) -> StoredObject:
        try:
            raw = path.read_bytes()
            head, sep, body = raw.partition(b"\n")
            if not sep:
                raise ValueError("no header line")
            header = loads(head)
            if len(body) != header["size"]:
                raise ValueError(f"{len(body)} bytes where the header says {header['size']}")
            return StoredObject(
                bucket=header["bucket"],
                key=header["key"],
                body=body,
                content_type=header.get("content_type") or "binary/octet-stream",
                metadata=dict(header.get("metadata") or {}),
                etag=header.get("etag") or "",
                last_modified=header.get("last_modified"),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise Unreadable(f"{path}: {exc}") from None

    # executions

    def execution_path(self, arn: str) -> Path:
        return self.executions / (file_name(arn) + ".json")

    def write_execution(self, summary: dict, events: list) -> Path:
        """`summary` needs arn, state_machine_arn, name, status, start (datetime), ..."""
        path = self.execution_path(summary["arn"])
        text = dumps({"v": VERSION, **summary}) + "\n" + dumps(events) + "\n"
        atomic_write(path, text.encode())
        return path

    def execution_files(self) -> list[Path]:
        if not self.executions.is_dir():
            return []
        return sorted(p for p in self.executions.glob("*.json") if not p.name.startswith("."))

    def remove_temporary(self) -> int:
        """Temporary files a kill -9 left mid-write (their targets are whole): how many."""
        stale = list(self.root.rglob(".tmp-*")) if self.root.is_dir() else []
        for path in stale:
            path.unlink(missing_ok=True)
        return len(stale)

    @staticmethod
    def read_execution_summary(path: Path) -> dict:
        """The first line only: listing 1,000 executions does not parse 1,000 histories."""
        try:
            with open(path, "rb") as source:
                summary = loads(source.readline())
            for name in ("arn", "state_machine_arn", "name", "status"):
                _check(isinstance(summary.get(name), str), f"no {name}")
            _check(isinstance(summary.get("start"), datetime.datetime), "no start date")
            return summary
        except (OSError, ValueError, AttributeError) as exc:
            raise Unreadable(f"{path}: {exc}") from None

    @staticmethod
    def read_execution_events(path: Path) -> list:
        try:
            with open(path, "rb") as source:
                source.readline()
                events = loads(source.readline())
            _check(isinstance(events, list), "the history is not a list")
            return events
        except (OSError, ValueError) as exc:
            raise Unreadable(f"{path}: {exc}") from None
