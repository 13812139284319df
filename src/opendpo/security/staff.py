"""Staff accounts: argon2 password hashes, roles, lockout after failed sign-ins, optional TOTP."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from collections.abc import Sequence

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from opendpo.errors import DomainError, InvalidValue, NotFound
from opendpo.security.audit import as_utc
from opendpo.security.errors import AccountLocked, LoginFailed
from opendpo.security.roles import Role
from opendpo.store.base import Base
from opendpo.store.encrypted import Encrypted

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
MIN_PASSWORD_LENGTH = 12
TOTP_ISSUER = "OpenDPO"

# Verifying against this when the name is unknown costs the same time as a real check, so the
# response time does not tell an attacker which names exist.
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(Encrypted("staff_users.display_name"))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    totp_secret: Mapped[str | None] = mapped_column(Encrypted("staff_users.totp_secret"))
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)  # refuses a replayed code
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def active(self) -> bool:
        return self.disabled_at is None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_username(username: str) -> str:
    if not USERNAME.match(username):
        raise InvalidValue(
            "username", "use 2-40 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
        )
    return username


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidValue("password", f"use at least {MIN_PASSWORD_LENGTH} characters")


def one_time_password() -> str:
    return secrets.token_urlsafe(15)


def add_user(
    *,
    session: Session,
    username: str,
    role: Role,
    display_name: str,
    now: dt.datetime | None = None,
) -> tuple[StaffUser, str]:
    """Create an account with a one-time password, to be changed at first sign-in."""
    check_username(username)
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise DomainError(f"a staff member named '{username}' already exists")
    password = one_time_password()
    user = StaffUser(
        id=str(uuid.uuid4()),
        username=username,
        display_name=display_name.strip() or username,
        role=role.value,
        password_hash=_hasher.hash(password),
        must_change_password=True,
        totp_enabled=False,
        failed_logins=0,
        created_at=now or _now(),
    )
    session.add(user)
    session.flush()
    return user, password


def get_user(*, session: Session, username: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        raise NotFound("staff member", username)
    return user


def get_user_by_id(*, session: Session, user_id: str) -> StaffUser | None:
    return session.get(StaffUser, user_id)


def list_users(*, session: Session) -> Sequence[StaffUser]:
    return session.scalars(select(StaffUser).order_by(StaffUser.username)).all()


def set_disabled(*, session: Session, username: str, disabled: bool) -> StaffUser:
    user = get_user(session=session, username=username)
    user.disabled_at = _now() if disabled else None
    return user


def set_role(*, session: Session, username: str, role: Role) -> StaffUser:
    user = get_user(session=session, username=username)
    user.role = role.value
    return user


def reset_password(*, session: Session, username: str) -> str:
    """A new one-time password; the lock and the failed count are cleared."""
    user = get_user(session=session, username=username)
    password = one_time_password()
    user.password_hash = _hasher.hash(password)
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
    return password


def change_password(*, user: StaffUser, current: str, new: str) -> None:
    if not _password_matches(user.password_hash, current):
        raise InvalidValue("current_password", "this is not your current password")
    check_password(new)
    if new == current:
        raise InvalidValue("new_password", "choose a password different from the current one")
    user.password_hash = _hasher.hash(new)
    user.must_change_password = False


def _password_matches(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(
    *,
    session: Session,
    username: str,
    password: str,
    max_failures: int,
    lockout: dt.timedelta,
    now: dt.datetime | None = None,
) -> StaffUser:
    """The account for these credentials, or LoginFailed / AccountLocked.

    The caller commits even on failure: the failed count must survive the error.
    """
    moment = now or _now()
    user = session.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
    if user is None or not user.active:
        _password_matches(_DUMMY_HASH, password)
        raise LoginFailed()
    if user.locked_until is not None and as_utc(user.locked_until) > moment:
        raise AccountLocked(int(lockout.total_seconds() // 60))
    if not _password_matches(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= max_failures:
            user.locked_until = moment + lockout
            user.failed_logins = 0
            raise AccountLocked(int(lockout.total_seconds() // 60))
        raise LoginFailed()
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = moment
    return user


def start_totp_enrolment(*, user: StaffUser) -> str:
    """A new secret, not yet in force until `confirm_totp` sees a code made from it."""
    user.totp_secret = pyotp.random_base32()
    user.totp_enabled = False
    return user.totp_secret


def totp_uri(user: StaffUser) -> str:
    if user.totp_secret is None:
        raise DomainError("two-factor sign-in has not been started for this account")
    return pyotp.TOTP(user.totp_secret).provisioning_uri(
        name=user.username, issuer_name=TOTP_ISSUER
    )


def check_totp(*, user: StaffUser, code: str, now: dt.datetime | None = None) -> bool:
    """True for a current code (one step of drift allowed) not used before."""
    if user.totp_secret is None:
        return False
    code = code.strip().replace(" ", "")
    if not code.isdigit():
        return False
    moment = now or _now()
    totp = pyotp.TOTP(user.totp_secret)
    step = totp.timecode(moment)
    for candidate in (step, step - 1, step + 1):
        if user.totp_last_step is not None and candidate <= user.totp_last_step:
            continue
        if secrets.compare_digest(totp.generate_otp(candidate), code):
            user.totp_last_step = candidate
            return True
    return False


def confirm_totp(*, user: StaffUser, code: str, now: dt.datetime | None = None) -> None:
    if not check_totp(user=user, code=code, now=now):
        raise InvalidValue("code", "this code does not match; check the time on your device")
    user.totp_enabled = True


def disable_totp(*, user: StaffUser) -> None:
    user.totp_secret = None
    user.totp_enabled = False
    user.totp_last_step = None
