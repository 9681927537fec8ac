"""Embedded AWS: moto's server plus warm awslambdaric workers, no Docker. See server.py.

Importing the package stays light (the stack and the deployer import `contract` through it):
the server and its dependencies load only when EmbeddedAWS, is_ready or wait_ready is used.
"""

from harness.emulator.contract import CODE_PATHS_TAG, HEALTH_PATH

__all__ = ["CODE_PATHS_TAG", "HEALTH_PATH", "EmbeddedAWS", "is_ready", "wait_ready"]

_FROM_SERVER = ("EmbeddedAWS", "is_ready", "wait_ready")


def __getattr__(name: str):
    if name in _FROM_SERVER:
        from harness.emulator import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
