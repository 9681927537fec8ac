"""The `context` argument's type, for hints only (the runtime passes its own object)."""

from __future__ import annotations

from typing import Protocol


class LambdaContext(Protocol):
    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int | str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str

    def get_remaining_time_in_millis(self) -> int: ...
