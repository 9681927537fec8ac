"""Helpers for the Docker tests, shared by its conftest and test modules."""

from __future__ import annotations

import time
import urllib.error
import urllib.request


def wait_for_ping(url: str, container, deadline_s: float = 60.0) -> None:
    """Poll GET /ping until 200, the container exits, or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        container.reload()
        if container.status == "exited":
            raise AssertionError(f"container exited before /ping answered:\n{logs(container)}")
        time.sleep(0.2)
    raise AssertionError(f"/ping did not answer 200 within {deadline_s} s:\n{logs(container)}")


def logs(container) -> str:
    return container.logs().decode(errors="replace")[-4000:]
