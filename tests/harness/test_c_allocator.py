"""harness/c_allocator.py (issue 17): glibc's arenas capped for the emulator's many threads, and
freed memory handed back to the system once a burst is over."""

from __future__ import annotations

import sys
import textwrap

import pytest

from harness.c_allocator import TrimWhenQuiet
from harness.stack.readiness import wait_until
from tests.support.python_script import run_python

glibc = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")

# eight threads allocating at once (hashlib lets go of the GIL), then glibc's own report
ARENAS = textwrap.dedent(
    """
    import ctypes, hashlib, os, sys, threading
    from harness import c_allocator
    if sys.argv[1] == "limit":
        assert c_allocator.limit_arenas(), "mallopt refused"
    def work():
        kept = []
        for _ in range(20000):
            kept.append(os.urandom(600))  # past pymalloc's 512 bytes: malloc's own
            hashlib.sha256(b"x" * 5000).hexdigest()
    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ctypes.CDLL("libc.so.6").malloc_stats()  # "Arena N:" lines, on stderr
    """
)

# 60 MB in 1,000-byte chunks, every one freed but the last, which pins the heap's top: free()
# alone cannot give the pages below it back; then the process's own private memory, in MB
HOLES = textwrap.dedent(
    """
    import os, sys
    from harness import c_allocator
    def private_mb():
        with open("/proc/self/smaps_rollup") as f:
            return sum(int(l.split()[1]) for l in f if l.startswith("Private_")) / 1024
    chunks = [os.urandom(1000) for _ in range(60_000)]
    pin = os.urandom(1000)
    del chunks
    before = private_mb()
    released = c_allocator.release_free_memory()
    print(released, before - private_mb())
    """
)


def arenas(mode: str) -> int:
    lines = run_python(ARENAS, mode).stderr.splitlines()
    return sum(1 for line in lines if line.startswith("Arena "))


@glibc
def test_threads_share_the_arenas_the_emulator_allows():
    unlimited = arenas("default")
    if unlimited <= 2:
        pytest.skip(f"this machine made only {unlimited} arenas without the limit")
    assert arenas("limit") <= 2


@glibc
def test_freed_memory_below_the_top_of_the_heap_goes_back_to_the_system():
    released, freed_mb = run_python(HOLES).stdout.split()
    assert released == "True"
    assert float(freed_mb) > 30, freed_mb  # of the ~60 MB freed by Python


def test_a_quiet_spell_after_work_releases_once_and_never_under_load():
    calls = []
    trimmer = TrimWhenQuiet(quiet=0.05, release=lambda: calls.append(1) or True).start()
    try:
        ticks = trimmer.ticks
        wait_until(lambda: trimmer.ticks >= ticks + 3, "three quiet ticks", timeout=5)
        assert calls == []  # nothing happened, so nothing to give back
        trimmer.busy()
        wait_until(lambda: calls, "the release after the work", timeout=5)
        ticks = trimmer.ticks
        wait_until(lambda: trimmer.ticks >= ticks + 3, "three more quiet ticks", timeout=5)
        assert calls == [1]  # one quiet spell, one release
        # busy on every tick: no release while it lasts
        ticks = trimmer.ticks
        while trimmer.ticks < ticks + 4:
            trimmer.busy()
        assert calls == [1]
        wait_until(lambda: len(calls) == 2, "the release after the second burst", timeout=5)
        assert trimmer.releases == 2
    finally:
        trimmer.stop()
