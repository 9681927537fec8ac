"""`python -m harness.emulator`: run the embedded AWS in the foreground until SIGTERM/SIGINT.

Prints one line `embedded AWS ready at <url>` once it serves; on a signal it ends every
worker process (each in its own process group) before exiting.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from harness.config import Settings
from harness.errors import HarnessError

_EPILOG = """\
settings (environment variables, or the repository's .env):
  HARNESS_HOST, HARNESS_AWS_PORT     where it listens (default 127.0.0.1:4566; port 0: any free)
  HARNESS_STATE_DIR                  unpacked Lambda code goes under <dir>/lambda
  AWS_REGION                         the region of the interpreter's clients
  LAMBDA_WORKERS_PER_FUNCTION, LAMBDA_MAX_WORKERS_PER_FUNCTION, LAMBDA_PREWARM
                                     the warm worker pools
  HARNESS_EMULATOR_SPEEDUPS=false    run on moto's own (slower) paths
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.emulator",
        description="Run the embedded AWS (moto's server, Lambda code in warm awslambdaric\n"
        "workers) in the foreground until SIGTERM or SIGINT.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)  # no options of its own: --help, and a clear error for a typo

    from harness import c_allocator

    c_allocator.limit_arenas()  # before any thread starts (c_allocator.py says why)
    from harness.emulator.server import EmbeddedAWS  # after --help: it loads moto's server

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
        # a timed wait: the kernel may deliver SIGTERM to any thread, and an untimed lock wait in the
        # main thread would then never return to run the Python handler that sets `stop`
        while not stop.wait(0.5):
            pass
    finally:
        aws.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
