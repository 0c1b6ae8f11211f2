"""Domain errors: every refusal carries a stable code the API maps to an HTTP status."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal the caller can act on. `code` is stable API surface; `message` is for people."""

    status = 400

    def __init__(self, code: str, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = str(message)
        self.fields = {key: str(value) for key, value in (fields or {}).items()}


class NotAuthenticated(DomainError):
    """The sender proved no identity: a webhook or feed that signs its requests instead of
    presenting an API token."""

    status = 401


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class Invalid(DomainError):
    """Well-formed input that breaks a business rule (unknown SKU, quantity too large …)."""

    status = 422
