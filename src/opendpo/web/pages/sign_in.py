"""Console sign-in: name and password, the second factor, and sign-out.

Before a session exists there is no session CSRF token, so the sign-in form is protected by
a double-submit token: a random value in a short-lived SameSite=Strict cookie and the same
value in a hidden field. A site that cannot read our cookies cannot make the two match.

Every sign-in gets a fresh session token (an old session on the same browser is ended), so a
token planted before sign-in is worth nothing after it.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from opendpo.security import audit, staff
from opendpo.security.audit import Actor, ActorKind, as_utc
from opendpo.security.errors import AccountLocked, CsrfFailed, LoginFailed
from opendpo.security.sessions import StaffSession, end_session
from opendpo.web.auth import client_address, record_audit, session_cookie_name
from opendpo.web.dependencies import SessionDep, StateDep
from opendpo.web.errors import DOMAIN_STATUS
from opendpo.web.pages.staff_pages import (
    HOME,
    LOGIN_PATH,
    PartialAuth,
    PublicAuth,
    login_limit,
    new_session,
    next_step,
    page,
    safe_next,
    set_session_cookie,
    signed_in_parts,
)
from opendpo.web.state import WebState

LOGIN_CSRF_COOKIE = "opendpo_login_csrf"
LOGIN_CSRF_PATH = LOGIN_PATH
LOGIN_CSRF_MAX_AGE = 30 * 60  # long enough to type a password, short enough to go stale
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32), matched whole

router = APIRouter(prefix="/console", include_in_schema=False)

NextField = Annotated[str, Form(alias="next")]
NextQuery = Annotated[str, Query(alias="next")]


def _login_page(
    request: Request,
    state: WebState,
    *,
    target: str,
    status: int = 200,
    message: str | None = None,
    username: str = "",
) -> Response:
    # The same token is kept while its cookie lives, so two open tabs do not spoil each other.
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not _TOKEN.fullmatch(token):
        token = secrets.token_urlsafe(32)
    response = page(
        request,
        state,
        "login.html",
        status=status,
        message=message,
        csrf_token=token,
        next=safe_next(target),
        username=username,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=LOGIN_CSRF_MAX_AGE,
        path=LOGIN_CSRF_PATH,
        secure=state.settings.behind_tls,
        httponly=True,
        samesite="strict",
    )
    return response


@router.get("/login", name="console_login")
def login_form(
    request: Request, state: StateDep, auth: PublicAuth, target: NextQuery = HOME
) -> Response:
    if auth.staff_session is not None and auth.user is not None:
        step = next_step(auth.user, auth.staff_session, target)
        return RedirectResponse(step, status_code=303)
    return _login_page(request, state, target=target)


@router.post("/login")
def login(
    request: Request,
    state: StateDep,
    session: SessionDep,
    auth: PublicAuth,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    target: NextField = HOME,
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not _TOKEN.fullmatch(cookie) or not secrets.compare_digest(cookie, csrf_token):
        raise CsrfFailed()
    settings = state.settings
    name = username.strip().lower()[:100]
    limit = login_limit(state)
    state.rate_limiter.hit(limit, "login", client_address(request) or "unknown")
    state.rate_limiter.hit(limit, "login-user", name)
    lockout = dt.timedelta(minutes=settings.login_lockout_minutes)
    try:
        user = staff.authenticate(
            session=session,
            username=name,
            password=password,
            max_failures=settings.login_max_failures,
            lockout=lockout,
        )
    except (LoginFailed, AccountLocked) as exc:
        # The failed count must outlive this request, or the lockout never comes.
        action = "auth.locked" if isinstance(exc, AccountLocked) else "auth.login_failed"
        # Staff names are not data-subject data; what someone typed is capped all the same.
        record_audit(
            session=session, state=state, auth=auth, action=action, details={"username": name}
        )
        session.commit()
        return _login_page(
            request,
            state,
            target=target,
            status=DOMAIN_STATUS[type(exc)],
            message=exc.message,
            username=name,
        )
    if auth.staff_session is not None:
        end_session(session=session, staff_session=auth.staff_session)
    staff_session, token = new_session(request, state, session, user)
    audit.record(
        session=session,
        keyring=state.keyring,
        actor=Actor(ActorKind.STAFF, user.id, client_address(request)),
        action="auth.login",
        target_kind="staff_user",
        target_id=user.id,
        details={"second_factor_pending": not staff_session.complete},
    )
    session.commit()
    response = RedirectResponse(next_step(user, staff_session, target), status_code=303)
    set_session_cookie(response, settings, token)
    response.delete_cookie(
        LOGIN_CSRF_COOKIE, path=LOGIN_CSRF_PATH, secure=settings.behind_tls, httponly=True
    )
    return response


@router.get("/login/code", name="console_login_code")
def code_form(
    request: Request, state: StateDep, auth: PartialAuth, target: NextQuery = HOME
) -> Response:
    staff_session, user = signed_in_parts(auth)
    if staff_session.complete:
        return RedirectResponse(next_step(user, staff_session, target), status_code=303)
    return _code_page(request, state, staff_session, target=target)


def _code_page(
    request: Request,
    state: WebState,
    staff_session: StaffSession,
    *,
    target: str,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
) -> Response:
    return page(
        request,
        state,
        "login_code.html",
        status=status,
        errors=errors,
        csrf_token=staff_session.csrf_token,
        next=safe_next(target),
    )


@router.post("/login/code")
def code(
    request: Request,
    state: StateDep,
    session: SessionDep,
    auth: PartialAuth,
    code: Annotated[str, Form()] = "",
    target: NextField = HOME,
) -> Response:
    staff_session, user = signed_in_parts(auth)
    if staff_session.complete:
        return RedirectResponse(next_step(user, staff_session, target), status_code=303)
    settings = state.settings
    lockout = dt.timedelta(minutes=settings.login_lockout_minutes)
    locked = AccountLocked(settings.login_lockout_minutes)
    now = dt.datetime.now(dt.UTC)
    if user.locked_until is not None and as_utc(user.locked_until) > now:
        end_session(session=session, staff_session=staff_session)
        session.commit()
        raise locked
    if staff.check_totp(user=user, code=code, now=now):
        user.failed_logins = 0
        # A fresh token for the full session: the half-way one may have been seen.
        end_session(session=session, staff_session=staff_session)
        fresh, token = new_session(request, state, session, user)
        fresh.complete = True
        record_audit(
            session=session,
            state=state,
            auth=auth,
            action="auth.second_factor_passed",
            target_kind="staff_user",
            target_id=user.id,
        )
        session.commit()
        response = RedirectResponse(next_step(user, fresh, target), status_code=303)
        set_session_cookie(response, settings, token)
        return response
    # Wrong codes count towards the same lockout as wrong passwords.
    user.failed_logins += 1
    if user.failed_logins >= settings.login_max_failures:
        user.failed_logins = 0
        user.locked_until = now + lockout
        end_session(session=session, staff_session=staff_session)
        record_audit(
            session=session,
            state=state,
            auth=auth,
            action="auth.locked",
            target_kind="staff_user",
            target_id=user.id,
        )
        session.commit()
        raise locked
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="auth.second_factor_failed",
        target_kind="staff_user",
        target_id=user.id,
    )
    session.commit()
    return _code_page(
        request,
        state,
        staff_session,
        target=target,
        status=DOMAIN_STATUS[LoginFailed],
        errors={"code": "This code is not right, or has been used already."},
    )


@router.post("/logout", name="console_logout")
def logout(request: Request, state: StateDep, session: SessionDep, auth: PartialAuth) -> Response:
    """Ends the session in the store, so a copy of the cookie is worth nothing afterwards."""
    staff_session, user = signed_in_parts(auth)
    end_session(session=session, staff_session=staff_session)
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="auth.logout",
        target_kind="staff_user",
        target_id=user.id,
    )
    session.commit()
    settings = state.settings
    response: Response
    if request.headers.get("hx-request") == "true":
        # From the boosted console: a whole new page, not the sign-in form swapped into the
        # body of a console page that still carries the old session's CSRF header.
        response = Response(status_code=200, headers={"hx-redirect": LOGIN_CSRF_PATH})
    else:
        response = RedirectResponse(LOGIN_CSRF_PATH, status_code=303)
    # Deleting a __Host- cookie needs the same Secure and Path attributes as setting it.
    response.delete_cookie(
        session_cookie_name(settings),
        path="/",
        secure=settings.behind_tls,
        httponly=True,
        samesite="lax",
    )
    return response
