"""Readiness checks with deadlines: poll a condition, never sleep blindly."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from harness.errors import HarnessError


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (for stacks, servers and tests on free ports)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until(
    check: Callable[[], bool],
    what: str,
    timeout: float,
    hint: str = "",
    still_alive: Callable[[], bool] | None = None,
) -> float:
    """Poll `check` until it is true; return the seconds it took. Back off from 10 ms to 50 ms:
    a part that needs a second to start is then seen ready within 50 ms of it (at 200 ms,
    `up` waited ~0.1 s for nothing on average), and a check is a loopback request."""
    start = time.monotonic()
    delay = 0.01
    while True:
        if check():
            return time.monotonic() - start
        if still_alive is not None and not still_alive():
            raise HarnessError(f"{what}: the process exited before it was ready.", hint)
        if time.monotonic() - start > timeout:
            raise HarnessError(f"{what}: not ready after {timeout:.0f} s.", hint)
        time.sleep(delay)
        delay = min(delay * 1.5, 0.05)
