"""What the supervisor preloads in its `--preload` tests: where this module was imported."""

import os

IMPORTED_IN = os.getpid()  # the supervisor's pid when it preloaded this module
