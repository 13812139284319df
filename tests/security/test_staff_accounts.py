"""Staff accounts at the service level: passwords, lockout, TOTP, sessions."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from sqlalchemy.orm import Session

from opendpo.errors import DomainError, InvalidValue
from opendpo.security.errors import AccountLocked, LoginFailed
from opendpo.security.roles import Role
from opendpo.security.sessions import end_all_sessions, resolve_session, start_session
from opendpo.security.staff import (
    add_user,
    authenticate,
    change_password,
    check_totp,
    confirm_totp,
    reset_password,
    set_disabled,
    start_totp_enrolment,
)

LOCKOUT = dt.timedelta(minutes=15)
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def sign_in(session: Session, username: str, password: str, now: dt.datetime = NOW) -> object:
    return authenticate(
        session=session,
        username=username,
        password=password,
        max_failures=3,
        lockout=LOCKOUT,
        now=now,
    )


def test_the_one_time_password_signs_in_and_is_stored_only_as_argon2(session: Session) -> None:
    with session.begin():
        user, password = add_user(
            session=session, username="dpo", role=Role.DPO, display_name="Data Officer"
        )
    assert user.must_change_password
    assert user.password_hash.startswith("$argon2id$") and password not in user.password_hash
    with session.begin():
        assert sign_in(session, "DPO ", password) is user  # names are case-insensitive


def test_bad_usernames_and_duplicates_are_refused(session: Session) -> None:
    with pytest.raises(InvalidValue) as caught:
        add_user(session=session, username="Bad Name", role=Role.AGENT, display_name="x")
    assert caught.value.field == "username"
    add_user(session=session, username="agent", role=Role.AGENT, display_name="Agent")
    with pytest.raises(DomainError, match="already exists"):
        add_user(session=session, username="agent", role=Role.AGENT, display_name="Agent")


def test_unknown_name_and_wrong_password_fail_the_same_way(session: Session) -> None:
    with session.begin():
        add_user(session=session, username="agent", role=Role.AGENT, display_name="Agent")
    with pytest.raises(LoginFailed) as unknown:
        sign_in(session, "nobody", "whatever-password")
    with pytest.raises(LoginFailed) as wrong:
        sign_in(session, "agent", "whatever-password")
    assert unknown.value.message == wrong.value.message


def test_repeated_failures_lock_the_account_even_for_the_right_password(session: Session) -> None:
    with session.begin():
        _, password = add_user(session=session, username="agent", role=Role.AGENT, display_name="A")
    for _ in range(2):
        with pytest.raises(LoginFailed):
            sign_in(session, "agent", "wrong-password")
    with pytest.raises(AccountLocked):
        sign_in(session, "agent", "wrong-password")
    with pytest.raises(AccountLocked):
        sign_in(session, "agent", password, now=NOW + dt.timedelta(minutes=14))
    # The lock lifts by itself once the lockout has passed.
    assert sign_in(session, "agent", password, now=NOW + dt.timedelta(minutes=16)) is not None


def test_a_success_resets_the_failure_count(session: Session) -> None:
    with session.begin():
        user, password = add_user(
            session=session, username="agent", role=Role.AGENT, display_name="A"
        )
    for _ in range(2):
        with pytest.raises(LoginFailed):
            sign_in(session, "agent", "wrong-password")
    sign_in(session, "agent", password)
    assert user.failed_logins == 0
    for _ in range(2):
        with pytest.raises(LoginFailed):
            sign_in(session, "agent", "wrong-password")


def test_disabled_accounts_cannot_sign_in(session: Session) -> None:
    with session.begin():
        _, password = add_user(session=session, username="agent", role=Role.AGENT, display_name="A")
        set_disabled(session=session, username="agent", disabled=True)
    with pytest.raises(LoginFailed):
        sign_in(session, "agent", password)


def test_password_change_checks_current_and_length(session: Session) -> None:
    user, password = add_user(session=session, username="agent", role=Role.AGENT, display_name="A")
    with pytest.raises(InvalidValue) as caught:
        change_password(user=user, current="not-it", new="a-long-enough-password")
    assert caught.value.field == "current_password"
    with pytest.raises(InvalidValue) as short:
        change_password(user=user, current=password, new="short")
    assert short.value.field == "password"
    change_password(user=user, current=password, new="a-long-enough-password")
    assert not user.must_change_password
    new_password = reset_password(session=session, username="agent")
    assert user.must_change_password and new_password != password


def test_totp_codes_work_once_with_one_step_of_drift(session: Session) -> None:
    user, _ = add_user(session=session, username="dpo", role=Role.DPO, display_name="D")
    secret = start_totp_enrolment(user=user)
    totp = pyotp.TOTP(secret)
    with pytest.raises(InvalidValue):
        confirm_totp(user=user, code="000000" if totp.at(NOW) != "000000" else "111111", now=NOW)
    assert not user.totp_enabled
    confirm_totp(user=user, code=totp.at(NOW), now=NOW)
    assert user.totp_enabled
    assert not check_totp(user=user, code=totp.at(NOW), now=NOW)  # replayed
    later = NOW + dt.timedelta(seconds=60)
    assert check_totp(user=user, code=totp.at(later - dt.timedelta(seconds=30)), now=later)
    assert not check_totp(user=user, code=totp.at(NOW - dt.timedelta(minutes=5)), now=later)


def test_sessions_end_when_idle_expired_ended_or_the_account_is_disabled(
    session: Session,
) -> None:
    with session.begin():
        user, _ = add_user(session=session, username="agent", role=Role.AGENT, display_name="A")
        _, token = start_session(
            session=session,
            user=user,
            absolute=dt.timedelta(hours=12),
            client_address="127.0.0.1",
            user_agent="tests",
            now=NOW,
        )
    idle = dt.timedelta(minutes=30)

    def alive(at: dt.datetime) -> bool:
        return resolve_session(session=session, token=token, idle=idle, now=at) is not None

    assert alive(NOW + dt.timedelta(minutes=29))
    # Each request moves the idle clock on (writes batched to once a minute).
    assert alive(NOW + dt.timedelta(minutes=58))
    assert not alive(NOW + dt.timedelta(minutes=58 + 31))
    assert not alive(NOW + dt.timedelta(hours=12, seconds=1))
    assert resolve_session(session=session, token="forged", idle=idle, now=NOW) is None
    # Within the idle time of the last request, a disabled account's session stops working...
    assert alive(NOW + dt.timedelta(minutes=59))
    set_disabled(session=session, username="agent", disabled=True)
    assert not alive(NOW + dt.timedelta(minutes=59))
    set_disabled(session=session, username="agent", disabled=False)
    assert alive(NOW + dt.timedelta(minutes=59))
    # ...and so does an ended one.
    assert end_all_sessions(session=session, user_id=user.id) == 1
    assert not alive(NOW + dt.timedelta(minutes=59))
