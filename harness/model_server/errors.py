"""Errors that carry their HTTP status, as the SageMaker inference toolkit's do.

The container answers them as-is on /invocations; the runtime mirror wraps them in the
error botocore expects (`ModelError` for anything the container said, `ValidationError`
for what the runtime front end refuses before the container sees it).
"""

from __future__ import annotations

from http import HTTPStatus


class InvocationError(Exception):
    """An error the container reports with `status`; the message says what to send instead."""

    status: int = HTTPStatus.INTERNAL_SERVER_ERROR

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class UnsupportedContentType(InvocationError):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE


class UnsupportedAccept(InvocationError):
    status = HTTPStatus.NOT_ACCEPTABLE


class BadImage(InvocationError):
    status = HTTPStatus.BAD_REQUEST


class ImageTooLarge(InvocationError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class ModelNotLoaded(InvocationError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


class RuntimeRefusal(Exception):
    """Refused by the runtime API front end (never reaches the model): botocore's error codes."""

    def __init__(self, code: str, status: int, message: str):
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


def validation_error(message: str) -> RuntimeRefusal:
    return RuntimeRefusal("ValidationError", HTTPStatus.BAD_REQUEST, message)


def as_invocation_error(exc: BaseException) -> InvocationError:
    """The one place where an unexpected failure becomes a 500 (logged by the caller)."""
    return InvocationError(f"Internal error in the model server: {type(exc).__name__}: {exc}")
