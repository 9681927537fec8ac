"""S3 object bodies read from the persisted file instead of held in memory (issue 17).

moto keeps every object's body in memory for as long as the emulator runs; Data Capture alone
adds a file a second, and the soak's stack grew by ~4 KB an execution for it. Once the
persister has written an object (persistence.py), its body is already on disk: the key's
buffer is swapped for a `DiskBody` that reads the stored file when asked (the page cache keeps
a hot one in memory anyway), holding no descriptor between reads.

The file belongs to the key's newest version and is rewritten when the key changes or goes. So
before the persister replaces or deletes a file, `BodyReleases.before_replace` reads the body
back into the released key, if anything still holds that key (an older version in a versioned
bucket, a reader mid-way): a released body never changes under its key.
"""

from __future__ import annotations

import io
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any

from harness.emulator.persistence_store import Store


def problems() -> list[str]:
    """What moto moved under this module (empty: nothing): the FakeKey fields it swaps."""
    import inspect

    from moto.s3.models import FakeKey

    source = inspect.getsource(FakeKey)
    needed = ("self._value_buffer", "self.lock", "self.contentsize", "self.disposed")
    needed += ("self._max_buffer_size",)
    return [f"moto's FakeKey no longer sets {name}" for name in needed if name not in source]


class DiskBody:
    """The file-like moto's FakeKey keeps as `_value_buffer`: seek, tell, read from `path` at
    `offset` (the stored header's length) for `size` bytes; a write (moto's value setter:
    seek, truncate, write) turns it into memory, as moto's own buffer."""

    def __init__(self, path: Path, offset: int, size: int):
        self._path, self._offset, self._size = path, offset, size
        self._pos = 0
        self._memory: io.BytesIO | None = None
        self.closed = False

    def seek(self, pos: int, whence: int = 0) -> int:
        if self._memory is not None:
            return self._memory.seek(pos, whence)
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def tell(self) -> int:
        return self._memory.tell() if self._memory is not None else self._pos

    def read(self, n: int = -1) -> bytes:
        if self._memory is not None:
            return self._memory.read(n)
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        left = max(0, self._size - self._pos)
        count = left if n is None or n < 0 else min(n, left)
        with open(self._path, "rb") as stored:
            stored.seek(self._offset + self._pos)
            data = stored.read(count)
        if len(data) != count:  # cut short under us: never hand out a partial body
            raise ValueError(f"{self._path} holds {len(data)} of the {count} bytes expected")
        self._pos += count
        return data

    def truncate(self, size: int | None = None) -> int:
        self._into_memory()
        return self._memory.truncate(size)

    def write(self, data: bytes) -> int:
        self._into_memory()
        return self._memory.write(data)

    def close(self) -> None:
        self.closed = True
        if self._memory is not None:
            self._memory.close()

    def read_all(self) -> bytes:
        pos = self._pos
        self._pos = 0
        try:
            return self.read()
        finally:
            self._pos = pos

    def _into_memory(self) -> None:
        if self._memory is None:
            self._memory = io.BytesIO(self.read_all())
            self._memory.seek(self._pos)


class BodyReleases:
    """Which keys read their body from which stored file."""

    def __init__(self):
        self._released: dict[Path, weakref.ref] = {}
        self._lock = threading.Lock()

    def release(self, key: Any, path: Path) -> None:
        """Read `key`'s body from `path` from now on (just written by the persister)."""
        offset, size = Store.body_span(path)
        if size != key.contentsize:
            return  # not this key's body: keep it in memory
        with key.lock:
            if isinstance(key._value_buffer, DiskBody) or key.disposed:
                return
            old = key._value_buffer
            key._value_buffer = DiskBody(path, offset, size)
            old.close()
        with self._lock:
            self._released[path] = weakref.ref(key)

    def before_replace(self, path: Path) -> None:
        """The persister is about to rewrite or delete `path`: a key still alive that reads
        from it gets its body back in memory first."""
        with self._lock:
            ref = self._released.pop(path, None)
        key = ref() if ref is not None else None
        if key is None:
            return
        with key.lock:
            body = key._value_buffer
            if isinstance(body, DiskBody) and not body.closed:
                spooled = tempfile.SpooledTemporaryFile(key._max_buffer_size)  # noqa: SIM115  the key owns it
                spooled.write(body.read_all())
                key._value_buffer = spooled

    def restore_all(self) -> None:
        """Every released body back in memory (the store is about to be wiped)."""
        with self._lock:
            paths = list(self._released)
        for path in paths:
            self.before_replace(path)
