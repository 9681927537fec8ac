"""`python -m harness.emulator`: run the embedded AWS in the foreground until SIGTERM/SIGINT.

Prints one line `embedded AWS ready at <url>` once it serves; on a signal it ends every
worker process (each in its own process group) before exiting.
"""

from __future__ import annotations

import signal
import sys
import threading

from harness.config import Settings
from harness.emulator.server import EmbeddedAWS
from harness.errors import HarnessError


def main() -> int:
    settings = Settings.from_env()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        aws = EmbeddedAWS(settings).start()
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"embedded AWS ready at {aws.url}", flush=True)
    try:
        stop.wait()
    finally:
        aws.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
