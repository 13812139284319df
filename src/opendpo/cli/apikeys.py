"""`opendpo apikeys`: keys for systems that call OpenDPO's API."""

from __future__ import annotations

import datetime as dt

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from opendpo.cli.operator import cli_actor, domain_errors, record
from opendpo.cli.state import CliState, pass_state
from opendpo.errors import NotFound
from opendpo.security import api_keys
from opendpo.security.api_keys import ApiKey
from opendpo.security.audit import as_utc
from opendpo.security.roles import API_KEY_SCOPES

SCOPES = sorted(scope.value for scope in API_KEY_SCOPES)


@click.group()
def apikeys() -> None:
    """API keys for systems: create (the token is shown once), list, revoke."""


def _audit(state: CliState, session: Session, action: str, key: ApiKey) -> None:
    record(
        state,
        session,
        action,
        target_kind="api_key",
        target_id=key.id,
        details={"name": key.name, "scopes": list(key.scopes)},
    )


@apikeys.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(SCOPES),
    help="What the key may do; repeat for several.",
)
@pass_state
def create_command(state: CliState, name: str, scopes: tuple[str, ...]) -> None:
    """Create an API key called NAME and print its token (shown only this once)."""
    with state.session() as session, domain_errors():
        key, token = api_keys.create_key(
            session=session, name=name, scopes=scopes, created_by=cli_actor().id or "cli"
        )
        _audit(state, session, "api_key.created", key)
    click.echo(f"created API key {key.id} ({', '.join(key.scopes)}); its token, shown only once:")
    click.echo(token)


def _moment(value: dt.datetime | None) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


@apikeys.command("list")
@pass_state
def list_command(state: CliState) -> None:
    """List API keys, newest first (never their tokens, which are not stored)."""
    table = Table("id", "name", "scopes", "created", "last used", "revoked")
    with state.session() as session:
        for key in api_keys.list_keys(session=session):
            table.add_row(
                key.id,
                key.name,
                ", ".join(key.scopes),
                _moment(key.created_at),
                _moment(key.last_used_at) or "never",
                _moment(key.revoked_at),
            )
    Console().print(table)


@apikeys.command("revoke")
@click.argument("key_id", metavar="ID")
@pass_state
def revoke_command(state: CliState, key_id: str) -> None:
    """Revoke the API key ID: requests made with it are refused from now on."""
    with state.session() as session, domain_errors():
        key = session.get(ApiKey, key_id)
        if key is None:
            raise NotFound("API key", key_id)
        if key.revoked_at is not None:
            click.echo(f"API key {key_id} was already revoked at {_moment(key.revoked_at)}")
            return
        api_keys.revoke_key(session=session, key_id=key_id)
        _audit(state, session, "api_key.revoked", key)
    click.echo(f"revoked API key {key_id} ({key.name})")
