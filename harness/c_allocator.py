"""glibc's malloc, tuned for the stack's long-lived servers (issue 17): the emulator and the
model server. Elsewhere (macOS, musl) every call here does nothing and says so.

- Arenas: glibc gives a thread that finds its arena busy another one, up to 8 per core, each
  fragmenting on its own. The emulator runs ~70 threads: capped at 2, its idle USS went from
  136-140 to 115-118 MB, throughput unchanged (bench/README.md).
- Trimming: free() gives memory back to the system only from the top of the main heap;
  freed chunks in the middle stay in the process until `malloc_trim`. Building the model's
  onnxruntime session leaves ~9 MB of such holes (the graph optimiser's scratch), and a burst
  of requests leaves some in the emulator. Trimming after the load, and once a burst is over,
  hands those pages back; the next burst maps what it needs again.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
from collections.abc import Callable

M_ARENA_MAX = -8  # glibc's malloc.h
EMULATOR_MALLOC_ARENAS = 2
QUIET_SECONDS = 1.0


def _libc_function(name: str) -> Callable | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):  # not glibc (musl has neither knob)
        return None


def limit_arenas(count: int = EMULATOR_MALLOC_ARENAS) -> bool:
    """Cap this process's malloc arenas (call it before threads start); whether it took.
    Unlike GLIBC_TUNABLES, it does not reach the environment of the processes it starts."""
    mallopt = _libc_function("mallopt")
    return mallopt is not None and mallopt(M_ARENA_MAX, count) == 1


def release_free_memory() -> bool:
    """Return the allocator's free pages to the system (glibc's malloc_trim); whether any went.
    A few milliseconds for a heap of 100 MB, so only at quiet moments."""
    trim = _libc_function("malloc_trim")
    return trim is not None and trim(0) == 1


class TrimWhenQuiet:
    """Calls release_free_memory once after each busy period, when `busy()` has not been
    called for `quiet` seconds: never under load, and never twice for one quiet spell."""

    def __init__(
        self, quiet: float = QUIET_SECONDS, release: Callable[[], bool] = release_free_memory
    ):
        self.quiet = quiet
        self.releases = 0
        self.ticks = 0  # checks made, for tests to wait on
        self._release = release
        self._activity = 0  # a counter, not a lock: a lost increment only delays a trim
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def busy(self) -> None:
        self._activity += 1

    def start(self) -> TrimWhenQuiet:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="trim-when-quiet", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        seen, pending = self._activity, False
        while not self._stop.wait(self.quiet):
            self.ticks += 1
            if self._activity != seen:
                seen, pending = self._activity, True
            elif pending:
                pending = False
                self._release()
                self.releases += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
