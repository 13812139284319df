"""`opendpo users`: accounts from the command line, every change audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from click.testing import Result
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from opendpo.security import audit
from opendpo.security.errors import LoginFailed
from opendpo.security.sessions import StaffSession, start_session
from opendpo.security.staff import StaffUser, authenticate, get_user

Run = Callable[..., Result]
WIDE = {"COLUMNS": "200"}


@pytest.fixture
def store(run: Run, engine: Engine) -> Engine:
    """A migrated store (the `engine` fixture) that the CLI shares."""
    return engine


def one_time_password(result: Result, username: str) -> str:
    prefix = f"one-time password for {username}: "
    lines = [line for line in result.stdout.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, result.output
    return lines[0].removeprefix(prefix)


def sign_in(session: Session, username: str, password: str) -> StaffUser:
    return authenticate(
        session=session,
        username=username,
        password=password,
        max_failures=5,
        lockout=dt.timedelta(minutes=15),
    )


def actions(session: Session) -> list[str]:
    entries = audit.search(session=session, query=audit.AuditQuery(action="staff."))
    return [entry.action for entry in reversed(entries)]


def test_add_prints_a_working_one_time_password_once(
    run: Run, store: Engine, session: Session
) -> None:
    result = run("users", "add", "dpo", "--role", "dpo", "--name", "Data Protection Officer")
    assert result.exit_code == 0, result.output
    password = one_time_password(result, "dpo")
    assert "must be changed at first sign-in" in result.stdout
    user = sign_in(session, "dpo", password)
    assert (user.role, user.display_name, user.must_change_password) == (
        "dpo",
        "Data Protection Officer",
        True,
    )
    session.commit()
    again = run("users", "add", "dpo", "--role", "dpo")
    assert again.exit_code == 1
    assert again.stderr == "Error: a staff member named 'dpo' already exists\n"
    quiet = run("users", "add", "dpo", "--role", "dpo", "--if-missing")
    assert quiet.exit_code == 0
    assert "already exists; for a new one-time password run" in quiet.stdout
    assert "one-time password for" not in quiet.stdout
    assert actions(session) == ["staff.created"]


def test_bad_input_names_the_option(run: Run, store: Engine) -> None:
    role = run("users", "add", "ann", "--role", "boss")
    assert role.exit_code == 2
    assert "Invalid value for '--role': 'boss' is not one of" in role.stderr
    name = run("users", "add", "A!", "--role", "agent")
    assert name.exit_code == 1
    assert name.stderr.startswith("Error: username: use 2-40 of a-z")
    missing = run("users", "disable", "nobody")
    assert missing.exit_code == 1
    assert missing.stderr == "Error: no staff member with key 'nobody'\n"


def test_list_shows_role_status_and_sign_in(run: Run, store: Engine, session: Session) -> None:
    password = one_time_password(run("users", "add", "dpo", "--role", "dpo"), "dpo")
    run("users", "add", "ann", "--role", "agent")
    sign_in(session, "dpo", password)
    session.commit()
    assert run("users", "disable", "ann").exit_code == 0
    listing = run("users", "list", env=WIDE)
    assert listing.exit_code == 0, listing.output
    rows = {
        cells[0]: cells
        for line in listing.stdout.splitlines()
        if "│" in line
        for cells in [[cell.strip() for cell in line.split("│")[1:-1]]]
    }
    assert rows["ann"][1:5] == ["agent", "disabled", "off", "never"]
    assert rows["dpo"][1:4] == ["dpo", "active (must change password)", "off"]
    assert rows["dpo"][4].endswith("UTC")


def test_disable_ends_sessions_and_refuses_the_last_dpo(
    run: Run, store: Engine, session: Session
) -> None:
    run("users", "add", "dpo", "--role", "dpo")
    password = one_time_password(run("users", "add", "ann", "--role", "agent"), "ann")
    user = sign_in(session, "ann", password)
    staff_session, _ = start_session(
        session=session,
        user=user,
        absolute=dt.timedelta(hours=1),
        client_address=None,
        user_agent=None,
    )
    session.commit()
    result = run("users", "disable", "ann")
    assert result.exit_code == 0, result.output
    assert result.stdout == "disabled ann; ended 1 session\n"
    session.expire_all()
    assert session.get(StaffSession, staff_session.id).ended_at is not None  # type: ignore[union-attr]
    with pytest.raises(LoginFailed):
        sign_in(session, "ann", password)

    last = run("users", "disable", "dpo")
    assert last.exit_code == 1
    assert "'dpo' is the only active DPO" in last.stderr
    assert run("users", "enable", "ann").exit_code == 0
    session.expire_all()
    assert get_user(session=session, username="ann").active
    assert actions(session) == ["staff.created", "staff.created", "staff.disabled", "staff.enabled"]


def test_reset_password_and_set_role(run: Run, store: Engine, session: Session) -> None:
    run("users", "add", "dpo", "--role", "dpo")
    old = one_time_password(run("users", "add", "ann", "--role", "agent"), "ann")
    reset = run("users", "reset-password", "ann")
    assert reset.exit_code == 0, reset.output
    new = one_time_password(reset, "ann")
    assert new != old
    with pytest.raises(LoginFailed):
        sign_in(session, "ann", old)
    assert sign_in(session, "ann", new).username == "ann"
    session.commit()  # the sign-in wrote to the row the next command changes

    changed = run("users", "set-role", "ann", "auditor")
    assert changed.stdout == "ann is now auditor (was agent)\n"
    session.expire_all()
    assert get_user(session=session, username="ann").role == "auditor"
    demote = run("users", "set-role", "dpo", "agent")
    assert demote.exit_code == 1
    assert "'dpo' is the only active DPO" in demote.stderr
    assert run("users", "reset-2fa", "ann").exit_code == 0
    ann = get_user(session=session, username="ann")
    entries = audit.search(session=session, query=audit.AuditQuery(target_id=ann.id))
    assert [e.action for e in entries] == [
        "staff.totp_reset",
        "staff.role_changed",
        "staff.password_reset",
        "staff.created",
    ]
    assert entries[1].details == {"role": "auditor", "previous": "agent"}
    assert entries[1].actor_kind == "cli"
    # The one-time passwords never reach the audit log.
    assert all(new not in str(e.details) and old not in str(e.details) for e in entries)
