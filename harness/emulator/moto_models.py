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
  That session now reads through the shared loader too. (Keeping only each model's metadata
  there saved nothing: moto parses SageMaker's, Lambda's and Step Functions' models for their
  requests anyway.)
- moto reads service models to parse requests, never their `documentation` text (~4 MB
  over the seven models the stack uses, 1.6 MB of SageMaker's); it goes once a model is read.
- moto.iam holds AWS's managed policies as one 4.7 MB JSON string, read only when
  MOTO_IAM_LOAD_MANAGED_POLICIES is on (off by default): it is let go, and imported again if
  that setting is turned on.
- the interpreter's own boto3 clients (moto_speedups.boto_client_for) each came with a new
  session that parsed endpoints.json again (7 MB a client). They share one session, whose
  loader reads the service models as botocore ships them (not with moto's extras, which
  change some output shapes) and takes botocore's top-level data (endpoints, partitions)
  from the shared loader: those files have no extras.
"""

from __future__ import annotations

import importlib
import sys
import threading
from typing import Any

from botocore.loaders import Loader

_installed: dict[str, Any] = {}
_lock = threading.Lock()


def problems() -> list[str]:
    """What moto moved under this module (empty: nothing)."""
    from moto.core import utils
    from moto.core.base_backend import AccountSpecificBackend
    from moto.iam import models as iam

    found = []
    if not isinstance(getattr(iam, "aws_managed_policies_data", None), str | None):
        found.append("moto.iam.models.aws_managed_policies_data is gone")
    if not callable(getattr(iam.IAMBackend, "_init_aws_policies", None)):
        found.append("moto.iam.models.IAMBackend._init_aws_policies is gone")
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


def _drop_documentation(model: dict) -> None:
    """Remove every `documentation` text from a service model, in place (~9 ms for SageMaker's)."""
    pending: list = [model]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if isinstance(node.get("documentation"), str):  # a member may be called that
                del node["documentation"]
            pending.extend(value for value in node.values() if isinstance(value, dict | list))
        else:
            pending.extend(value for value in node if isinstance(value, dict | list))


def _managed_policies_back() -> None:
    """moto.iam's managed policies, imported again if they were let go."""
    from moto.iam import models as iam

    if iam.aws_managed_policies_data is None:
        module = importlib.import_module("moto.iam.aws_managed_policies")
        iam.aws_managed_policies_data = module.aws_managed_policies_data


def _release_managed_policies() -> None:
    from moto.iam import models as iam
    from moto.settings import load_iam_aws_managed_policies

    if load_iam_aws_managed_policies() or "init_aws_policies" in _installed:
        return
    original = _installed["init_aws_policies"] = iam.IAMBackend._init_aws_policies

    def init_aws_policies(backend) -> list:
        if load_iam_aws_managed_policies():
            _managed_policies_back()
        return original(backend)

    iam.IAMBackend._init_aws_policies = init_aws_policies
    iam.aws_managed_policies_data = None
    sys.modules.pop("moto.iam.aws_managed_policies", None)  # imported afresh when asked
    sys.modules["moto.iam"].__dict__.pop("aws_managed_policies", None)


def install() -> None:
    from moto.core import utils
    from moto.core.base_backend import AccountSpecificBackend

    with _lock:
        if "load" in _installed:
            return
        loader = utils.create_loader()

        stripped: set[int] = set()

        def load_service_model(service_name: str, model_name: str) -> dict[str, Any]:
            model = loader.load_service_model(service_name, model_name)  # cached by the loader
            if id(model) not in stripped:
                with _lock:
                    if id(model) not in stripped:
                        _drop_documentation(model)
                        stripped.add(id(model))
            return model

        _installed["load"] = utils._load_service_model
        _installed["loader"] = loader
        utils._load_service_model = load_service_model
        regions_session = AccountSpecificBackend.get_session()._session
        _installed["regions_loader"] = regions_session.get_component("data_loader")
        regions_session.register_component("data_loader", loader)
        _release_managed_policies()


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
        init_aws_policies = _installed.pop("init_aws_policies", None)
    if original is not None:
        utils._load_service_model = original
    if regions_loader is not None:
        AccountSpecificBackend.get_session()._session.register_component(
            "data_loader", regions_loader
        )
    if init_aws_policies is not None:
        from moto.iam import models as iam

        iam.IAMBackend._init_aws_policies = init_aws_policies
        _managed_policies_back()
