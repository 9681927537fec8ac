"""The garbage collector, the C allocator, and the emulator's large, long-lived heap.

After its imports the emulator holds a few hundred thousand objects that live as long as it
does (botocore's service models, moto's backends, the ANTLR parser). Every full collection
walked all of them again: ~7 % of the emulator's CPU under load (bench/README.md). Freezing
them once warm moves them out of the collector's sight (`gc.freeze`, as CPython documents
for long-lived servers); what the stack creates later is collected as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys

# glibc's malloc.h: the most arenas malloc may create (default 8 per core)
M_ARENA_MAX = -8
# The emulator runs ~70 threads (HTTP handlers, an engine thread or two per execution), and
# glibc gives a thread that finds its arena busy another one, up to 16 on 2 cores, each
# fragmenting on its own: with 2, the idle emulator's USS went from 136-140 to 115-118 MB and
# its growth over 3,000 executions from 22 to 12 MB, throughput unchanged (bench/README.md).
EMULATOR_MALLOC_ARENAS = 2


def limit_malloc_arenas(count: int = EMULATOR_MALLOC_ARENAS) -> bool:
    """Cap the C allocator's arenas for this process (before its threads start); whether it
    took (glibc's mallopt; elsewhere nothing happens). Unlike GLIBC_TUNABLES, it does not
    reach the Lambda workers' environment."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl has no such knob)
        return False
    return mallopt(M_ARENA_MAX, count) == 1


def freeze() -> int:
    """Collect once, then exempt every surviving object from later collections; how many."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def thaw() -> None:
    """Give the frozen objects back to the collector (the emulator stopped)."""
    gc.unfreeze()
