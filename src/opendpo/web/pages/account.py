"""A staff member's own account: password and two-factor sign-in.

The password page is also the last step of a first sign-in (one-time password), so it admits
a partly signed-in member; the second factor, if the account has one, must be given first.
Code checks are rate limited per account: a stolen session must not be a way to guess codes.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import segno
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import update
from sqlalchemy.orm import Session
from starlette.responses import Response

from opendpo.errors import DomainError, InvalidValue
from opendpo.security import staff
from opendpo.security.roles import Permission
from opendpo.security.sessions import StaffSession
from opendpo.security.staff import StaffUser
from opendpo.web.auth import Auth, Permit, SecondFactorRequired, record_audit
from opendpo.web.dependencies import SessionDep, StateDep
from opendpo.web.pages import sign_in
from opendpo.web.pages.staff_pages import HOME, PartialAuth, login_limit, page, signed_in_parts
from opendpo.web.state import WebState

# The one router the app includes: these pages and the sign-in steps of opendpo.web.pages.sign_in.
router = APIRouter(include_in_schema=False)
router.include_router(sign_in.router)

MemberAuth = Annotated[Auth, Depends(Permit(Permission.SIGNED_IN))]
FormText = Annotated[str, Form()]

NOTICES = {
    "password": "Your password has been changed. Other sessions of your account have ended.",
    "totp-on": "Two-factor sign-in is on: you will be asked for a code each time you sign in.",
    "totp-off": "Two-factor sign-in is off.",
}
BAD_CODE = "this code does not match; check the time on your device"


@router.get("/console/account", name="console_account")
def account(request: Request, state: StateDep, auth: MemberAuth, done: str = "") -> Response:
    _, user = signed_in_parts(auth)
    return page(request, state, "account.html", page="account", user=user, notice=NOTICES.get(done))


def _complete(auth: Auth) -> tuple[StaffSession, StaffUser]:
    staff_session, user = signed_in_parts(auth)
    if not staff_session.complete:
        raise SecondFactorRequired()
    return staff_session, user


def _password_page(
    request: Request,
    state: WebState,
    staff_session: StaffSession,
    user: StaffUser,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    return page(
        request,
        state,
        "password.html",
        status=status,
        errors=errors,
        page="account",
        forced=user.must_change_password,
        csrf_token=staff_session.csrf_token,
    )


@router.get("/console/account/password", name="console_password")
def password_form(request: Request, state: StateDep, auth: PartialAuth) -> Response:
    staff_session, user = _complete(auth)
    return _password_page(request, state, staff_session, user)


@router.post("/console/account/password")
def change_password(
    request: Request,
    state: StateDep,
    session: SessionDep,
    auth: PartialAuth,
    current_password: FormText = "",
    new_password: FormText = "",
    repeat_password: FormText = "",
) -> Response:
    staff_session, user = _complete(auth)
    state.rate_limiter.hit(login_limit(state), "password-change", user.id)
    forced = user.must_change_password
    try:
        if new_password != repeat_password:
            raise InvalidValue("repeat_password", "the two new passwords are not the same")
        staff.change_password(user=user, current=current_password, new=new_password)
    except InvalidValue as exc:
        # check_password names its field "password"; on this form that is the new one.
        field = "new_password" if exc.field == "password" else exc.field
        errors = {field: exc.detail}
        return _password_page(request, state, staff_session, user, status=422, errors=errors)
    _end_other_sessions(session, staff_session)
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="auth.password_changed",
        target_kind="staff_user",
        target_id=user.id,
    )
    session.commit()
    return RedirectResponse(HOME if forced else "/console/account?done=password", status_code=303)


def _end_other_sessions(session: Session, current: StaffSession) -> None:
    """Whoever knew the old password may hold a session; this browser keeps its own."""
    session.execute(
        update(StaffSession)
        .where(
            StaffSession.user_id == current.user_id,
            StaffSession.ended_at.is_(None),
            StaffSession.id != current.id,
        )
        .values(ended_at=dt.datetime.now(dt.UTC))
    )


def _totp_page(
    request: Request,
    state: WebState,
    auth: Auth,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    staff_session, user = signed_in_parts(auth)
    pending = user.totp_secret is not None and not user.totp_enabled
    uri = staff.totp_uri(user) if pending else None
    # Drawn here, as an image in a data: URI: no script, and the secret never leaves the page.
    qr = segno.make(uri, error="m").svg_data_uri(scale=5) if uri else None
    return page(
        request,
        state,
        "totp.html",
        status=status,
        errors=errors,
        page="account",
        user=user,
        pending=pending,
        secret=user.totp_secret if pending else None,
        uri=uri,
        qr=qr,
        csrf_token=staff_session.csrf_token,
    )


@router.get("/console/account/totp", name="console_totp")
def totp_form(request: Request, state: StateDep, auth: MemberAuth) -> Response:
    return _totp_page(request, state, auth)


@router.post("/console/account/totp")
def totp(
    request: Request,
    state: StateDep,
    session: SessionDep,
    auth: MemberAuth,
    action: FormText = "",
    code: FormText = "",
) -> Response:
    """`action` is start (a new secret), confirm (turn on with a code) or disable (with a code)."""
    _, user = signed_in_parts(auth)
    if action == "start":
        if user.totp_enabled:
            raise DomainError("Two-factor sign-in is already on; turn it off first.")
        staff.start_totp_enrolment(user=user)
        session.commit()
        return RedirectResponse("/console/account/totp", status_code=303)
    if action not in ("confirm", "disable"):
        raise InvalidValue("action", "use start, confirm or disable")
    state.rate_limiter.hit(login_limit(state), "totp", user.id)
    try:
        if action == "confirm":
            if user.totp_enabled or user.totp_secret is None:
                raise DomainError("There is no two-factor set-up waiting to be confirmed.")
            staff.confirm_totp(user=user, code=code)
        else:
            if not user.totp_enabled:
                raise DomainError("Two-factor sign-in is not on.")
            if not staff.check_totp(user=user, code=code):
                raise InvalidValue("code", BAD_CODE)
            staff.disable_totp(user=user)
    except InvalidValue as exc:
        return _totp_page(request, state, auth, status=422, errors={exc.field: exc.detail})
    record_audit(
        session=session,
        state=state,
        auth=auth,
        action="auth.totp_enabled" if action == "confirm" else "auth.totp_disabled",
        target_kind="staff_user",
        target_id=user.id,
    )
    session.commit()
    done = "totp-on" if action == "confirm" else "totp-off"
    return RedirectResponse(f"/console/account?done={done}", status_code=303)
