"""`opendpo settings`: every setting with its variable, value, default and help."""

from __future__ import annotations

import click
from pydantic import SecretStr
from rich.console import Console
from rich.table import Column, Table

from opendpo.cli.state import CliState, pass_state
from opendpo.settings import Settings


@click.command("settings")
@pass_state
def settings_command(state: CliState) -> None:
    """List settings (OPENDPO_* variables) with current values; secrets are hidden."""
    current = state.settings()
    table = Table("value", "default", "help")
    table.columns.insert(0, Column("variable", no_wrap=True))
    for name, info in Settings.model_fields.items():
        value = getattr(current, name)
        default = info.default
        shown = (
            "(set)"
            if isinstance(value, SecretStr)
            else "(not set)"
            if value is None
            else str(value)
        )
        shown_default = "(demo secret)" if isinstance(default, SecretStr) else str(default)
        table.add_row(f"OPENDPO_{name.upper()}", shown, shown_default, info.description or "")
    Console(width=140).print(table)
