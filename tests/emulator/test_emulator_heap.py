"""heap.limit_malloc_arenas (issue 17): the emulator caps glibc's malloc arenas, because each
of its many threads could get an arena of its own, each fragmenting on its own."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from harness.config import REPO_ROOT

# eight threads allocating at once (hashlib lets go of the GIL), then glibc's own report
WORKLOAD = textwrap.dedent(
    """
    import ctypes, hashlib, os, sys, threading
    from harness.emulator import heap
    if sys.argv[1] == "limit":
        assert heap.limit_malloc_arenas(), "mallopt refused"
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


def arenas(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", WORKLOAD, mode],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_threads_share_the_arenas_the_emulator_allows():
    unlimited = arenas("default")
    if unlimited <= 2:
        pytest.skip(f"this machine made only {unlimited} arenas without the limit")
    assert arenas("limit") <= 2
