"""Staff sessions made directly in the store, for tests that need a signed-in member."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine

from opendpo.security.roles import Role
from opendpo.security.sessions import start_session
from opendpo.security.staff import add_user
from opendpo.settings import Settings
from opendpo.store.engine import make_session_factory
from opendpo.web.auth import session_cookie_name


@dataclass(frozen=True)
class SignedIn:
    """A staff member with a live console session: its cookie and its CSRF token."""

    username: str
    user_id: str
    cookie: str
    csrf_token: str


def sign_in_directly(
    engine: Engine, settings: Settings, role: Role, *, username: str | None = None
) -> SignedIn:
    """An account of `role` with its own password set and a session, made in the store."""
    name = username or f"{role.value}-{uuid.uuid4().hex[:6]}"
    with make_session_factory(engine)() as session, session.begin():
        user, _ = add_user(session=session, username=name, role=role, display_name=name.title())
        user.must_change_password = False
        staff_session, token = start_session(
            session=session,
            user=user,
            absolute=dt.timedelta(hours=settings.session_absolute_hours),
            client_address="127.0.0.1",
            user_agent="tests",
        )
        return SignedIn(name, user.id, token, staff_session.csrf_token)


SignIn = Callable[..., SignedIn]


def as_staff(client: httpx.AsyncClient, settings: Settings, signed_in: SignedIn) -> None:
    """Send this staff member's session cookie and CSRF header on every request."""
    client.cookies.set(session_cookie_name(settings), signed_in.cookie)
    client.headers["x-csrf-token"] = signed_in.csrf_token
