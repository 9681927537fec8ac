"""A speed-up for the emulator's start: moto's Step Functions interpreter without moto.batch.

The interpreter needs only `moto.batch.utils.JobStatus`, but the package's __init__ loads the
Batch and EC2 models (~2 s of CPU at every start). A placeholder package lets us import the
utils module alone, and goes again at once, so a later `import moto.batch` still loads the
real package (the Batch API keeps working: tests/emulator/test_emulator_moto_hooks.py).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types


def problems() -> list[str]:
    if "moto.batch" not in sys.modules:
        spec = importlib.util.find_spec("moto.batch")
        if spec is None or not spec.submodule_search_locations:
            return ["moto.batch is no longer a package folder (the placeholder needs one)"]
        import_utils_alone()
    try:
        utils = importlib.import_module("moto.batch.utils")
    except ImportError:
        utils = None
    if not hasattr(utils, "JobStatus"):
        return ["moto.batch.utils.JobStatus cannot be imported without moto.batch's __init__"]
    return []


def import_utils_alone() -> None:
    if "moto.batch.utils" in sys.modules or "moto.batch" in sys.modules:
        return
    spec = importlib.util.find_spec("moto.batch")
    if spec is None or not spec.submodule_search_locations:
        return
    placeholder = types.ModuleType("moto.batch")  # a package without its __init__ run
    placeholder.__path__ = list(spec.submodule_search_locations)
    placeholder.__spec__ = spec
    sys.modules["moto.batch"] = placeholder
    try:
        importlib.import_module("moto.batch.utils")
    except ImportError:  # moto moved it: problems() says so; the interpreter loads the package
        pass
    finally:
        del sys.modules["moto.batch"]
