"""Errors every hub use-case raises; the API and pages turn each into one 4xx answer."""

from __future__ import annotations


class ServiceError(ValueError):
    """Base: ``status`` is the HTTP status a view answers with, ``field`` the offending input."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None,
                 details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or []


class Invalid(ServiceError):
    """Input that fails validation."""

    status = 422
    code = "invalid"


class NotFound(ServiceError):
    """No such object (or not visible to the caller)."""

    status = 404
    code = "not_found"


class Conflict(ServiceError):
    """The change collides with the current state."""

    status = 409
    code = "conflict"


class Forbidden(ServiceError):
    """The caller's role or building scope does not allow this."""

    status = 403
    code = "forbidden"
