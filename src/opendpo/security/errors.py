"""What can go wrong with keys, sign-in and permissions, in words a caller can act on."""

from __future__ import annotations

from opendpo.errors import DomainError


class KeyProblem(DomainError):
    """Keys are missing, malformed, or do not open a stored value."""

    code = "key_problem"


class NotAuthenticated(DomainError):
    code = "not_authenticated"

    def __init__(self, message: str = "Sign in to see this.") -> None:
        super().__init__(message)


class PermissionDenied(DomainError):
    code = "permission_denied"

    def __init__(self, permission: str) -> None:
        super().__init__(f"Your account does not have the '{permission}' permission.")
        self.permission = permission


class LoginFailed(DomainError):
    """Wrong name, password or code; deliberately never says which."""

    code = "login_failed"

    def __init__(self) -> None:
        super().__init__("The name, password or code is not right.")


class AccountLocked(DomainError):
    code = "account_locked"

    def __init__(self, minutes: int) -> None:
        super().__init__(
            f"Too many failed sign-ins: this account is locked for up to {minutes} minutes."
        )


class CsrfFailed(DomainError):
    code = "csrf_failed"

    def __init__(self) -> None:
        super().__init__(
            "This form has expired or did not come from this site. Reload the page and try again."
        )


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many requests. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


class LinkInvalid(DomainError):
    """A signed link was altered, expired, or made for something else; never says which."""

    code = "link_invalid"

    def __init__(self) -> None:
        super().__init__("This link is not valid or has expired. Ask for a new one.")
