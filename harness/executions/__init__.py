"""Execution views: the Step Functions console's execution list, Table view and Graph view.

Reads only the Step Functions API, so the local stack and AWS look the same.
"""

from typing import Any

__all__ = ["write_execution_views"]


def __getattr__(name: str) -> Any:
    # Lazy: render imports matplotlib (~0.7 s), which `harness.executions.api` users need not pay for.
    if name == "write_execution_views":
        from harness.executions.render import write_execution_views

        return write_execution_views
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
