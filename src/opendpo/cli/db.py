"""`opendpo db`: create and upgrade OpenDPO's own store."""

from __future__ import annotations

import click

from opendpo.cli.state import CliState, pass_state
from opendpo.store.migrate import current_revision, head_revision, upgrade


@click.group()
def db() -> None:
    """OpenDPO's own store: create it and keep its schema current."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target migration.")
@pass_state
def upgrade_command(state: CliState, revision: str) -> None:
    """Create the store or bring its schema up to date (safe to run again)."""
    engine = state.engine()
    before = current_revision(engine)
    upgrade(engine, revision)
    after = current_revision(engine)
    url = engine.url.render_as_string(hide_password=True)
    if before == after:
        click.echo(f"{url}: already at revision {after}")
    else:
        click.echo(f"{url}: upgraded from {before or 'empty'} to {after}")


@db.command("status")
@pass_state
def status_command(state: CliState) -> None:
    """Show the store's schema revision and whether it is current; exit 1 if behind."""
    engine = state.engine()
    current, head = current_revision(engine), head_revision(engine)
    click.echo(f"current revision: {current or 'none (run `opendpo db upgrade`)'}")
    click.echo(f"latest revision:  {head}")
    if current != head:
        raise SystemExit(1)
