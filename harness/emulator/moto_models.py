"""A speed-up and a memory saving: botocore's data files read once in the emulator.

- moto reads a service's model (`moto.core.utils.get_service_model`, cached per service) with a
  new botocore `Loader` each time, and a new loader lists botocore's whole data folder again
  (`list_available_services`, ~0.1 s of CPU) before it reads the model. `harness up` touches
  seven services, so ~0.7 s of the emulator's CPU, on the deploy's critical path, went to
  listing the same folder seven times. One shared loader lists it once (its own instance
  cache keeps the answer); the models it reads are the same files.
- moto lists each backend's regions through a boto3 session of its own
  (`AccountSpecificBackend.get_session`), whose loader parsed every such service's model again
  (for its endpoint prefix) and endpoints.json: ~21 MB of the idle emulator's heap held twice.
  That session now reads through the shared loader too.
- the interpreter's own boto3 clients (moto_speedups.boto_client_for) each came with a new
  session that parsed endpoints.json again (7 MB a client). They share one session, whose
  loader reads the service models as botocore ships them (not with moto's extras, which
  change some output shapes) and takes botocore's top-level data (endpoints, partitions)
  from the shared loader: those files have no extras.
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.loaders import Loader

_installed: dict[str, Any] = {}
_lock = threading.Lock()


def problems() -> list[str]:
    """What moto moved under this module (empty: nothing)."""
    from moto.core import utils
    from moto.core.base_backend import AccountSpecificBackend

    found = []
    if not callable(getattr(utils, "_load_service_model", None)):
        found.append("moto.core.utils._load_service_model is gone")
    if not callable(getattr(AccountSpecificBackend, "get_session", None)):
        found.append("moto.core.base_backend.AccountSpecificBackend.get_session is gone")
    return found


class _TopLevelDataFrom(Loader):
    """botocore's own loader, except that data outside any service's folder (endpoints.json,
    partitions.json, sdk-default-configuration.json) comes from `shared`, parsed once."""

    def __init__(self, shared: Loader):
        super().__init__()
        self._shared = shared

    def load_data_with_path(self, name: str):
        if "/" not in name:
            return self._shared.load_data_with_path(name)
        return super().load_data_with_path(name)


def install() -> None:
    from moto.core import utils
    from moto.core.base_backend import AccountSpecificBackend

    with _lock:
        if "load" in _installed:
            return
        loader = utils.create_loader()

        def load_service_model(service_name: str, model_name: str) -> dict[str, Any]:
            return loader.load_service_model(service_name, model_name)

        _installed["load"] = utils._load_service_model
        _installed["loader"] = loader
        utils._load_service_model = load_service_model
        regions_session = AccountSpecificBackend.get_session()._session
        _installed["regions_loader"] = regions_session.get_component("data_loader")
        regions_session.register_component("data_loader", loader)


def client_session():
    """The one boto3 session the emulator's own clients come from (with the shared loader's
    top-level data once installed); create clients from it under a lock, as botocore asks."""
    import boto3

    with _lock:
        session = _installed.get("client_session")
        if session is None:
            session = boto3.session.Session()
            shared = _installed.get("loader")
            if shared is not None:
                own = session._session.get_component("data_loader")
                loader = _TopLevelDataFrom(shared)
                # boto3 added its own data folder (resource models) to the loader it replaces
                loader.search_paths.extend(
                    p for p in own.search_paths if p not in loader.search_paths
                )
                session._session.register_component("data_loader", loader)
            _installed["client_session"] = session
        return session


def uninstall() -> None:
    from moto.core import utils
    from moto.core.base_backend import AccountSpecificBackend

    with _lock:
        original = _installed.pop("load", None)
        _installed.pop("loader", None)
        _installed.pop("client_session", None)
        regions_loader = _installed.pop("regions_loader", None)
    if original is not None:
        utils._load_service_model = original
    if regions_loader is not None:
        AccountSpecificBackend.get_session()._session.register_component(
            "data_loader", regions_loader
        )
