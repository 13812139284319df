"""Console sessions, kept in the store so that sign-out and disabling an account end them.

The cookie holds a random token; the store holds only its SHA-256, so a copy of the database
does not let anyone sign in. Each session carries its own CSRF token for the forms it renders.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import Boolean, DateTime, ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from opendpo.security.audit import as_utc
from opendpo.security.staff import StaffUser
from opendpo.store.base import Base

# last_seen is written at most this often: a page view should not cost a write every time.
TOUCH_EVERY = dt.timedelta(seconds=60)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StaffSession(Base):
    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie
    user_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    # False until the second factor is given, for accounts that have one.
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    client_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


def start_session(
    *,
    session: Session,
    user: StaffUser,
    absolute: dt.timedelta,
    client_address: str | None,
    user_agent: str | None,
    now: dt.datetime | None = None,
) -> tuple[StaffSession, str]:
    """A new session and the token for its cookie (shown once, never stored)."""
    moment = now or dt.datetime.now(dt.UTC)
    token = secrets.token_urlsafe(32)
    staff_session = StaffSession(
        id=token_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        complete=not user.totp_enabled,
        created_at=moment,
        last_seen_at=moment,
        expires_at=moment + absolute,
        client_address=client_address,
        user_agent=(user_agent or "")[:300] or None,
    )
    session.add(staff_session)
    session.flush()
    return staff_session, token


def resolve_session(
    *, session: Session, token: str, idle: dt.timedelta, now: dt.datetime | None = None
) -> tuple[StaffSession, StaffUser] | None:
    """The live session for a cookie token and its user, or None if ended, idle or expired."""
    moment = now or dt.datetime.now(dt.UTC)
    staff_session = session.get(StaffSession, token_hash(token))
    if staff_session is None or staff_session.ended_at is not None:
        return None
    if as_utc(staff_session.expires_at) <= moment:
        return None
    if as_utc(staff_session.last_seen_at) + idle <= moment:
        return None
    user = session.get(StaffUser, staff_session.user_id)
    if user is None or not user.active:
        return None
    if moment - as_utc(staff_session.last_seen_at) >= TOUCH_EVERY:
        staff_session.last_seen_at = moment
    return staff_session, user


def end_session(*, session: Session, staff_session: StaffSession) -> None:
    staff_session.ended_at = dt.datetime.now(dt.UTC)


def end_all_sessions(*, session: Session, user_id: str) -> int:
    """Ends every session of an account: after a password change, reset or disabling."""
    # Loaded, not bulk-updated, so sessions already in this unit of work see the end too.
    live = session.scalars(
        select(StaffSession).where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None))
    ).all()
    moment = dt.datetime.now(dt.UTC)
    for staff_session in live:
        staff_session.ended_at = moment
    return len(live)
