"""`opendpo users`: staff accounts from the command line (the first DPO starts here)."""

from __future__ import annotations

import datetime as dt

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from opendpo.cli.operator import domain_errors, record
from opendpo.cli.state import CliState, pass_state
from opendpo.security import staff
from opendpo.security.audit import as_utc
from opendpo.security.roles import ROLE_DESCRIPTIONS, Role
from opendpo.security.sessions import end_all_sessions
from opendpo.security.staff import StaffUser

USERNAME = click.argument("username")
ROLE_HELP = "; ".join(f"{role.value}: {text}" for role, text in ROLE_DESCRIPTIONS.items())
ROLE = click.Choice([role.value for role in Role])


@click.group()
def users() -> None:
    """Staff accounts: add, list, disable, reset passwords and two-factor sign-in."""


def _audit(state: CliState, session: Session, action: str, user: StaffUser, **details: str) -> None:
    # The account's id, as the console records it, so one search finds both kinds of change.
    record(state, session, action, target_kind="staff_user", target_id=user.id, details=details)


def _one_time_password(username: str, password: str) -> None:
    click.echo(f"one-time password for {username}: {password}")
    click.echo("it is shown only this once and must be changed at first sign-in")


def _refuse_last_dpo(session: Session, user: StaffUser) -> None:
    """Nobody could manage staff from the console again without an active DPO."""
    if user.role != Role.DPO or not user.active:
        return
    others = session.scalar(
        select(StaffUser.id).where(
            StaffUser.role == Role.DPO.value,
            StaffUser.disabled_at.is_(None),
            StaffUser.id != user.id,
        )
    )
    if others is None:
        raise click.ClickException(
            f"'{user.username}' is the only active DPO: add or enable another DPO first"
        )


@users.command("add")
@USERNAME
@click.option("--role", type=ROLE, required=True, help=ROLE_HELP)
@click.option("--name", default="", help="Display name  [default: the username]")
@click.option("--if-missing", is_flag=True, help="Succeed, changing nothing, if the user exists.")
@pass_state
def add_command(state: CliState, username: str, role: str, name: str, if_missing: bool) -> None:
    """Add a staff member and print their one-time password (shown only once)."""
    state.keyring()  # display names are encrypted: a missing key is a clear error up front
    with state.session() as session, domain_errors():
        exists = session.scalar(select(StaffUser.id).where(StaffUser.username == username))
        if exists is not None and if_missing:
            click.echo(
                f"staff member '{username}' already exists; for a new one-time password run "
                f"`opendpo users reset-password {username}`"
            )
            return
        user, password = staff.add_user(
            session=session, username=username, role=Role(role), display_name=name
        )
        _audit(state, session, "staff.created", user, role=role)
    click.echo(f"added {username} ({role})")
    _one_time_password(username, password)


def _moment(value: dt.datetime | None) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


@users.command("list")
@pass_state
def list_command(state: CliState) -> None:
    """List staff accounts with their role, status and sign-in details."""
    now = dt.datetime.now(dt.UTC)
    table = Table("username", "role", "status", "2FA", "last sign-in", "locked until")
    with state.session() as session:
        for user in staff.list_users(session=session):
            status = "disabled" if not user.active else "active"
            if user.active and user.must_change_password:
                status = "active (must change password)"
            locked = user.locked_until
            table.add_row(
                user.username,
                user.role,
                status,
                "on" if user.totp_enabled else "off",
                _moment(user.last_login_at) or "never",
                _moment(locked) if locked is not None and as_utc(locked) > now else "",
            )
    Console().print(table)


@users.command("disable")
@USERNAME
@pass_state
def disable_command(state: CliState, username: str) -> None:
    """Disable an account and end all its sessions; it can no longer sign in."""
    with state.session() as session, domain_errors():
        user = staff.get_user(session=session, username=username)
        _refuse_last_dpo(session, user)
        staff.set_disabled(session=session, username=username, disabled=True)
        ended = end_all_sessions(session=session, user_id=user.id)
        _audit(state, session, "staff.disabled", user, sessions_ended=str(ended))
    click.echo(f"disabled {username}; ended {ended} session{'s' if ended != 1 else ''}")


@users.command("enable")
@USERNAME
@pass_state
def enable_command(state: CliState, username: str) -> None:
    """Enable a disabled account again."""
    with state.session() as session, domain_errors():
        user = staff.set_disabled(session=session, username=username, disabled=False)
        _audit(state, session, "staff.enabled", user)
    click.echo(f"enabled {username}")


@users.command("set-role")
@USERNAME
@click.argument("role", type=ROLE)
@pass_state
def set_role_command(state: CliState, username: str, role: str) -> None:
    """Give USERNAME the role ROLE (dpo, agent, auditor or engineer)."""
    with state.session() as session, domain_errors():
        user = staff.get_user(session=session, username=username)
        previous = user.role
        if previous != role:
            _refuse_last_dpo(session, user)
        staff.set_role(session=session, username=username, role=Role(role))
        _audit(state, session, "staff.role_changed", user, role=role, previous=previous)
    click.echo(f"{username} is now {role} (was {previous})")


@users.command("reset-password")
@USERNAME
@pass_state
def reset_password_command(state: CliState, username: str) -> None:
    """Issue a new one-time password, unlock the account and end all its sessions."""
    with state.session() as session, domain_errors():
        user = staff.get_user(session=session, username=username)
        password = staff.reset_password(session=session, username=username)
        ended = end_all_sessions(session=session, user_id=user.id)
        _audit(state, session, "staff.password_reset", user, sessions_ended=str(ended))
    _one_time_password(username, password)


@users.command("reset-2fa")
@USERNAME
@pass_state
def reset_2fa_command(state: CliState, username: str) -> None:
    """Turn off two-factor sign-in for someone who lost their device; they can enrol again."""
    with state.session() as session, domain_errors():
        user = staff.get_user(session=session, username=username)
        staff.disable_totp(user=user)
        _audit(state, session, "staff.totp_reset", user)
    click.echo(f"two-factor sign-in is off for {username}")
