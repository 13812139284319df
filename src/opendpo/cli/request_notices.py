"""`opendpo requests notices`: the recipients told of a request's change (UK GDPR Art 19).

Staff close each notice with `opendpo requests answer REF STEP` once the recipient is told;
the person may ask which recipients were told, and this is the list to answer from.
"""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from opendpo.cli.operator import domain_errors
from opendpo.cli.requests import requests_group
from opendpo.cli.state import CliState, pass_state
from opendpo.execution.notices import notices_of
from opendpo.rights.handling import get_request


@requests_group.command("notices")
@click.argument("key", metavar="REF")
@pass_state
def notices_command(state: CliState, key: str) -> None:
    """The recipients told of the request's change (Art 19): categories, never values."""
    with domain_errors(), state.session() as session:
        request = get_request(session=session, key=key)
        found = notices_of(session=session, request=request)
    if not found:
        click.echo(f"{request.reference}: no recipient to tell")
        return
    table = Table("step", "recipient", "categories changed", "emailed", "status", "answer")
    for notice in found:
        table.add_row(
            str(notice.seq),
            notice.name,
            ", ".join(notice.categories),
            "yes" if notice.emailed else "no",
            notice.status,
            notice.answer or "",
        )
    Console(width=120).print(table)
    click.echo(f"close a notice once the recipient is told: `opendpo requests answer {key} STEP`")
