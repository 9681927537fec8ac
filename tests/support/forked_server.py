"""A stand-in server for the supervisor's `--preload` (harness/preforked.py), run as
`python -m tests.support.forked_server`: it answers each connection on the inherited socket
with who it is, the descriptors it started with, and where `forked_preload` was imported (the
supervisor, when it was forked from one that preloaded it)."""

from __future__ import annotations

import json
import os
import socket
import sys


def main() -> None:
    fd = int(sys.argv[sys.argv.index("--listen-fd") + 1])
    preloaded = sys.modules.get("tests.support.forked_preload")
    open_fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))  # its own listing's too
    listener = socket.socket(fileno=fd)
    while True:
        conn, _ = listener.accept()
        answer = {
            "pid": os.getpid(),
            "imported_in": preloaded.IMPORTED_IN if preloaded else None,
            "argv": sys.argv[1:],
            "open_fds": open_fds,
        }
        conn.sendall(json.dumps(answer).encode())
        conn.close()


if __name__ == "__main__":
    main()
