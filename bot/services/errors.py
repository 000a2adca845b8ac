"""Errors a service raises for the user to read.

Each carries an English message marked with ``N_`` and its parameters; the
handler translates it into the caller's language and escapes the values.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message.format(**params) if params else message)
        self.message = message
        self.params = params


class AccessDenied(ServiceError):
    """The caller's role or scope does not allow this."""


class NotFound(ServiceError):
    """What the caller named does not exist (in their scope)."""


class Invalid(ServiceError):
    """The request is malformed: wrong arguments, bad values."""


class Conflict(ServiceError):
    """The request clashes with the current state (already used, last admin, …)."""
