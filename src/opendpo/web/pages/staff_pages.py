"""What the sign-in and account pages share: how they render, where sign-in goes next, and
how a session cookie is set."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Request
from limits import RateLimitItem
from sqlalchemy.orm import Session
from starlette.responses import Response

from opendpo.security.errors import NotAuthenticated
from opendpo.security.rate_limits import parse_limit
from opendpo.security.roles import Permission
from opendpo.security.sessions import StaffSession, start_session
from opendpo.security.staff import StaffUser
from opendpo.settings import Settings
from opendpo.web.auth import Auth, Permit, client_address, session_cookie_name
from opendpo.web.state import WebState

HOME = "/console/"
LOGIN_PATH = "/console/login"

PublicAuth = Annotated[Auth, Depends(Permit(Permission.PUBLIC))]
# Midway through signing in: one-time password not yet changed or second factor not yet given.
PartialAuth = Annotated[Auth, Depends(Permit(Permission.SIGNED_IN, partial=True))]


def page(
    request: Request,
    state: WebState,
    template: str,
    *,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    message: str | None = None,
    **context: Any,
) -> Response:
    """A console form page; `errors` maps field names to what is wrong with each."""
    return state.templates.TemplateResponse(
        request,
        f"console/{template}",
        {"errors": dict(errors or {}), "message": message, **context},
        status_code=status,
    )


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a console path on this site, never another host."""
    if not target or not target.startswith("/console") or target.startswith(LOGIN_PATH):
        return HOME
    if "\\" in target or any(ord(char) < 0x20 for char in target):
        return HOME  # browsers read "/\evil" and control characters in surprising ways
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return HOME
    return target


def next_step(user: StaffUser, staff_session: StaffSession, target: str) -> str:
    """The next page of signing in, in the order Permit insists on."""
    if not staff_session.complete:
        return "/console/login/code?" + urlencode({"next": safe_next(target)})
    if user.must_change_password:
        return "/console/account/password"
    return safe_next(target)


def signed_in_parts(auth: Auth) -> tuple[StaffSession, StaffUser]:
    if auth.staff_session is None or auth.user is None:
        raise NotAuthenticated()  # e.g. an API key: these pages are for people
    return auth.staff_session, auth.user


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        session_cookie_name(settings),
        token,
        max_age=settings.session_absolute_hours * 3600,
        path="/",
        secure=settings.behind_tls,
        httponly=True,
        samesite="lax",
    )


def new_session(
    request: Request, state: WebState, session: Session, user: StaffUser
) -> tuple[StaffSession, str]:
    """A session with a fresh token; the caller sets its cookie."""
    return start_session(
        session=session,
        user=user,
        absolute=dt.timedelta(hours=state.settings.session_absolute_hours),
        client_address=client_address(request),
        user_agent=request.headers.get("user-agent"),
    )


def login_limit(state: WebState) -> RateLimitItem:
    return parse_limit(state.settings.rate_limit_login, field="OPENDPO_RATE_LIMIT_LOGIN")
