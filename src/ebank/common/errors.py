"""Errors the domain raises, each with a stable code, the field it concerns and an English message
(the gettext msgid) that the edge translates into the user's language."""

from __future__ import annotations

from typing import Any


class InvalidValue(ValueError):
    """A single value failed validation (raised by pure validators; the edge makes it a field
    error)."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message.format(**params) if params else message)
        self.code = code
        self.message = message
        self.params = params


class DomainError(Exception):
    """A request the domain refuses. ``message`` is an English msgid with ``{placeholders}``."""

    status: int = 400

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        status: int | None = None,
        **params: Any,
    ) -> None:
        super().__init__(message.format(**params) if params else message)
        self.code = code
        self.message = message
        self.field = field
        self.params = params
        if status is not None:
            self.status = status


class BadRequest(DomainError):
    status = 400


class Unprocessable(DomainError):
    status = 422


class NotAuthenticated(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class Locked(DomainError):
    status = 423


class TooManyRequests(DomainError):
    status = 429
