"""Errors every domain may raise; they name what went wrong, never an HTTP status.

The web layer maps each to a response (opendpo.web.errors); the CLI to a message and exit code.
"""

from __future__ import annotations


class DomainError(Exception):
    """Something a caller asked for cannot be done; `code` is stable, `message` is for people."""

    code = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    code = "not_found"

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"no {kind} with key '{key}'")
        self.kind = kind
        self.key = key


class NoPolicyApplied(DomainError):
    code = "no_policy_applied"

    def __init__(self) -> None:
        super().__init__(
            "no policy has been applied yet: apply one with `opendpo policy apply PATH`"
        )


class InvalidValue(DomainError):
    """A value a caller gave is malformed; `field` names it, so forms and APIs can point at it."""

    code = "invalid_value"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.detail = message
