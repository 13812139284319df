"""Every route says which permission it needs: `Depends(Permit(Permission.X))`.

Permit finds who is asking (an API key in `Authorization: Bearer`, else the console session
cookie), refuses with 401 or 403, and checks the CSRF token on every state-changing request
that rides on a cookie. The role matrix test finds each route's Permit and checks it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from opendpo.security import audit
from opendpo.security.api_keys import CheckedKey, authenticate_key
from opendpo.security.audit import ActorKind
from opendpo.security.errors import CsrfFailed, NotAuthenticated
from opendpo.security.principal import Principal
from opendpo.security.roles import ROLE_PERMISSIONS, Permission, Role
from opendpo.security.sessions import StaffSession, resolve_session
from opendpo.security.staff import StaffUser
from opendpo.settings import Settings
from opendpo.web.dependencies import SessionDep, StateDep
from opendpo.web.state import WebState

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


def session_cookie_name(settings: Settings) -> str:
    # The __Host- prefix makes browsers refuse the cookie unless Secure, host-only, path /.
    return "__Host-opendpo_session" if settings.behind_tls else "opendpo_session"


class PasswordChangeRequired(NotAuthenticated):
    """Signed in with a one-time password: nothing else until a password of one's own is set."""

    code = "password_change_required"

    def __init__(self) -> None:
        super().__init__("Choose a new password before going on.")


class SecondFactorRequired(NotAuthenticated):
    code = "second_factor_required"

    def __init__(self) -> None:
        super().__init__("Enter the code from your authenticator app to finish signing in.")


@dataclass(frozen=True)
class Auth:
    """Who is asking, and for staff the session and account behind it."""

    principal: Principal
    staff_session: StaffSession | None = None
    user: StaffUser | None = None


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def _resolve(request: Request, session: Session, state: WebState) -> Auth:
    address = client_address(request)
    settings = state.settings
    token = _bearer_token(request)
    if token is not None:
        key = authenticate_key(session=session, token=token)
        if key is None:
            raise NotAuthenticated("This API key is not valid or has been revoked.")
        return _key_auth(state.key_cache.put(token, key), address)
    cookie = request.cookies.get(session_cookie_name(settings))
    if cookie:
        found = resolve_session(
            session=session, token=cookie, idle=dt.timedelta(minutes=settings.session_idle_minutes)
        )
        if found is not None:
            staff_session, user = found
            role = Role(user.role)
            principal = Principal(
                ActorKind.STAFF, user.id, user.username, ROLE_PERMISSIONS[role], role, address
            )
            return Auth(principal, staff_session, user)
    return Auth(Principal.anonymous(address))


def _key_auth(key: CheckedKey, address: str | None) -> Auth:
    permissions = key.permissions | {Permission.PUBLIC}
    return Auth(Principal(ActorKind.API_KEY, key.id, key.name, permissions, None, address))


def cached_auth(request: Request, state: WebState) -> Auth | None:
    """The request's principal without a store round trip, when that is known: a key this
    process checked moments ago, or the answer already kept on the request."""
    cached = getattr(request.state, "opendpo_auth", None)
    if isinstance(cached, Auth):
        return cached
    token = _bearer_token(request)
    key = state.key_cache.get(token) if token is not None else None
    if key is None:
        return None
    auth = _key_auth(key, client_address(request))
    request.state.opendpo_auth = auth
    return auth


def resolve_auth(request: Request, session: Session, state: WebState) -> Auth:
    """Resolved once per request and kept on it; touches of last-seen times are committed."""
    cached = getattr(request.state, "opendpo_auth", None)
    if isinstance(cached, Auth):
        return cached
    auth = _resolve(request, session, state)
    if session.in_transaction():
        # Commits touches of last-seen times, and gives the connection back to the pool
        # before the route runs: a request holding one connection while its route waits for
        # another would deadlock the pool under load.
        session.commit()
    request.state.opendpo_auth = auth
    return auth


async def _check_csrf(request: Request, staff_session: StaffSession) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()  # starlette keeps it for the route to read again
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if sent is None or not secrets.compare_digest(sent, staff_session.csrf_token):
        raise CsrfFailed()


class Permit:
    """A dependency that lets a request through only with `permission`.

    `partial=True` also admits a staff member midway through signing in (one-time password
    not yet changed, second factor not yet given): only the pages that finish sign-in use it.
    """

    def __init__(self, permission: Permission, *, partial: bool = False) -> None:
        self.permission = permission
        self.partial = partial

    async def __call__(self, request: Request, session: SessionDep, state: StateDep) -> Auth:
        auth = cached_auth(request, state)
        if auth is None:
            # The lookups hit the store: in a thread, never blocking the event loop.
            auth = await run_in_threadpool(resolve_auth, request, session, state)
        if self.permission is Permission.PUBLIC:
            # Public pages carry their own protections; a staff cookie changes nothing there.
            return auth
        if auth.staff_session is not None and auth.user is not None:
            if request.method not in SAFE_METHODS:
                await _check_csrf(request, auth.staff_session)
            if not self.partial:
                if not auth.staff_session.complete:
                    raise SecondFactorRequired()
                if auth.user.must_change_password:
                    raise PasswordChangeRequired()
        auth.principal.require(self.permission)
        return auth

    def __repr__(self) -> str:
        return f"Permit({self.permission.value!r})"


def permit(permission: Permission) -> Any:
    """`dependencies=[permit(Permission.X)]` for routers whose routes need no Auth value."""
    return Depends(Permit(permission))


# The aliases routes ask for most.
PublicAuth = Annotated[Auth, Depends(Permit(Permission.PUBLIC))]
PolicyReader = Annotated[Auth, Depends(Permit(Permission.POLICY_READ))]
PeopleReader = Annotated[Auth, Depends(Permit(Permission.PEOPLE_READ))]
AuditReader = Annotated[Auth, Depends(Permit(Permission.AUDIT_READ))]
StaffManager = Annotated[Auth, Depends(Permit(Permission.STAFF_MANAGE))]
KeyManager = Annotated[Auth, Depends(Permit(Permission.API_KEYS_MANAGE))]
SignedIn = Annotated[Auth, Depends(Permit(Permission.SIGNED_IN))]


def record_audit(
    *,
    session: Session,
    state: WebState,
    auth: Auth,
    action: str,
    target_kind: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> audit.AuditEntry:
    """Append to the audit log in the request's own transaction, as the principal."""
    return audit.record(
        session=session,
        keyring=state.keyring,
        actor=auth.principal.actor,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        details=details,
    )
