"""The class names in the endpoint's index order, from their one home: lambdas/shared/labels.py.

That file is bundled into every Lambda zip, which cannot import the harness; lambdas/ is not
an installed package, so the harness runs the file itself rather than keep a copy. The
model-server image holds harness/ without lambdas/: nothing it runs may import this module
(it takes the names from the model artifact's metadata.json instead).
"""

from __future__ import annotations

import runpy

from harness.config import LAMBDAS_DIR

LABELS: tuple[str, ...] = tuple(runpy.run_path(str(LAMBDAS_DIR / "shared" / "labels.py"))["LABELS"])
