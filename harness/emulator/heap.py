"""The garbage collector and the emulator's large, long-lived heap.

After its imports the emulator holds a few hundred thousand objects that live as long as it
does (botocore's service models, moto's backends, the ANTLR parser). Every full collection
walked all of them again: ~7 % of the emulator's CPU under load (bench/README.md). Freezing
them once warm moves them out of the collector's sight (`gc.freeze`, as CPython documents
for long-lived servers); what the stack creates later is collected as before. The C
allocator's side is harness/c_allocator.py.
"""

from __future__ import annotations

import gc


def freeze() -> int:
    """Collect once, then exempt every surviving object from later collections; how many."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def thaw() -> None:
    """Give the frozen objects back to the collector (the emulator stopped)."""
    gc.unfreeze()
