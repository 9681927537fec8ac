"""The class names have one home, lambdas/shared/labels.py, and every user reads that one."""

from __future__ import annotations

import shared.event
import shared.labels

from harness.labels import LABELS
from model_training.preprocess import METADATA
from tests.support.python_script import run_python


def test_the_harness_the_lambdas_and_training_share_one_tuple():
    assert LABELS == shared.labels.LABELS == ("bicycle", "motorcycle")
    assert shared.event.LABELS is shared.labels.LABELS
    assert METADATA["labels"] == list(LABELS)


def test_the_model_server_never_needs_the_lambdas_folder():
    # The model-server image copies harness/ only: importing harness.labels there would fail.
    code = (
        "import sys, harness.model_server, harness.model_server.__main__, "
        "harness.model_server.commands; "
        "sys.exit('harness.labels' in sys.modules)"
    )
    done = run_python(code, check=False)
    assert done.returncode == 0, done.stderr or "harness.labels is imported by the model server"
