"""Staff accounts and API keys in the console: who may sign in, with which role; which systems
hold a key, with which scopes. Every change is written to the audit log with the change itself.

One-time passwords and key tokens appear once, in the response to the action that made them:
the store holds only their hashes, so no later page could show them again.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from opendpo.errors import DomainError, InvalidValue, NotFound
from opendpo.security import api_keys, staff
from opendpo.security.roles import API_KEY_SCOPES, ROLE_DESCRIPTIONS, Permission, Role
from opendpo.security.sessions import end_all_sessions
from opendpo.security.staff import StaffUser
from opendpo.web.auth import Auth, KeyManager, StaffManager, record_audit
from opendpo.web.dependencies import SessionDep, StateDep
from opendpo.web.state import WebState

router = APIRouter(prefix="/console", include_in_schema=False)

FormText = Annotated[str, Form()]
STAFF_TARGET = "staff_user"
KEY_TARGET = "api_key"


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidValue("role", f"choose one of {', '.join(r.value for r in Role)}") from None


def _user(session: Session, user_id: str) -> StaffUser:
    user = staff.get_user_by_id(session=session, user_id=user_id)
    if user is None:
        raise NotFound("staff member", user_id)
    return user


def _not_yourself(auth: Auth, user: StaffUser, what: str) -> None:
    # Keeps at least one staff manager: only a DPO manages staff, and none can undo themselves.
    if auth.user is not None and auth.user.id == user.id:
        raise DomainError(f"you cannot {what} your own account; ask another DPO")


def _staff_page(
    request: Request, state: StateDep, session: Session, *, status: int = 200, **extra: Any
) -> Response:
    context: dict[str, Any] = {
        "page": "staff",
        "users": staff.list_users(session=session),
        "roles": [(role, ROLE_DESCRIPTIONS[role]) for role in Role],
        "errors": {},
        "values": {},
        "row_error": None,
        "secret": None,
        **extra,
    }
    return state.templates.TemplateResponse(
        request, "console/staff.html", context, status_code=status
    )


def _back(path: str) -> Response:
    # Post/redirect/get: reloading the list does not repeat the change.
    return RedirectResponse(path, status_code=303)


def _audit(session: Session, state: WebState, auth: Auth, action: str, **kwargs: Any) -> None:
    record_audit(session=session, state=state, auth=auth, action=action, **kwargs)
    session.commit()


@router.get("/staff", name="console_staff")
def staff_list(
    request: Request, auth: StaffManager, state: StateDep, session: SessionDep
) -> Response:
    return _staff_page(request, state, session)


@router.post("/staff", name="console_staff_add")
def staff_add(
    request: Request,
    auth: StaffManager,
    state: StateDep,
    session: SessionDep,
    username: FormText = "",
    display_name: FormText = "",
    role: FormText = "",
) -> Response:
    values = {"username": username, "display_name": display_name, "role": role}
    try:
        user, password = staff.add_user(
            session=session,
            username=username.strip().lower(),
            role=_role(role),
            display_name=display_name,
        )
    except InvalidValue as exc:
        session.rollback()
        errors = {exc.field: exc.detail}
        return _staff_page(request, state, session, status=422, errors=errors, values=values)
    except DomainError as exc:  # the name is taken
        session.rollback()
        errors = {"username": exc.message}
        return _staff_page(request, state, session, status=409, errors=errors, values=values)
    details = {"role": user.role}
    _audit(
        session,
        state,
        auth,
        "staff.created",
        target_kind=STAFF_TARGET,
        target_id=user.id,
        details=details,
    )
    secret = {"what": "added", "username": user.username, "password": password}
    return _staff_page(request, state, session, status=201, secret=secret)


@router.post("/staff/{user_id}/disable", name="console_staff_disable")
def staff_disable(
    auth: StaffManager, state: StateDep, session: SessionDep, user_id: str
) -> Response:
    user = _user(session, user_id)
    _not_yourself(auth, user, "disable")
    staff.set_disabled(session=session, username=user.username, disabled=True)
    ended = end_all_sessions(session=session, user_id=user.id)
    details = {"sessions_ended": ended}
    _audit(
        session,
        state,
        auth,
        "staff.disabled",
        target_kind=STAFF_TARGET,
        target_id=user.id,
        details=details,
    )
    return _back("/console/staff")


@router.post("/staff/{user_id}/enable", name="console_staff_enable")
def staff_enable(
    auth: StaffManager, state: StateDep, session: SessionDep, user_id: str
) -> Response:
    user = _user(session, user_id)
    staff.set_disabled(session=session, username=user.username, disabled=False)
    _audit(session, state, auth, "staff.enabled", target_kind=STAFF_TARGET, target_id=user.id)
    return _back("/console/staff")


@router.post("/staff/{user_id}/role", name="console_staff_role")
def staff_role(
    request: Request,
    auth: StaffManager,
    state: StateDep,
    session: SessionDep,
    user_id: str,
    role: FormText = "",
) -> Response:
    user = _user(session, user_id)
    try:
        new_role = _role(role)
    except InvalidValue as exc:
        row_error = {"user_id": user.id, "message": exc.detail}
        return _staff_page(request, state, session, status=422, row_error=row_error)
    _not_yourself(auth, user, "change the role of")
    previous = user.role
    staff.set_role(session=session, username=user.username, role=new_role)
    details = {"from": previous, "to": new_role.value}
    _audit(
        session,
        state,
        auth,
        "staff.role_changed",
        target_kind=STAFF_TARGET,
        target_id=user.id,
        details=details,
    )
    return _back("/console/staff")


@router.post("/staff/{user_id}/password", name="console_staff_password")
def staff_password(
    request: Request, auth: StaffManager, state: StateDep, session: SessionDep, user_id: str
) -> Response:
    user = _user(session, user_id)
    password = staff.reset_password(session=session, username=user.username)
    # Whoever holds the old password may be signed in with it: the reset ends that too.
    ended = end_all_sessions(session=session, user_id=user.id)
    details = {"sessions_ended": ended}
    _audit(
        session,
        state,
        auth,
        "staff.password_reset",
        target_kind=STAFF_TARGET,
        target_id=user.id,
        details=details,
    )
    secret = {"what": "reset", "username": user.username, "password": password}
    return _staff_page(request, state, session, secret=secret)


def _offered_scopes(auth: Auth) -> list[Permission]:
    # A key never carries more than its maker holds: an engineer, who may manage keys but not
    # read people, cannot mint a key that reads people.
    return sorted(API_KEY_SCOPES & auth.principal.permissions, key=lambda scope: scope.value)


def _keys_page(
    request: Request,
    auth: Auth,
    state: StateDep,
    session: Session,
    *,
    status: int = 200,
    **extra: Any,
) -> Response:
    context: dict[str, Any] = {
        "page": "api-keys",
        "keys": api_keys.list_keys(session=session),
        "scopes": _offered_scopes(auth),
        "errors": {},
        "values": {"name": "", "scopes": []},
        "token": None,
        **extra,
    }
    return state.templates.TemplateResponse(
        request, "console/api_keys.html", context, status_code=status
    )


@router.get("/api-keys", name="console_api_keys")
def keys_list(request: Request, auth: KeyManager, state: StateDep, session: SessionDep) -> Response:
    return _keys_page(request, auth, state, session)


@router.post("/api-keys", name="console_api_keys_create")
def keys_create(
    request: Request,
    auth: KeyManager,
    state: StateDep,
    session: SessionDep,
    name: FormText = "",
    scopes: Annotated[list[str] | None, Form()] = None,
) -> Response:
    chosen = scopes or []
    values = {"name": name, "scopes": chosen}
    try:
        offered = {scope.value for scope in _offered_scopes(auth)}
        for scope in api_keys.parse_scopes(chosen):
            if scope.value not in offered:
                raise InvalidValue(
                    "scopes", f"your account does not hold '{scope.value}', so no key of yours may"
                )
        key, token = api_keys.create_key(
            session=session, name=name, scopes=chosen, created_by=auth.principal.name
        )
    except InvalidValue as exc:
        session.rollback()
        errors = {exc.field: exc.detail}
        return _keys_page(request, auth, state, session, status=422, errors=errors, values=values)
    details = {"scopes": list(key.scopes)}
    _audit(
        session,
        state,
        auth,
        "api_key.created",
        target_kind=KEY_TARGET,
        target_id=key.id,
        details=details,
    )
    return _keys_page(request, auth, state, session, status=201, token={"key": key, "token": token})


@router.post("/api-keys/{key_id}/revoke", name="console_api_keys_revoke")
def keys_revoke(auth: KeyManager, state: StateDep, session: SessionDep, key_id: str) -> Response:
    key = api_keys.revoke_key(session=session, key_id=key_id)
    _audit(session, state, auth, "api_key.revoked", target_kind=KEY_TARGET, target_id=key.id)
    state.key_cache.forget(key.id)  # this process refuses it at once; others within the TTL
    return _back("/console/api-keys")
