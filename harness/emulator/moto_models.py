"""A speed-up for the first request of each AWS service: one botocore loader for moto.

moto reads a service's model (`moto.core.utils.get_service_model`, cached per service) with a
new botocore `Loader` each time, and a new loader lists botocore's whole data folder again
(`list_available_services`, ~0.1 s of CPU) before it reads the model. `harness up` touches
seven services, so ~0.7 s of the emulator's CPU, on the deploy's critical path, went to
listing the same folder seven times. One shared loader lists it once (its own instance cache
keeps the answer); the models it reads are the same files.
"""

from __future__ import annotations

import threading
from typing import Any

_installed: dict[str, Any] = {}
_lock = threading.Lock()


def problems() -> list[str]:
    """What moto moved under this module (empty: nothing)."""
    from moto.core import utils

    if not callable(getattr(utils, "_load_service_model", None)):
        return ["moto.core.utils._load_service_model is gone"]
    return []


def install() -> None:
    from moto.core import utils

    with _lock:
        if "load" in _installed:
            return
        _installed["load"] = utils._load_service_model
        loader = utils.create_loader()

        def load_service_model(service_name: str, model_name: str) -> dict[str, Any]:
            return loader.load_service_model(service_name, model_name)

        utils._load_service_model = load_service_model


def uninstall() -> None:
    from moto.core import utils

    with _lock:
        original = _installed.pop("load", None)
    if original is not None:
        utils._load_service_model = original
