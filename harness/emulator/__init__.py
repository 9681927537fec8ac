"""Embedded AWS: moto's server plus warm awslambdaric workers, no Docker. See server.py."""

from harness.emulator.code import CODE_PATHS_TAG
from harness.emulator.server import HEALTH_PATH, EmbeddedAWS, is_ready, wait_ready

__all__ = ["CODE_PATHS_TAG", "HEALTH_PATH", "EmbeddedAWS", "is_ready", "wait_ready"]
