"""The public pages that ask only for an email address ("manage my preferences", "lost your
link?"): the form, and the same form again with why the address was not taken."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from opendpo.errors import InvalidValue
from opendpo.policy.model.document import PolicyDocument
from opendpo.web.pages.subscribe import render
from opendpo.web.state import WebState


def email_form(
    request: Request,
    state: WebState,
    policy: PolicyDocument,
    template: str,
    *,
    email: str = "",
    error: InvalidValue | None = None,
) -> Response:
    """The page `template` asking for an address; with `error`, refused (422) with the reason."""
    errors: dict[str, str] = {}
    if error is not None:
        errors["email"] = f"Enter your email address, like name@example.com ({error.detail})."
    return render(
        request,
        state,
        policy,
        template,
        status=422 if error is not None else 200,
        errors=errors,
        values={"email": email},
    )
