"""moto's model trackers, kept empty for the models the emulator makes by the thousand.

moto's `BaseModel.__new__` appends every instance to its class's `instances_tracked`, a list
only moto's dashboard and its reset read (the reset puts a new list in place), so nothing in
it is ever freed. The stack makes two such models without end: a CloudWatch `LogEvent`
(about four an invocation; logs.py bounds how many a log group keeps, which would free none
of them) and a `StateMachine` (each execution runs on a deep copy of its machine). Their
trackers keep nothing once `install()` has run; after a reset it must run again.
"""

from __future__ import annotations

import importlib
from typing import Any

UNTRACKED = (("moto.logs.models", "LogEvent"), ("moto.stepfunctions.models", "StateMachine"))


class KeepsNothing(list):
    """A model tracker that tracks nothing."""

    def append(self, item: Any) -> None:
        pass


def _models() -> list[type]:
    return [getattr(importlib.import_module(module), name) for module, name in UNTRACKED]


def install() -> None:
    for model in _models():
        model.instances_tracked = KeepsNothing()


def uninstall() -> None:
    """moto's own trackers back (empty lists, as a reset leaves them)."""
    for model in _models():
        model.instances_tracked = []


def problems() -> list[str]:
    """What moto moved under this module (empty: nothing)."""
    try:
        models = _models()
    except (ImportError, AttributeError) as exc:
        return [f"a model this module untracks moved: {exc}"]
    return [
        f"{model.__name__}.instances_tracked (moto's model tracker) is gone"
        for model in models
        if not isinstance(getattr(model, "instances_tracked", None), list)
    ]
