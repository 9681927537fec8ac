"""`python -c SCRIPT` in a process of its own, from the repository's root (so `harness` and
`tests` import as they do in the stack's processes): for what a test must not do in pytest's
own process (fork, install signal handlers, see a fresh set of imported modules)."""

from __future__ import annotations

import subprocess
import sys

from harness.config import REPO_ROOT


def run_python(
    script: str, *args: str, env: dict | None = None, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Its outcome, stdout and stderr as text; with `check`, a non-zero exit raises."""
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )
