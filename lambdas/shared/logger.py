"""A small JSON logger (stdlib only): one JSON object per line, stamped with the request id.

Usage, as with Powertools' Logger:

    logger = get_logger(__name__)

    @inject_lambda_context
    def handler(event, context):
        logger.info("classified", extra={"s3_key": key, "inferences": probs})

Extra keys become top-level JSON fields. Lines go to stdout, which Lambda (and the local
workers) ship to CloudWatch Logs.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from shared import env

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_function_name: contextvars.ContextVar[str] = contextvars.ContextVar("function_name", default="")

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "taskName",
}

_ROOT_NAME = "scones"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id.get(),
            "function_name": _function_name.get(),
        }
        entry.update(
            (key, value) for key, value in record.__dict__.items() if key not in _RECORD_ATTRS
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _StdoutHandler(logging.StreamHandler):
    """Writes to the current sys.stdout (looked up per line, so redirections are honoured)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _root() -> logging.Logger:
    root = logging.getLogger(_ROOT_NAME)
    if not root.handlers:
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.setLevel(env.log_level())
        # The Lambda runtime puts its own handler on the root logger: do not print twice.
        root.propagate = False
    return root


def get_logger(name: str) -> logging.Logger:
    _root()
    return logging.getLogger(f"{_ROOT_NAME}.{name}")


F = TypeVar("F", bound=Callable[..., Any])


def inject_lambda_context(handler: F) -> F:
    """Decorator: every line logged during the invocation carries the context's request id."""

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        tokens = (
            _request_id.set(getattr(context, "aws_request_id", "") or ""),
            _function_name.set(getattr(context, "function_name", "") or ""),
        )
        try:
            return handler(event, context)
        finally:
            _request_id.reset(tokens[0])
            _function_name.reset(tokens[1])

    return wrapper  # type: ignore[return-value]
